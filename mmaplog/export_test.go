package mmaplog

import (
	"context"
	"time"
)

// WithLogUID returns opts that give a new log the identity uid instead of
// a random one, so that its bytes are reproducible (golden tests).
func WithLogUID(opts Options, uid uint64) Options {
	opts.uid = uid
	return opts
}

// WithLazyReady returns opts whose Open leaves proving the open segment's
// slots and marking its index open to the first write or lookup that
// needs it, instead of starting on it in the background.
func WithLazyReady(opts Options) Options {
	opts.lazyReady = true
	return opts
}

// VerifyClock is what Verify's pacing needs of time.
type VerifyClock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// WithVerifyClock returns opts whose reads are paced by c instead of the
// real clock.
func WithVerifyClock(opts VerifyOptions, c VerifyClock) VerifyOptions {
	opts.clock = c
	return opts
}

// VerifyChunk is the size of the verifier's reads.
const VerifyChunk = verifyChunk

// SyncSlice is the time slice a thread asks for while it waits on a group
// sync.
const SyncSlice = syncSlice

// MaxAfterSync is how many writes after a sync go through the file.
const MaxAfterSync = maxAfterSync
