package main

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
)

// kvFSM is the replicated state machine: a string map. A command is
// "key=value".
type kvFSM struct {
	mu sync.Mutex
	m  map[string]string
}

func newKVFSM() *kvFSM { return &kvFSM{m: map[string]string{}} }

// Apply runs a committed command on this node.
func (f *kvFSM) Apply(l *raft.Log) any {
	k, v, ok := strings.Cut(string(l.Data), "=")
	if !ok {
		return errors.New("command is not key=value")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[k] = v
	return nil
}

// Get reads a key from this node's copy of the state.
func (f *kvFSM) Get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[k]
	return v, ok
}

// Len returns the number of keys on this node.
func (f *kvFSM) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// Snapshot captures the state so raft can compact the log behind it.
func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return kvSnapshot(maps.Clone(f.m)), nil
}

// Restore replaces the state with a snapshot.
func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = m
	return nil
}

type kvSnapshot map[string]string

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]string(s)); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (kvSnapshot) Release() {}
