package hashiraft

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// The stable keys hashicorp/raft writes (raft.go keyCurrentTerm,
// keyLastVoteTerm, keyLastVoteCand), which Migrate always copies.
var (
	raftUint64Keys = [][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm")}
	raftKeys       = [][]byte{[]byte("LastVoteCand")}
)

// MigrateOptions tunes Migrate. The zero value means defaults.
type MigrateOptions struct {
	// BatchBytes is the approximate number of bytes of log data copied per
	// StoreLogs call (one sync each). Default 4 MiB.
	BatchBytes int
	// ExtraKeys and ExtraUint64Keys name stable keys to copy besides the
	// ones hashicorp/raft itself writes, with Get/Set and
	// GetUint64/SetUint64 respectively. A StableStore cannot list its keys.
	ExtraKeys, ExtraUint64Keys [][]byte
	// Progress, when set, is called with the number of entries done and
	// the total: by Migrate after each batch is durable, by
	// VerifyMigration every few thousand entries and at the end. It runs
	// on the caller's goroutine and must return quickly.
	Progress func(done, total uint64)
}

// ErrMigrationMismatch is returned (wrapped, with the entry or key) by
// VerifyMigration when the copy differs from its source.
var ErrMigrationMismatch = errors.New("hashiraft: migrated copy differs from its source")

// Migrate copies every log entry of logs and the stable keys of stable
// into dst, for switching a node from raft-boltdb or raft-wal (or any
// raft.LogStore and raft.StableStore) to Store. raft-boltdb and raft-wal
// stores are both: pass the same value twice. stable may be nil.
//
// dst must be empty (no entries and no stable keys), and no raft.Raft may be
// using dst or the sources while Migrate runs. The entries keep their
// indexes: dst's FirstIndex becomes the source's. A key missing from the
// source (an error with text "not found", or a nil value from Get) is
// skipped, and so is a uint64 key that reads as 0 while Get finds nothing
// under it (raft-wal returns 0 for a missing uint64 key). Migrate returns
// when everything copied is durable; on error, including ctx being done,
// dst holds a partial copy and should be discarded. VerifyMigration then
// compares the copy with the source.
func Migrate(ctx context.Context, dst *Store, logs raft.LogStore, stable raft.StableStore, opts MigrateOptions) error {
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 4 << 20
	}
	if last, err := dst.LastIndex(); err != nil || last != 0 || len(*dst.stable.Load()) != 0 {
		return errors.Join(errors.New("hashiraft: migrate: destination store is not empty"), err)
	}
	if err := migrateLogs(ctx, dst, logs, opts.BatchBytes, opts.Progress); err != nil {
		return fmt.Errorf("hashiraft: migrate: %w", err)
	}
	if stable != nil {
		if err := migrateStable(ctx, dst, stable, opts); err != nil {
			return fmt.Errorf("hashiraft: migrate: %w", err)
		}
	}
	return nil
}

// sourceRange returns the source's first and last index, both 0 when it
// holds no entry.
func sourceRange(src raft.LogStore) (first, last uint64, err error) {
	if first, err = src.FirstIndex(); err != nil {
		return 0, 0, fmt.Errorf("source first index: %w", err)
	}
	if last, err = src.LastIndex(); err != nil {
		return 0, 0, fmt.Errorf("source last index: %w", err)
	}
	if first == 0 || last < first {
		return 0, 0, nil
	}
	return first, last, nil
}

func migrateLogs(ctx context.Context, dst *Store, src raft.LogStore, batchBytes int, progress func(done, total uint64)) error {
	first, last, err := sourceRange(src)
	if err != nil || first == 0 {
		return err
	}
	var batch []*raft.Log
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.StoreLogs(batch); err != nil {
			return err
		}
		if progress != nil {
			progress(batch[len(batch)-1].Index-first+1, last-first+1)
		}
		batch, size = batch[:0], 0
		return nil
	}
	for idx := first; idx <= last; idx++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		l := new(raft.Log)
		if err := src.GetLog(idx, l); err != nil {
			return fmt.Errorf("source log %d of [%d, %d]: %w", idx, first, last, err)
		}
		batch = append(batch, l)
		size += len(l.Data) + len(l.Extensions) + 32
		if size >= batchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func migrateStable(ctx context.Context, dst *Store, src raft.StableStore, opts MigrateOptions) error {
	if err := copyKeys(ctx, dst, src, uint64Kind(opts)); err != nil {
		return err
	}
	return copyKeys(ctx, dst, src, bytesKind(opts))
}

// copyKeys copies the keys of kind that src holds to dst.
func copyKeys[V any](ctx context.Context, dst, src raft.StableStore, kind stableKind[V]) error {
	for _, k := range kind.keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, ok, err := kind.get(src, k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := kind.set(dst, k, v); err != nil {
			return err
		}
	}
	return nil
}

// stableKind is one kind of stable-store key: the keys a migration
// copies, how a value is read from a store (ok is false when it is
// missing) and written, and how values compare and read in an error.
type stableKind[V any] struct {
	keys  [][]byte
	get   func(s raft.StableStore, k []byte) (v V, ok bool, err error)
	set   func(s raft.StableStore, k []byte, v V) error
	equal func(a, b V) bool
	text  func(v V, ok bool) string
}

// uint64Kind is the uint64 keys: raft's and opts.ExtraUint64Keys.
func uint64Kind(opts MigrateOptions) stableKind[uint64] {
	return stableKind[uint64]{
		keys:  uint64Keys(opts),
		get:   sourceUint64,
		set:   func(s raft.StableStore, k []byte, v uint64) error { return s.SetUint64(k, v) },
		equal: func(a, b uint64) bool { return a == b },
		text:  uint64Text,
	}
}

// bytesKind is the byte-valued keys: raft's and opts.ExtraKeys.
func bytesKind(opts MigrateOptions) stableKind[[]byte] {
	return stableKind[[]byte]{
		keys:  byteKeys(opts),
		get:   sourceBytes,
		set:   func(s raft.StableStore, k []byte, v []byte) error { return s.Set(k, v) },
		equal: bytes.Equal,
		text:  bytesText,
	}
}

func uint64Keys(opts MigrateOptions) [][]byte {
	return append(append([][]byte{}, raftUint64Keys...), opts.ExtraUint64Keys...)
}

func byteKeys(opts MigrateOptions) [][]byte {
	return append(append([][]byte{}, raftKeys...), opts.ExtraKeys...)
}

func isNotFound(err error) bool { return err != nil && err.Error() == "not found" }

// sourceUint64 reads a uint64 key of src; ok is false when it is missing.
func sourceUint64(src raft.StableStore, k []byte) (v uint64, ok bool, err error) {
	v, err = src.GetUint64(k)
	if isNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("source key %q: %w", k, err)
	}
	if v == 0 {
		// raft-wal returns 0, nil for a key never set. A store whose
		// uint64 keys live apart from the others (raft.InmemStore) has
		// Get find nothing either way; 0 and missing mean the same to
		// hashicorp/raft.
		if _, ok, err := sourceBytes(src, k); err != nil || !ok {
			return 0, false, err
		}
	}
	return v, true, nil
}

// sourceBytes reads a key of src; ok is false when it is missing.
func sourceBytes(src raft.StableStore, k []byte) (v []byte, ok bool, err error) {
	v, err = src.Get(k)
	if isNotFound(err) || (err == nil && v == nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("source key %q: %w", k, err)
	}
	return v, true, nil
}
