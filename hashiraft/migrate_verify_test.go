package hashiraft_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
)

// TestVerifyMigrationMismatch changes the source after a migration in
// each way VerifyMigration must notice, and checks that it names the
// entry or key.
func TestVerifyMigrationMismatch(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, src *raft.InmemStore)
		want   string
	}{
		{"data", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			l := mkLog(7, 1)
			l.Data = []byte("changed")
			must(t, src.StoreLog(l))
		}, "entry 7: Data differs"},
		{"term", func(t *testing.T, src *raft.InmemStore) { t.Helper(); must(t, src.StoreLog(mkLog(9, 2))) }, "entry 9: Term differs"},
		{"extensions", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			l := mkLog(3, 1)
			l.Extensions = nil
			must(t, src.StoreLog(l))
		}, "entry 3: Extensions differs"},
		{"type", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			l := mkLog(4, 1)
			l.Type = raft.LogNoop
			must(t, src.StoreLog(l))
		}, "entry 4: Type differs"},
		{"appended at", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			l := mkLog(5, 1)
			l.AppendedAt = l.AppendedAt.Add(1)
			must(t, src.StoreLog(l))
		}, "entry 5: AppendedAt differs"},
		{"one more entry", func(t *testing.T, src *raft.InmemStore) { t.Helper(); must(t, src.StoreLog(mkLog(21, 1))) }, "the copy holds entries [1, 20], the source [1, 21]"},
		{"term key", func(t *testing.T, src *raft.InmemStore) { t.Helper(); must(t, src.SetUint64([]byte("CurrentTerm"), 8)) }, `key "CurrentTerm": the copy has 7, the source 8`},
		{"vote key", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			must(t, src.Set([]byte("LastVoteCand"), []byte("n22")))
		}, `key "LastVoteCand": the copy has 2 bytes, the source 3 bytes`},
		{"new key", func(t *testing.T, src *raft.InmemStore) {
			t.Helper()
			must(t, src.SetUint64([]byte("LastVoteTerm"), 7))
		}, `key "LastVoteTerm": the copy has nothing, the source 7`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := raft.NewInmemStore()
			must(t, src.StoreLogs(mkLogs(1, 20, 1)))
			must(t, src.SetUint64([]byte("CurrentTerm"), 7))
			must(t, src.Set([]byte("LastVoteCand"), []byte("n2")))
			dst, dir := openStore(t, "")
			must(t, hashiraft.Migrate(ctx, dst, src, src, hashiraft.MigrateOptions{}))
			dst = reopen(t, dst, dir)
			must(t, hashiraft.VerifyMigration(ctx, dst, src, src, hashiraft.MigrateOptions{}))
			tc.change(t, src)
			err := hashiraft.VerifyMigration(ctx, dst, src, src, hashiraft.MigrateOptions{})
			if !errors.Is(err, hashiraft.ErrMigrationMismatch) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyMigration = %v, want ErrMigrationMismatch naming %q", err, tc.want)
			}
		})
	}
}

// TestVerifyMigrationCanceled: a done context stops the comparison.
func TestVerifyMigrationCanceled(t *testing.T) {
	src := raft.NewInmemStore()
	must(t, src.StoreLogs(mkLogs(1, 10, 1)))
	dst, _ := openStore(t, "")
	must(t, hashiraft.Migrate(context.Background(), dst, src, src, hashiraft.MigrateOptions{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hashiraft.VerifyMigration(ctx, dst, src, src, hashiraft.MigrateOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyMigration = %v, want context.Canceled", err)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
