package hashiraft

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// verifyProgressEvery is how many entries VerifyMigration compares between
// Progress calls.
const verifyProgressEvery = 4096

// VerifyMigration compares dst with the source Migrate copied it from:
// the same first and last index, every entry field by field (Index, Term,
// Type, Data, Extensions, and AppendedAt as an instant, the one
// normalization Store makes), and every stable key Migrate copies (the
// ones hashicorp/raft writes and opts' extra keys), present in both with
// the same value or missing from both. It reads the entries back from
// dst's files, so pass a Store reopened after Migrate to check what is on
// disk. A difference is an error wrapping ErrMigrationMismatch that names
// the entry or key; a failed read is returned as it is. stable may be nil
// (no keys compared). opts.BatchBytes is ignored.
func VerifyMigration(ctx context.Context, dst *Store, logs raft.LogStore, stable raft.StableStore, opts MigrateOptions) error {
	if err := verifyLogs(ctx, dst, logs, opts.Progress); err != nil {
		return fmt.Errorf("hashiraft: verify migration: %w", err)
	}
	if stable == nil {
		return nil
	}
	if err := verifyStable(ctx, dst, stable, opts); err != nil {
		return fmt.Errorf("hashiraft: verify migration: %w", err)
	}
	return nil
}

func verifyLogs(ctx context.Context, dst *Store, src raft.LogStore, progress func(done, total uint64)) error {
	first, last, err := sourceRange(src)
	if err != nil {
		return err
	}
	dfirst, dlast, err := sourceRange(dst)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if dfirst != first || dlast != last {
		return fmt.Errorf("%w: the copy holds entries [%d, %d], the source [%d, %d]", ErrMigrationMismatch, dfirst, dlast, first, last)
	}
	if first == 0 {
		return nil
	}
	var want, got raft.Log
	for idx := first; idx <= last; idx++ {
		if (idx-first)%verifyProgressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil && idx > first {
				progress(idx-first, last-first+1)
			}
		}
		if err := src.GetLog(idx, &want); err != nil {
			return fmt.Errorf("source log %d: %w", idx, err)
		}
		if err := dst.GetLog(idx, &got); err != nil {
			return fmt.Errorf("copy of log %d: %w", idx, err)
		}
		if field := logDiff(&want, &got); field != "" {
			return fmt.Errorf("%w: entry %d: %s differs", ErrMigrationMismatch, idx, field)
		}
	}
	if progress != nil {
		progress(last-first+1, last-first+1)
	}
	return nil
}

// logDiff names the first field in which a and b differ, "" when none.
// Data and Extensions compare as bytes (hashicorp/raft does not tell nil
// from empty); AppendedAt as an instant.
func logDiff(a, b *raft.Log) string {
	switch {
	case a.Index != b.Index:
		return "Index"
	case a.Term != b.Term:
		return "Term"
	case a.Type != b.Type:
		return "Type"
	case !bytes.Equal(a.Data, b.Data):
		return "Data"
	case !bytes.Equal(a.Extensions, b.Extensions):
		return "Extensions"
	case !a.AppendedAt.Equal(b.AppendedAt):
		return "AppendedAt"
	}
	return ""
}

func verifyStable(ctx context.Context, dst *Store, src raft.StableStore, opts MigrateOptions) error {
	if err := verifyKeys(ctx, dst, src, uint64Kind(opts)); err != nil {
		return err
	}
	return verifyKeys(ctx, dst, src, bytesKind(opts))
}

// verifyKeys checks that dst holds every key of kind as src does (or
// misses it as src does).
func verifyKeys[V any](ctx context.Context, dst, src raft.StableStore, kind stableKind[V]) error {
	for _, k := range kind.keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		want, wok, err := kind.get(src, k)
		if err != nil {
			return err
		}
		got, gok, err := kind.get(dst, k)
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if wok != gok || !kind.equal(want, got) {
			return fmt.Errorf("%w: key %q: the copy has %s, the source %s", ErrMigrationMismatch, k, kind.text(got, gok), kind.text(want, wok))
		}
	}
	return nil
}

func uint64Text(v uint64, ok bool) string {
	if !ok {
		return "nothing"
	}
	return fmt.Sprint(v)
}

func bytesText(v []byte, ok bool) string {
	if !ok {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes", len(v))
}
