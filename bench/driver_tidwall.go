package bench

import (
	"fmt"

	"github.com/tidwall/wal"
)

func init() {
	register(&Driver{
		Name:   "tidwall",
		Module: "github.com/tidwall/wal v1.2.1",
		Open:   openTidwall,
		Adapted: map[string]string{
			"W2": "no async flush: synced WriteBatch of 64",
			"W3": "NoSync option, Sync at the end",
			"W4": "Read loads whole 20 MB segments into an LRU of 2",
			"W6": "purge is TruncateFront, which rewrites the first kept segment",
		},
	})
}

type tidwallStore struct {
	l     *wal.Log
	batch wal.Batch
}

func openTidwall(dir string, o OpenOptions) (Store, error) {
	opts := *wal.DefaultOptions
	opts.NoSync = o.NoSync
	l, err := wal.Open(dir, &opts)
	if err != nil {
		return nil, fmt.Errorf("bench: tidwall open %s: %w", dir, err)
	}
	return &tidwallStore{l: l}, nil
}

func (s *tidwallStore) Append(entries []Entry) error {
	s.batch.Clear()
	for _, e := range entries {
		s.batch.Write(e.Index, e.Payload)
	}
	return s.l.WriteBatch(&s.batch)
}

func (s *tidwallStore) Sync() error { return s.l.Sync() }

func (s *tidwallStore) Get(index uint64) ([]byte, error) { return s.l.Read(index) }

func (s *tidwallStore) Purge(upto uint64) error {
	first, err := s.l.FirstIndex()
	if err != nil {
		return err
	}
	if upto < first {
		return nil
	}
	return s.l.TruncateFront(upto + 1)
}

func (s *tidwallStore) Close() error { return s.l.Close() }
