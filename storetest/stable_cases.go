package storetest

import (
	"bytes"
	"fmt"
	"math"
	"sync"

	"github.com/hashicorp/raft"
)

// sc is a stable store case's test.
type sc struct{ *tc[raft.StableStore] }

func (c *sc) set(s raft.StableStore, key, val []byte) {
	c.Helper()
	if err := s.Set(key, val); err != nil {
		c.Fatalf("Set(%q): %v", key, err)
	}
}

func (c *sc) setUint64(s raft.StableStore, key []byte, val uint64) {
	c.Helper()
	if err := s.SetUint64(key, val); err != nil {
		c.Fatalf("SetUint64(%q): %v", key, err)
	}
}

func (c *sc) checkGet(s raft.StableStore, key, want []byte) {
	c.Helper()
	got, err := s.Get(key)
	if err != nil {
		c.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		c.Fatalf("Get(%q) = %q, want %q", key, clip(got), clip(want))
	}
}

func (c *sc) checkUint64(s raft.StableStore, key []byte, want uint64) {
	c.Helper()
	got, err := s.GetUint64(key)
	if err != nil || got != want {
		c.Fatalf("GetUint64(%q) = %d, %v; want %d", key, got, err, want)
	}
}

// checkMissingKey asserts what hashicorp/raft accepts for a key never set
// (NewRaft, HasExistingState and vote handling): an error whose text is
// exactly "not found", or no error and a zero value. Any other error stops
// raft from starting or from granting votes.
func (c *sc) checkMissingKey(s raft.StableStore, key []byte) {
	c.Helper()
	v, err := s.Get(key)
	if err != nil && err.Error() != "not found" {
		c.Fatalf("Get(%q) of a missing key = %v; raft wants the text \"not found\" (or no error)", key, err)
	}
	if len(v) != 0 {
		c.Fatalf("Get(%q) of a missing key = %q", key, v)
	}
	u, err := s.GetUint64(key)
	if err != nil && err.Error() != "not found" {
		c.Fatalf("GetUint64(%q) of a missing key = %v; raft wants the text \"not found\" (or no error)", key, err)
	}
	if u != 0 {
		c.Fatalf("GetUint64(%q) of a missing key = %d", key, u)
	}
}

// raftKeys are the keys hashicorp/raft writes.
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
	keyLastVoteCand = []byte("LastVoteCand")
)

// stableCases are the stable store cases, in order.
var stableCases = []testCase[*sc]{
	{"missing-key", "Get and GetUint64 of a key never set: error text exactly \"not found\", or a zero value and no error", func(c *sc) {
		s := c.newStore()
		for _, k := range [][]byte{keyCurrentTerm, keyLastVoteCand, []byte("x")} {
			c.checkMissingKey(s, k)
		}
		c.set(s, []byte("other"), []byte("v"))
		c.checkMissingKey(s, keyLastVoteTerm)
	}},
	{"set-get", "Set then Get returns the value; a second Set replaces it; keys are independent", func(c *sc) {
		s := c.newStore()
		c.set(s, keyLastVoteCand, []byte("node-1"))
		c.set(s, []byte("a"), []byte("1"))
		c.checkGet(s, keyLastVoteCand, []byte("node-1"))
		c.set(s, keyLastVoteCand, []byte("node-22"))
		c.checkGet(s, keyLastVoteCand, []byte("node-22"))
		c.checkGet(s, []byte("a"), []byte("1"))
	}},
	{"set-uint64", "SetUint64 then GetUint64 returns 0, 1 and the largest uint64; a second SetUint64 replaces", func(c *sc) {
		s := c.newStore()
		for _, v := range []uint64{0, 1, math.MaxUint64, 7} {
			c.setUint64(s, keyCurrentTerm, v)
			c.checkUint64(s, keyCurrentTerm, v)
		}
	}},
	{"set-empty-value", "Set of an empty value reads back empty, without an error", func(c *sc) {
		s := c.newStore()
		c.set(s, keyLastVoteCand, []byte{})
		c.checkGet(s, keyLastVoteCand, nil)
	}},
	{"binary-keys-and-values", "keys and values with zero bytes, and a 64 KiB value, read back exactly", func(c *sc) {
		s := c.newStore()
		k, v := []byte{0, 1, 0, 2}, bytes.Repeat([]byte{0, 0xff}, 32<<10)
		c.set(s, k, v)
		c.set(s, []byte{0}, []byte{0})
		c.checkGet(s, k, v)
		c.checkGet(s, []byte{0}, []byte{0})
	}},
	{"get-owned", "the slice Get returns belongs to the caller, and Set keeps no reference to its arguments", func(c *sc) {
		s := c.newStore()
		k, v := []byte("key"), []byte("value")
		c.set(s, k, v)
		v[0] = 'X'
		got, err := s.Get([]byte("key"))
		if err != nil {
			c.Fatalf("Get: %v", err)
		}
		got[0] = 'Y'
		c.checkGet(s, []byte("key"), []byte("value"))
	}},
	{"concurrent", "Set, SetUint64, Get and GetUint64 from 4 goroutines on distinct keys", func(c *sc) {
		s := c.newStore()
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					k := fmt.Appendf(nil, "k%d", g)
					if err := s.Set(k, fmt.Appendf(nil, "v%d", i)); err != nil {
						c.Errorf("Set: %v", err)
						return
					}
					if v, err := s.Get(k); err != nil || string(v) != fmt.Sprintf("v%d", i) {
						c.Errorf("Get(%s) = %q, %v; want v%d", k, v, err, i)
						return
					}
					u := fmt.Appendf(nil, "u%d", g)
					if err := s.SetUint64(u, uint64(i)); err != nil {
						c.Errorf("SetUint64: %v", err)
						return
					}
					if v, err := s.GetUint64(u); err != nil || v != uint64(i) {
						c.Errorf("GetUint64(%s) = %d, %v; want %d", u, v, err, i)
						return
					}
				}
			}()
		}
		wg.Wait()
	}},
	{"reopen", "values survive Close and Open", func(c *sc) {
		s := c.newStore()
		c.setUint64(s, keyCurrentTerm, 9)
		c.set(s, keyLastVoteCand, []byte("node-3"))
		s = c.reopen(s)
		c.checkUint64(s, keyCurrentTerm, 9)
		c.checkGet(s, keyLastVoteCand, []byte("node-3"))
		c.checkMissingKey(s, keyLastVoteTerm)
	}},
	{"crash-after-set", "after Set and SetUint64 return, a kill keeps the values (raft persists its vote before answering)", func(c *sc) {
		s := c.newStore()
		c.setUint64(s, keyLastVoteTerm, 4)
		c.set(s, keyLastVoteCand, []byte("node-2"))
		c.setUint64(s, keyLastVoteTerm, 5)
		k := c.crash(s)
		c.checkUint64(k, keyLastVoteTerm, 5)
		c.checkGet(k, keyLastVoteCand, []byte("node-2"))
	}},
}
