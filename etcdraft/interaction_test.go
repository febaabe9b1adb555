package etcdraft_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cockroachdb/datadriven"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/rafttest"

	"github.com/raftlog/raftlog/etcdraft"
)

// TestInteraction runs etcd raft's own datadriven interaction scripts
// (testdata/*.txt of the go.etcd.io/raft/v3 module, read from the module
// cache) with every node's storage an etcdraft.Storage in its own
// directory, in place of the MemoryStorage the harness creates.
//
// The substitution goes through the harness: InteractionOpts.OnConfig
// replaces cfg.Storage before the RawNode is built (copying the bootstrap
// snapshot the harness applied to its MemoryStorage), and after each
// add-nodes command the new env.Nodes[i].Storage is pointed at the same
// object, so the RawNode and the harness's Ready handling (SetHardState,
// Append, ApplySnapshot, Compact, raft-log) use one store.
//
// The harness's MemoryStorage answers Snapshot() with the newest state of
// its "appender" state machine (Node.History), not with what the storage
// holds. The application plays that part here, as a real one would: when
// raft asks for a snapshot, the newest History state is recorded with
// CreateSnapshot, and the Storage's Snapshot() answers.
func TestInteraction(t *testing.T) {
	dir := moduleDir(t, "go.etcd.io/raft/v3")
	scripts, err := filepath.Glob(filepath.Join(dir, "testdata", "*.txt"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no interaction scripts in %s/testdata (%v)", dir, err)
	}
	for _, path := range scripts {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			h := &harness{t: t}
			h.env = rafttest.NewInteractionEnv(&rafttest.InteractionOpts{
				OnConfig:                     h.onConfig,
				SetRandomizedElectionTimeout: setRandomizedElectionTimeout,
			})
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				t.Helper()
				before := len(h.env.Nodes)
				out := h.env.Handle(t, *d)
				for i := before; i < len(h.env.Nodes); i++ {
					h.env.Nodes[i].Storage = h.stores[i]
				}
				return out
			})
			if len(h.stores) == 0 {
				t.Fatal("the script added no node: nothing ran on etcdraft.Storage")
			}
		})
	}
}

// harness creates one etcdraft.Storage per node of an InteractionEnv.
type harness struct {
	t      *testing.T
	env    *rafttest.InteractionEnv
	stores []*appStorage
}

// appStorage is a node's Storage plus the application's side of
// Snapshot (see TestInteraction).
type appStorage struct {
	*etcdraft.Storage
	env *rafttest.InteractionEnv
	idx int
}

var _ rafttest.Storage = (*appStorage)(nil)

// Snapshot records the node's newest state-machine state as a snapshot
// when it is newer than the stored one, then returns the stored one.
func (s *appStorage) Snapshot() (*pb.Snapshot, error) {
	hist := s.env.Nodes[s.idx].History
	want := hist[len(hist)-1]
	cur, err := s.Storage.Snapshot()
	if err != nil {
		return nil, err
	}
	if want.GetMetadata().GetIndex() > cur.GetMetadata().GetIndex() {
		m := want.GetMetadata()
		if _, err := s.CreateSnapshot(m.GetIndex(), m.GetConfState(), want.GetData()); err != nil {
			return nil, err
		}
	}
	return s.Storage.Snapshot()
}

// onConfig opens the node's Storage and moves into it whatever the harness
// already put into the MemoryStorage it made (the bootstrap snapshot).
func (h *harness) onConfig(cfg *raft.Config) {
	t := h.t
	idx := int(cfg.ID - 1)
	if idx != len(h.stores) {
		t.Fatalf("node %d configured out of order (%d stores)", cfg.ID, len(h.stores))
	}
	s, err := etcdraft.Open(filepath.Join(t.TempDir(), fmt.Sprintf("node%d", cfg.ID)), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	mem := harnessMemoryStorage(t, cfg.Storage)
	snap, err := mem.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			t.Fatal(err)
		}
	}
	if last, _ := mem.LastIndex(); last != snap.GetMetadata().GetIndex() {
		t.Fatalf("node %d: the harness's storage holds entries up to %d beyond its snapshot: not copied", cfg.ID, last)
	}
	as := &appStorage{Storage: s, env: h.env, idx: idx}
	h.stores = append(h.stores, as)
	cfg.Storage = as
}

// harnessMemoryStorage unwraps the *raft.MemoryStorage that AddNodes puts
// inside its snapshot-overriding wrapper (an unexported struct embedding
// rafttest.Storage). Its own Snapshot cannot be called yet: the override
// reads env.Nodes, which does not hold the node being configured.
func harnessMemoryStorage(t *testing.T, s raft.Storage) *raft.MemoryStorage {
	t.Helper()
	if m, ok := s.(*raft.MemoryStorage); ok {
		return m
	}
	v := reflect.ValueOf(s)
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Storage"); f.IsValid() && f.CanInterface() {
			if m, ok := f.Interface().(*raft.MemoryStorage); ok {
				return m
			}
		}
	}
	t.Fatalf("cannot find the harness's MemoryStorage in %T: rafttest changed", s)
	return nil
}

// setRandomizedElectionTimeout does what raft's test-only export of the
// same name (raft_test.go, not importable) does: it sets the unexported
// raft.randomizedElectionTimeout of a RawNode's raft.
func setRandomizedElectionTimeout(rn *raft.RawNode, timeout int) {
	r := reflect.ValueOf(rn).Elem().FieldByName("raft")
	f := r.Elem().FieldByName("randomizedElectionTimeout")
	if !f.IsValid() || f.Kind() != reflect.Int {
		panic("raft.randomizedElectionTimeout not found: go.etcd.io/raft/v3 changed")
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetInt(int64(timeout))
}

// moduleDir returns the source directory of a module in the build list,
// as the go command reports it.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(dir); dir == "" || err != nil {
		t.Fatalf("module %s not in the module cache (run go mod download): %q %v", path, dir, err)
	}
	return dir
}
