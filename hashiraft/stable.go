package hashiraft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrKeyNotFound is returned by Get and GetUint64 for a key that was never
// set. Its text is exactly "not found": hashicorp/raft compares error text,
// not identity, so it carries no package prefix.
var ErrKeyNotFound = errors.New("not found")

// errBadStable reports a stable-store blob that does not decode.
var errBadStable = errors.New("hashiraft: bad stable store data")

// Stable store format, stored as the mmaplog user data blob. Replaced whole
// on every Set. Part of the on-disk format; do not change.
//
//	+---------+---------------+----------------------------------------------+
//	| version | count uvarint | count × (key len uvarint, key, val len       |
//	| 1 byte  |               |          uvarint, val), keys in byte order   |
//	+---------+---------------+----------------------------------------------+
//
// Empty user data (a new log) is an empty stable store.
const stableV1 = 1

// kv is an immutable snapshot of the stable store. A Set builds a new one.
type kv map[string][]byte

func encodeStable(m kv) []byte {
	keys := slices.Sorted(maps.Keys(m))
	n := 1 + binary.MaxVarintLen64
	for _, k := range keys {
		n += 2*binary.MaxVarintLen64 + len(k) + len(m[k])
	}
	b := make([]byte, 0, n)
	b = append(b, stableV1)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(m[k])))
		b = append(b, m[k]...)
	}
	return b
}

func decodeStable(b []byte) (kv, error) {
	m := kv{}
	if len(b) == 0 {
		return m, nil
	}
	if b[0] != stableV1 {
		return nil, fmt.Errorf("%w: unknown version %d", errBadStable, b[0])
	}
	b = b[1:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad key count", errBadStable)
	}
	b = b[k:]
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, true
	}
	for i := range count {
		key, ok1 := field()
		val, ok2 := field()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: key %d of %d truncated", errBadStable, i, count)
		}
		m[string(key)] = bytes.Clone(val)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadStable, len(b))
	}
	return m, nil
}

// Set stores val under key, implementing raft.StableStore. The whole stable
// store is rewritten as the log's user data and synced: the value is durable
// when Set returns.
func (s *Store) Set(key []byte, val []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	s.mu.Lock()
	m := maps.Clone(*s.stable.Load())
	m[string(key)] = bytes.Clone(val)
	if err := s.log.SaveUserData(encodeStable(m)); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("hashiraft: set %q: %w", key, err)
	}
	s.stable.Store(&m)
	s.mu.Unlock()
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("hashiraft: set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value stored under key, implementing
// raft.StableStore. A key never set returns ErrKeyNotFound ("not found").
// Get never waits for the disk.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	v, ok := (*s.stable.Load())[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return append([]byte{}, v...), nil
}

// SetUint64 stores val under key as 8 big-endian bytes, implementing
// raft.StableStore. Set and SetUint64 share one key space.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key, implementing
// raft.StableStore. A key never set returns ErrKeyNotFound ("not found"); a
// value that is not 8 bytes long is an error.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	v, ok := (*s.stable.Load())[string(key)]
	if !ok {
		return 0, ErrKeyNotFound
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("hashiraft: key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
