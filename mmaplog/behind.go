package mmaplog

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/vfs"
)

// Write-behind (Options.WriteBehind): when a segment that the writer
// leaves at a rotation holds at least WriteBehind bytes not yet handed to
// a sync, the flusher starts writing them back (vfs.WriteBehinder) while
// the writer fills the next segment. Nothing becomes durable by it and
// nothing waits for it: it only moves the write-back that the next sync
// would otherwise do all at once to where the disk is idle. A log synced
// often (Raft's) hands its bytes to syncs first and never asks.

// writeBehind asks for the write-back of [l.handed, hi) of segment s, the
// open segment being rotated out, when that is at least
// Options.WriteBehind bytes. Call with wmu held, before the rotation
// resets l.handed.
func (l *Log) writeBehind(s *segment, hi int64) {
	lo := l.handed
	if hi-lo < int64(l.opts.WriteBehind) || l.noBehind.Load() {
		return
	}
	f := &l.fl
	f.mu.Lock()
	f.pending.behind = append(f.pending.behind, syncRange{s, lo, hi})
	kick := !f.kicked
	f.kicked = true
	f.mu.Unlock()
	if kick {
		f.wake()
	}
}

// onlyBehind reports whether w holds write-behind ranges and nothing else.
func (w *work) onlyBehind() bool {
	return len(w.behind) > 0 && len(w.ranges) == 0 && len(w.seals) == 0 && len(w.removes) == 0 && !w.dir && len(w.cbs) == 0
}

// startWriteback starts the write-back of w's write-behind ranges, on the
// flusher goroutine. A file system that cannot turns write-behind off for
// the Log; any other error fails the Log: pages whose write-back failed
// may be clean in the page cache without being on the disk.
func (f *flusher) startWriteback(w *work) {
	l := f.l
	for _, r := range w.behind {
		wb, ok := r.seg.file.(vfs.WriteBehinder)
		if !ok {
			l.noBehind.Store(true)
			return
		}
		err := wb.StartWriteback(r.lo, r.hi-r.lo)
		if errors.Is(err, vfs.ErrNoWriteBehind) {
			l.noBehind.Store(true)
			l.logger.Warn("mmaplog: the file system cannot start a write-back early; Options.WriteBehind is off", "err", err)
			return
		}
		if err != nil {
			_ = l.fail(fmt.Errorf("mmaplog: write-behind %s [%d, %d): %w", r.seg.path, r.lo, r.hi, err))
			return
		}
		l.writtenBehind.Add(r.hi - r.lo)
	}
}
