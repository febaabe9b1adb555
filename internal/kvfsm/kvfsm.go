// Package kvfsm is the replicated key-value state machine that the
// hashicorp/raft example and the hashiraft cluster tests run: a string
// map whose commands are "key=value", with JSON snapshots. It is safe for
// concurrent use.
package kvfsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"

	"github.com/hashicorp/raft"
)

// FSM is a raft.FSM over a string map.
type FSM struct {
	mu       sync.Mutex
	m        map[string]string
	applied  uint64
	restores int
}

// New returns an empty FSM.
func New() *FSM { return &FSM{m: map[string]string{}} }

// Apply runs a committed "key=value" command.
func (f *FSM) Apply(l *raft.Log) any {
	k, v, ok := bytes.Cut(l.Data, []byte("="))
	if !ok {
		return fmt.Errorf("kvfsm: command %q is not key=value", l.Data)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[string(k)] = string(v)
	f.applied = l.Index
	return nil
}

// Get reads a key from this node's copy of the state.
func (f *FSM) Get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[k]
	return v, ok
}

// Len is the number of keys.
func (f *FSM) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// State is a copy of the whole map.
func (f *FSM) State() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.m)
}

// Applied is the index of the last command applied.
func (f *FSM) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// Restores counts the snapshots restored.
func (f *FSM) Restores() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

// Snapshot captures the state so raft can compact the log behind it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return snapshot(maps.Clone(f.m)), nil
}

// Restore replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = m
	f.restores++
	return nil
}

type snapshot map[string]string

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]string(s)); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (snapshot) Release() {}
