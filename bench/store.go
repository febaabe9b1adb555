package bench

import (
	"fmt"
	"sort"
	"strings"
)

// Entry is one log entry as the harness hands it to a store. Indexes are
// consecutive and start at 1; every entry has Term 1.
type Entry struct {
	Index   uint64
	Term    uint64
	Payload []byte
}

// OpenOptions says how a workload wants a store opened.
type OpenOptions struct {
	// NoSync: Append need not wait for durability; Sync makes everything
	// appended so far durable. False: Append returns once its entries are
	// on stable storage.
	NoSync bool
}

// Store is the harness's view of one Raft log store. A Store is used by one
// writer goroutine; Get, Purge and Close may also be called from one other
// goroutine (W6's purger) where the underlying store allows it.
type Store interface {
	// Append stores entries whose indexes follow the last one. Unless the
	// store was opened with NoSync it returns once they are durable.
	Append(entries []Entry) error
	// Sync makes every appended entry durable.
	Sync() error
	// Get returns the payload at index. The slice may be reused by the next
	// Get on the same Store.
	Get(index uint64) ([]byte, error)
	// Purge removes every entry with index <= upto.
	Purge(upto uint64) error
	// Close closes the store (making its contents durable).
	Close() error
}

// AsyncStore is a Store with an asynchronous, group-committed flush: W2's
// native path.
type AsyncStore interface {
	Store
	// AppendFlush appends e and requests a flush without waiting for it.
	// done runs once e is durable, on another goroutine, in call order.
	AppendFlush(e Entry, done func(error)) error
}

// Driver opens one kind of store.
type Driver struct {
	// Name is the store's name in flags and results ("raftwal").
	Name string
	// Module is the library and version the driver runs.
	Module string
	// Open opens (creating if needed) the store in dir, which exists.
	Open func(dir string, o OpenOptions) (Store, error)
	// Cannot maps a workload ID ("W4") to the reason this store cannot run it.
	Cannot map[string]string
	// Adapted maps a workload ID to how the workload was adapted to this
	// store; it becomes part of the result's note.
	Adapted map[string]string
	// MaxReopenBytes, if set, caps the payload of the log this store
	// builds for W5 below Config.PeerReopenBytes.
	MaxReopenBytes int64
}

var drivers = map[string]*Driver{}

// register adds d to the driver registry. It is called from init functions.
func register(d *Driver) {
	if _, dup := drivers[d.Name]; dup {
		panic("bench: driver " + d.Name + " registered twice")
	}
	drivers[d.Name] = d
}

// StoreNames returns the registered store names in the canonical order:
// mmaplog first, then the peers.
func StoreNames() []string {
	order := map[string]int{"mmaplog": 0, "raftwal": 1, "boltdb": 2, "tidwall": 3, "etcdwal": 4}
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, iok := order[names[i]]
		oj, jok := order[names[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return names[i] < names[j]
	})
	return names
}

// LookupDriver returns the driver registered under name.
func LookupDriver(name string) (*Driver, error) {
	d, ok := drivers[name]
	if !ok {
		return nil, fmt.Errorf("bench: unknown store %q (have %s)", name, strings.Join(StoreNames(), ", "))
	}
	return d, nil
}
