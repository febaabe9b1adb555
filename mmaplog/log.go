package mmaplog

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Log is an open Raft log directory. See the package documentation.
type Log struct {
	dir    string
	opts   Options
	fs     vfs.FS
	logger *slog.Logger // Options.Logger
	lock   io.Closer
	prep   *preparer
	uid    uint64   // the log's identity, in every segment and index header
	ver    verifier // online verification (verify*.go)

	// Writer side, guarded by wmu.
	wmu       sync.Mutex
	open      *segment // where appends go
	prev      uint32   // chain value at open.end
	lastState bool     // the last record written is a State record
	wfirst    uint64   // first as the writer sees it mid-call (snapshots)
	// openSyncs is syncs when the open segment became the open one: how
	// that segment is being synced picks how the next one is mapped (see
	// nextFill).
	openSyncs uint64
	// rotateEarly: the open segment has large pages but is being synced in
	// small pieces; rotate at the next write to a small-page segment.
	rotateEarly bool
	handed      int64    // open.end already handed to the flusher
	reserved    []*blank // segments created for the batch being appended
	scratch     []byte   // the records of a batch written through the file (writeThrough)
	probed      byte     // (w) sink of writeAt's loads from the mapping
	throughRun  int      // (w) writes through the file since everything was durable (afterSync)
	todo        work     // sync work not yet handed to the flusher
	wclosed     bool
	// unready: the open segment's index is still sealed as Open found it
	// (a clean close); readyOpen must run before anything is written.
	unready bool
	// readying is closed when the background readyOpen that Open started
	// has ended; nil when none was started.
	readying chan struct{}

	// Reader side, guarded by mu (written under wmu and mu).
	mu      sync.RWMutex
	state   raftstate.State
	segs    []*segment // in ID order, including the open one
	runs    []logdir.Run
	dropped int    // purged segments out of segs, not yet deleted
	first   uint64 // lowest index that can exist; see firstIndex
	closed  bool

	durable atomic.Uint64 // global position proven durable
	syncs   atomic.Uint64 // group syncs completed
	failure atomic.Pointer[error]
	appends atomic.Uint64
	// noBehind: the file system cannot start a write-back early
	// (Options.WriteBehind); writtenBehind counts the bytes it did.
	noBehind      atomic.Bool
	writtenBehind atomic.Int64
	fl            flusher
	rm            remover
	met           metrics // distributions for Stats (metrics.go)
}

// Open opens (creating if needed) the log in dir, recovers it and starts
// its flusher. A torn tail (never acknowledged) is cut and logged; damage to
// data proven durable is a *CorruptError and nothing on disk is changed
// (docs/FORMAT.md, "What recovery concludes"; recovery.Verify reports the
// same, recovery.Repair cuts the log there).
func Open(dir string, opts Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	fs := opts.FS
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("mmaplog: create directory %s: %w", dir, err)
	}
	lock, err := fs.Lock(filepath.Join(dir, format.LockName))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("mmaplog: lock %s: %w", dir, err)
	}
	l := &Log{dir: dir, opts: opts, fs: fs, logger: opts.Logger, lock: lock}
	if err := l.load(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	l.prep = newPreparer(fs, dir, opts)
	l.rm.start(l)
	l.fl.start(l)
	l.ver.start(l)
	if l.unready && vfs.IsConcurrent(fs) && !opts.lazyReady {
		// Off the Open path, and most likely done before the first write
		// or lookup in the open segment needs it (both wait for it). On the
		// crash simulator the first write does it, in the order of its
		// calls.
		l.readying = make(chan struct{})
		go func() {
			defer close(l.readying)
			l.wmu.Lock()
			defer l.wmu.Unlock()
			_ = l.writable() // the next write sees the failure again
		}()
	}
	return l, nil
}

// load recovers the directory's segments into l, or creates the first.
func (l *Log) load() error {
	r, err := logdir.Open(l.fs, l.dir, l.logger)
	if err != nil {
		return logdir.Prefixed("mmaplog", err)
	}
	if len(r.Segments) == 0 {
		return l.createFirst()
	}
	for _, os := range r.Segments {
		s := &segment{
			id: os.ID, path: os.Path, file: os.File, data: os.Data, idx: os.Index,
			startPos: os.Header.StartPos, base: os.Base, count: os.Count,
			end: os.End, stateOff: os.StateOff,
		}
		s.slots.unchecked = os.SlotsUnchecked
		s.pubEnd = s.end
		if os != r.Segments[len(r.Segments)-1] {
			if h, err := s.idx.Header(); err == nil && h.Complete {
				s.sealed.Store(&h) // recovery sealed every segment but the last
			}
		}
		l.segs = append(l.segs, s)
	}
	last := r.Segments[len(r.Segments)-1]
	// A trusted last index is still sealed (logdir.RecoveredSegment).
	l.unready = last.SlotsUnchecked
	l.uid = last.Header.LogUID
	l.open = l.segs[len(l.segs)-1]
	l.open.slots.inPlace = true
	l.prev = last.Prev
	l.lastState = last.Checkpoint
	l.handed = l.open.end
	l.state = r.Plan.State
	l.first = r.Plan.First
	l.wfirst = l.first
	l.durable.Store(l.open.globalEnd())
	l.rebuildRuns()
	if pf, ok := l.open.file.(vfs.Prefaulter); ok {
		_ = pf.Advise(true) // reopened: assume Raft's small, frequent syncs
		l.open.fill = fillSmall
	}
	return nil
}

