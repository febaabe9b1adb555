// Package raftnet connects the hashicorp/raft nodes of one process over
// loopback TCP, for the example cluster (examples/cluster) and the
// hashiraft cluster tests: each node listens on a free port, which
// changes when it restarts, and a Book resolves server IDs to their
// current address. A deployment with fixed addresses needs none of this.
//
//	book := raftnet.NewBook()
//	trans, err := book.Listen("node0", logger)
//	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
//
// A Book is safe for concurrent use.
package raftnet

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Book maps server IDs to their current address. It is a
// raft.ServerAddressProvider.
type Book struct {
	mu    sync.Mutex
	addrs map[raft.ServerID]raft.ServerAddress
}

// NewBook returns an empty Book.
func NewBook() *Book { return &Book{addrs: map[raft.ServerID]raft.ServerAddress{}} }

// ServerAddr returns id's address, or an error for an ID never listened
// for.
func (b *Book) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown server %s", id)
}

// Listen starts a TCP transport for server id on a free loopback port
// (a pool of 3 connections per peer, 5 s I/O timeout, logging to logger),
// resolving peers through b, and records its address under id.
func (b *Book) Listen(id raft.ServerID, logger hclog.Logger) (*raft.NetworkTransport, error) {
	trans, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
		ServerAddressProvider: b,
		Logger:                logger,
		MaxPool:               3,
		Timeout:               5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.addrs[id] = trans.LocalAddr()
	b.mu.Unlock()
	return trans, nil
}
