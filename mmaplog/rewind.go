package mmaplog

import (
	"fmt"
	"runtime/debug"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Rewind restarts an empty log at to: Purged and Last become to, so the
// next Append must be to.Index+1, above to, whatever indexes the log held
// or purged before. Unlike Purge it may move the log's end down. Committed
// becomes the zero LogID when it is above to (it named an entry of the
// history being abandoned); Vote and UserData are kept.
//
// It exists for stores whose contract lets an emptied log take entries at
// any index (hashicorp/raft's LogStore: raft-wal, raft-boltdb and
// InmemStore all accept a batch at index 1 after every entry was deleted),
// which Append alone cannot do once the log was purged.
//
// The log must hold no entry: Last.Index below the first index, as after a
// Truncate or Purge that removed everything (ErrNonConsecutive otherwise).
// to must not be the zero LogID (ErrLogIDReversal): a log that was purged
// must keep a purge point, since its first segment files are gone.
//
// On disk a rewind is one State record holding the new state (replay
// replaces its state with a State record's, as for a Close checkpoint), so
// it needs no recovery rule of its own. It is durable after the next
// completed flush. Segment files that held only entries of the abandoned
// history are deleted by that flush, as after a Purge.
func (l *Log) Rewind(to LogID) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if l.state.Last.Index >= l.first {
		return fmt.Errorf("%w: rewind to %v: the log holds entries %d..%d", ErrNonConsecutive, to, l.first, l.state.Last.Index)
	}
	if to.IsZero() {
		return fmt.Errorf("%w: rewind to the zero LogID", ErrLogIDReversal)
	}
	next := l.state
	next.Last, next.Purged = to, to
	if to.Less(next.Committed) {
		next.Committed = LogID{}
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	// Rotate first if the record does not fit, so that a new segment's
	// snapshot is the state before the rewind (what its predecessor's
	// records replay to); then the record itself.
	cur := l.state
	if err := l.room(format.StateSize(&next), &cur); err != nil {
		return err
	}
	l.wfirst = to.Index + 1
	if err := l.writeState(&next); err != nil {
		l.wfirst = l.first
		return err
	}
	l.mu.Lock()
	l.state = next
	l.first = l.wfirst
	l.dropDeadSegments()
	l.open.pubEnd = l.open.end
	l.rebuildRuns()
	l.mu.Unlock()
	l.nudgePreparer()
	return nil
}

// dropDeadSegments takes the leading segments that hold no live entry out
// of the readers' view and queues them for deletion once the next flush
// has made the state that killed them durable. The open segment stays.
// Call with wmu and mu held, before rebuilding the runs.
func (l *Log) dropDeadSegments() {
	drop := 0
	for drop < len(l.segs)-1 && l.segmentDead(drop) {
		l.todo.removes = append(l.todo.removes, l.segs[drop])
		l.dropped++
		drop++
	}
	if drop > 0 {
		l.segs = append(l.segs[:0], l.segs[drop:]...)
		clear(l.segs[len(l.segs):cap(l.segs)])
	}
}
