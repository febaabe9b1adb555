// Package peerjson is the JSON that mkpeer reads from its standard input
// and the raftlog CLI's migration tests write: what to put in a store of
// a peer library (see cmd/raftlog/internal/mkpeer).
package peerjson

import "github.com/hashicorp/raft"

// Store is one store's contents: Logs are stored 100 per StoreLogs, then
// the range Delete [min, max] (when set) is deleted, then the keys are
// set.
type Store struct {
	Logs   []*raft.Log       `json:"logs"`
	Delete []uint64          `json:"delete"`
	Uint64 map[string]uint64 `json:"uint64"`
	Keys   map[string]string `json:"keys"`
}
