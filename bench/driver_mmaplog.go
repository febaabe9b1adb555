package bench

import (
	"fmt"
	"log/slog"

	"github.com/raftlog/raftlog/mmaplog"
)

func init() {
	register(&Driver{
		Name:   "mmaplog",
		Module: "github.com/raftlog/raftlog/mmaplog (this module)",
		Open:   openMmaplog,
	})
	register(&Driver{
		Name:   "mmaplog-zerofill",
		Module: "github.com/raftlog/raftlog/mmaplog (this module) with Options.ZeroFill",
		Open: func(dir string, o OpenOptions) (Store, error) {
			return openMmaplogWith(dir, o, mmaplog.Options{ZeroFill: true})
		},
	})
}

type mmaplogStore struct {
	l      *mmaplog.Log
	noSync bool
	ents   []mmaplog.Entry
}

func openMmaplog(dir string, o OpenOptions) (Store, error) {
	return openMmaplogWith(dir, o, mmaplog.Options{})
}

func openMmaplogWith(dir string, o OpenOptions, opts mmaplog.Options) (Store, error) {
	opts.Logger = slog.New(slog.DiscardHandler)
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("bench: mmaplog open %s: %w", dir, err)
	}
	return &mmaplogStore{l: l, noSync: o.NoSync}, nil
}

func (s *mmaplogStore) Append(entries []Entry) error {
	s.ents = s.ents[:0]
	for _, e := range entries {
		s.ents = append(s.ents, mmaplog.Entry{ID: mmaplog.LogID{Term: e.Term, Index: e.Index}, Payload: e.Payload})
	}
	if err := s.l.Append(s.ents...); err != nil {
		return err
	}
	if s.noSync {
		return nil
	}
	return s.l.Sync()
}

func (s *mmaplogStore) AppendFlush(e Entry, done func(error)) error {
	s.ents = append(s.ents[:0], mmaplog.Entry{ID: mmaplog.LogID{Term: e.Term, Index: e.Index}, Payload: e.Payload})
	if err := s.l.Append(s.ents...); err != nil {
		return err
	}
	return s.l.Flush(done)
}

func (s *mmaplogStore) Sync() error { return s.l.Sync() }

func (s *mmaplogStore) Get(index uint64) ([]byte, error) {
	e, err := s.l.Get(index)
	return e.Payload, err
}

func (s *mmaplogStore) Purge(upto uint64) error {
	return s.l.Purge(mmaplog.LogID{Term: 1, Index: upto})
}

func (s *mmaplogStore) Close() error { return s.l.Close() }

// groupStats reports the Log's own group syncs since Open (W2's note).
func (s *mmaplogStore) groupStats() groupStats {
	st := s.l.Stats()
	return groupStats{syncs: st.SyncDuration.Count, p50: st.SyncDuration.P50, p99: st.SyncDuration.P99,
		entriesP50: st.GroupEntries.P50, waitP50: st.GroupWait.P50}
}
