package mmaplog

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/raftlog/raftlog/internal/format"
)

// remover is the goroutine that deletes purged segment files once their
// purge is durable: a removal and its directory fsync can take
// milliseconds, so they stay off the flusher, whose callbacks writers
// wait for. Close waits for it to finish.
type remover struct {
	l     *Log
	mu    sync.Mutex
	queue []*segment // handed over by the flusher, not yet removed
	waker
}

func (r *remover) start(l *Log) {
	r.l = l
	r.waker.start(r.run)
}

// add queues segments for deletion.
func (r *remover) add(segs []*segment) {
	r.mu.Lock()
	r.queue = append(r.queue, segs...)
	r.mu.Unlock()
	r.wake()
}

// stop removes what is queued (unless the Log failed) and ends the
// goroutine; it returns the segments it did not remove, for Close to
// unmap.
func (r *remover) stop() []*segment {
	r.waker.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	left := r.queue
	r.queue = nil
	return left
}

func (r *remover) run() {
	for {
		quit := r.await()
		for r.l.failure.Load() == nil {
			r.mu.Lock()
			segs := r.queue
			r.queue = nil
			r.mu.Unlock()
			if len(segs) == 0 {
				break
			}
			if err := r.remove(segs); err != nil {
				// No caller waits for a removal: the next write or flush
				// returns the sticky failure, and the log says why now.
				r.l.logger.Error("mmaplog: removing purged segments failed; the log fails closed", "err", r.l.fail(err))
			}
		}
		if quit {
			return
		}
	}
}

// remove deletes purged segments (already out of every reader's view).
// A segment the preparer can reuse is renamed to temporary names instead
// (spareFor): to recovery a file under such a name is a leftover, so the
// rename removes the segment as an unlink would, without freeing its
// blocks (see vfs.FS.Reuse).
func (r *remover) remove(segs []*segment) error {
	l := r.l
	l.mu.Lock()
	for _, s := range segs {
		s.gone = true
	}
	l.mu.Unlock()
	start := time.Now()
	var err error
	for _, s := range segs {
		if cerr := s.close(); cerr != nil {
			l.logger.Warn("mmaplog: close purged segment", "file", s.path, "err", cerr)
		}
		if err != nil {
			continue // unmapped, not removed: Open finds it again
		}
		sp, reuse := l.prep.spareFor(s)
		for k, p := range []string{s.path, filepath.Join(l.dir, format.IndexName(s.id))} {
			if reuse {
				to := []string{sp.seg, sp.idx}[k]
				if err = l.fs.Rename(p, to); err != nil {
					err = fmt.Errorf("move purged %s to %s for reuse: %w", p, to, err)
					break
				}
			} else if err = l.fs.Remove(p); err != nil {
				err = fmt.Errorf("remove purged %s: %w", p, err)
				break
			}
		}
		// One directory fsync per segment, lowest ID first: whatever a
		// crash keeps of these removals is a prefix, never a gap (file
		// systems need not persist unlinks in order).
		if err == nil {
			t := time.Now()
			err = l.fs.SyncDir(l.dir)
			l.met.removedOne(t, err)
		}
		if err != nil {
			// Failed now, not once the rest is closed: a batch the flusher
			// completes from here on acknowledges nothing (flusher.sync).
			_ = l.fail(err)
		}
		if err == nil && reuse {
			l.prep.addSpare(sp)
		}
		if err == nil {
			l.mu.Lock()
			l.dropped-- // Stats: removed
			l.mu.Unlock()
		}
	}
	l.met.removedAll(start, err)
	return err
}
