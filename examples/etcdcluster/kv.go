package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// kv is the state machine: a map from key to value. A command is the key,
// a zero byte, and the value.
type kv struct {
	mu sync.RWMutex
	m  map[string]string
}

func newKV() *kv { return &kv{m: map[string]string{}} }

func command(key, value string) []byte {
	return append(append([]byte(key), 0), value...)
}

func (s *kv) apply(cmd []byte) error {
	k, v, ok := bytes.Cut(cmd, []byte{0})
	if !ok {
		return fmt.Errorf("bad command %q", cmd)
	}
	s.mu.Lock()
	s.m[string(k)] = string(v)
	s.mu.Unlock()
	return nil
}

func (s *kv) get(key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[key]
	return v, ok
}

func (s *kv) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// snapshot and restore are the snapshot data's encoding (JSON, as
// raftexample).
func (s *kv) snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return json.Marshal(s.m)
}

func (s *kv) restore(data []byte) error {
	m := map[string]string{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
	return nil
}
