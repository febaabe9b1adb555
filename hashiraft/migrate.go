package hashiraft

import (
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
}

// Migrate copies every log entry of logs and the stable keys of stable
// into dst, for switching a node from raft-boltdb or raft-wal (or any
// raft.LogStore and raft.StableStore) to Store. raft-boltdb and raft-wal
// stores are both: pass the same value twice. stable may be nil.
//
// dst must be empty (no entries and no stable keys), and no raft.Raft may be
// using dst or the sources while Migrate runs. The entries keep their
// indexes: dst's FirstIndex becomes the source's. A key missing from the
// source (an error with text "not found", or a nil value from Get) is
// skipped. Migrate returns when everything copied is durable; on error,
// including ctx being done, dst holds a partial copy and should be discarded.
func Migrate(ctx context.Context, dst *Store, logs raft.LogStore, stable raft.StableStore, opts MigrateOptions) error {
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 4 << 20
	}
	if last, err := dst.LastIndex(); err != nil || last != 0 || len(*dst.stable.Load()) != 0 {
		return errors.Join(errors.New("hashiraft: migrate: destination store is not empty"), err)
	}
	if err := migrateLogs(ctx, dst, logs, opts.BatchBytes); err != nil {
		return fmt.Errorf("hashiraft: migrate: %w", err)
	}
	if stable != nil {
		if err := migrateStable(ctx, dst, stable, opts); err != nil {
			return fmt.Errorf("hashiraft: migrate: %w", err)
		}
	}
	return nil
}

func migrateLogs(ctx context.Context, dst *Store, src raft.LogStore, batchBytes int) error {
	first, err := src.FirstIndex()
	if err != nil {
		return fmt.Errorf("source first index: %w", err)
	}
	last, err := src.LastIndex()
	if err != nil {
		return fmt.Errorf("source last index: %w", err)
	}
	if first == 0 || last < first {
		return nil
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
	isNotFound := func(err error) bool { return err != nil && err.Error() == "not found" }
	for _, k := range append(append([][]byte{}, raftUint64Keys...), opts.ExtraUint64Keys...) {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := src.GetUint64(k)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("source key %q: %w", k, err)
		}
		if err := dst.SetUint64(k, v); err != nil {
			return err
		}
	}
	for _, k := range append(append([][]byte{}, raftKeys...), opts.ExtraKeys...) {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := src.Get(k)
		if isNotFound(err) || (err == nil && v == nil) {
			continue
		}
		if err != nil {
			return fmt.Errorf("source key %q: %w", k, err)
		}
		if err := dst.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}