// createFirst creates segment 1 of an empty log and makes it durable.
func (l *Log) createFirst() error {
	size := max(l.opts.SegmentSize, segmentSizeFor(&l.state, 0))
	b, err := createBlank(l.fs, l.dir, 0, size)
	if err != nil {
		return err
	}
	if l.opts.ZeroFill {
		if err := b.zeroFill(); err != nil {
			b.discard(l.fs)
			return err
		}
	}
	b.prefault(fillSmall, 0) // a new log: assume Raft's small, frequent syncs
	l.first, l.wfirst = 1, 1
	if l.uid = l.opts.uid; l.uid == 0 {
		if l.uid, err = newLogUID(); err != nil {
			b.discard(l.fs)
			return err
		}
	}
	s, crc, err := install(l.fs, l.dir, b, format.SegmentHeader{ID: 1, FileSize: uint64(size), LogUID: l.uid}, &l.state, l.first, 0)
	if err != nil {
		b.discard(l.fs)
		return err
	}
	if err := l.syncNew(s); err != nil {
		_ = s.close()
		return err
	}
	l.segs = []*segment{s}
	l.open, l.prev, l.lastState, l.handed = s, crc, true, s.end
	l.durable.Store(s.globalEnd())
	return nil
}

// syncNew makes a just-installed segment and its name durable.
func (l *Log) syncNew(s *segment) error {
	if err := s.file.Msync(0, s.end); err != nil {
		return fmt.Errorf("mmaplog: %w", err)
	}
	if err := s.idx.SyncHeader(); err != nil {
		return fmt.Errorf("mmaplog: %w", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("mmaplog: %w", err)
	}
	return nil
}

// segmentSizeFor is the smallest segment that holds a header, a snapshot
// of st and a record of need bytes, in whole pages.
func segmentSizeFor(st *raftstate.State, need int64) int64 {
	n := format.SegmentHeaderSize + format.RecordSize(format.StateSize(st)) + need
	return format.PageAlign(n)
}

// rebuildRuns recomputes which segment holds which indexes. Call with wmu
// and mu held (or before the Log is shared).
func (l *Log) rebuildRuns() {
	l.runs = logdir.AppendRuns(l.runs, len(l.segs), func(i int) (uint64, uint64) {
		return l.segs[i].base, l.segs[i].count
	})
}

// writable returns nil when a write may proceed, after readying the open
// segment when it is the first write since Open (readyOpen). Call with
// wmu held.
func (l *Log) writable() error {
	if err := l.usable(); err != nil {
		return err
	}
	if l.unready {
		return l.readyOpen()
	}
	return nil
}

// usable returns ErrClosed or the sticky failure, if any. Call with wmu
// held.
func (l *Log) usable() error {
	if l.wclosed {
		return ErrClosed
	}
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records the first failure; the Log fails closed from then on.
func (l *Log) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if errors.Is(err, ErrFailed) {
		wrapped = err
	}
	l.failure.CompareAndSwap(nil, &wrapped)
	return *l.failure.Load()
}

// Close flushes, waits for the flush, writes a closing State checkpoint so
// that the next Open reads no records, unmaps every file and releases the
// directory lock. A second Close is a no-op. Close returns the sticky
// failure, if any, after releasing everything.
func (l *Log) Close() error {
	l.ver.stop() // first: its callbacks may not outlive the Log
	if l.readying != nil {
		<-l.readying
	}
	l.wmu.Lock()
	if l.wclosed {
		l.wmu.Unlock()
		return nil
	}
	var err error
	// Nothing written since a clean Open: the seal on disk still holds,
	// checkpoint and all.
	if err = l.usable(); err == nil && !l.unready {
		err = l.checkpoint()
	}
	l.wclosed = true
	done := make(chan error, 1)
	if err == nil {
		l.handOffWith(func(e error) { done <- e })
	}
	l.wmu.Unlock()
	if err == nil {
		err = <-done
	}
	l.fl.stop()
	left := l.rm.stop()
	l.prep.stop() // after the remover: it deletes the spares
	if p := l.failure.Load(); err == nil && p != nil {
		err = *p // a removal the final flush queued failed
	}

	l.mu.Lock()
	l.closed = true
	for _, s := range l.segs {
		if !s.gone {
			s.gone = true
			if cerr := s.close(); err == nil && cerr != nil {
				err = fmt.Errorf("mmaplog: close %s: %w", s.path, cerr)
			}
		}
	}
	l.mu.Unlock()
	// Purged segments whose removal never ran (the Log failed, or closed
	// first) are unmapped too: a mapping left behind would pin their pages,
	// and a reopen could not evict what a failed write-back left in them.
	orphans := append(append(l.fl.orphans(), left...), l.todo.removes...)
	l.todo.removes = nil
	for _, s := range orphans {
		_ = s.close()
	}
	if cerr := l.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("mmaplog: unlock %s: %w", l.dir, cerr)
	}
	return err
}

// checkpoint appends a closing State record (unless the last record is
// one) and queues the open segment's index to be sealed complete after the
// final sync. Call with wmu held.
func (l *Log) checkpoint() (err error) {
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	if !l.lastState {
		st := l.state
		if err := l.writeState(&st); err != nil {
			return err
		}
	}
	l.todo.seals = append(l.todo.seals, seal{seg: l.open, hdr: l.indexHeader(l.open, l.prev)})
	return nil
}

// newLogUID draws a new log's identity: random and never 0.
func newLogUID() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("mmaplog: draw a log identity: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v, nil
		}
	}
}
