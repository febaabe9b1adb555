package mmaplog

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// segment is one mapped segment file and its mapped index.
//
// Fields marked (w) are owned by the writer (Log.wmu); fields marked (r)
// are read by readers under Log.mu and written under both locks.
type segment struct {
	id       uint64
	path     string
	file     vfs.File
	data     []byte // the mapping; len(data) is the file size
	idx      *index.File
	startPos uint64 // global position of data[0]

	base     uint64 // (r) index of slot 0; 0 until the first entry
	count    uint64 // (w) entries live in this segment's own view
	end      int64  // (w) offset after the last record
	stateOff int64  // (w) offset of the last State record
	pubEnd   int64  // (r) end as of the last publish (Dump, Stats)
	nudged   bool   // (w) the preparer was asked for this segment's successor
	gone     bool   // (r) unmapped: purged and removed, or closed

	prefaulted chan struct{} // closed when a background prefault ends; nil if none
	fill       fill          // how the segment was mapped (see fill)
	through    int64         // (w) bytes of records written through the file (writeThrough)
	slots      slotCheck     // a sealed index's slots, proven on first use

	// sealed is the index header the segment was sealed complete with,
	// set once that seal is durable (by the flusher, or by Open for every
	// segment but the last): from then on the segment's bytes up to
	// ValidEnd never change. nil while the segment is open.
	sealed atomic.Pointer[index.Header]
	// digest caches the digest of the segment's live entries (see
	// Log.SegmentDigests); nil until computed.
	digest atomic.Pointer[Digest]
}

// globalEnd is the global position of the segment's end.
func (s *segment) globalEnd() uint64 { return s.startPos + uint64(s.end) }

// close unmaps and closes the segment and its index, after any
// background prefault of its mapping has finished.
func (s *segment) close() error {
	if s.prefaulted != nil {
		<-s.prefaulted
	}
	var err error
	if s.idx != nil {
		err = s.idx.Close()
	}
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// blank is a freshly created, mapped segment file and index, under
// temporary names until the writer installs it.
type blank struct {
	file       vfs.File
	data       []byte
	idx        *index.File
	segPath    string // temporary paths
	idxPath    string
	err        error
	prefaulted chan struct{} // see segment.prefaulted
	fill       fill          // see segment.fill
}

// fill is how a segment is expected to be filled, judged from the open
// segment when the next one is prepared (Log.nextFill); it picks how the
// next one is mapped and prefaulted (see vfs.Prefaulter).
type fill uint8

const (
	// fillBulk: records copied in with no sync or big ones (a bulk
	// load): large folios, which write back twice as fast, populated
	// writable (the segment fills before the kernel would write its
	// untouched pages back).
	fillBulk fill = iota
	// fillSmall: records copied in and synced in small pieces (Raft's
	// log): small pages, so that an msync of a few bytes writes one page,
	// populated read-only. A segment synced in small pieces fills slowly:
	// populated writable, its untouched pages would be written back as
	// zeros 30 s later, in the middle of its syncs.
	fillSmall
	// fillThrough: batches written through the file (writeThrough):
	// small pages for what is copied in, and not prefaulted, so that the
	// writes find no page cache and the kernel makes large folios for
	// them.
	fillThrough
)

// prefaultHead is how much of a segment the preparer faults in before
// handing it over; the rest is faulted in behind the writer. Measured
// here, populating a 64 MiB segment writable takes 20-110 ms, about as
// long as a bulk load takes to fill one: a preparer that waited for all
// of it was late for a third of the rotations, which then created their
// segment on the writer's path.
const prefaultHead = 8 << 20

// prefault tunes b's mapping for f and faults in its first head bytes now
// and the rest on another goroutine (the segment waits for it before
// closing). Hints: without them the writer takes the faults.
func (b *blank) prefault(f fill, head int64) {
	b.fill = f
	pf, ok := b.file.(vfs.Prefaulter)
	if !ok {
		return
	}
	_ = pf.Advise(f != fillBulk)
	if f == fillThrough {
		return
	}
	writable := f == fillBulk
	size := int64(len(b.data))
	if head > 0 {
		_ = pf.Prefault(0, head, writable)
	}
	if head >= size {
		return
	}
	ch := make(chan struct{})
	b.prefaulted = ch
	go func() {
		defer close(ch)
		_ = pf.Prefault(head, size-head, writable)
	}()
}

// discard closes b and deletes its files.
func (b *blank) discard(fs vfs.FS) {
	b.close()
	if b.idx != nil {
		_ = fs.Remove(b.idxPath)
	}
	if b.file != nil {
		_ = fs.Remove(b.segPath)
	}
}

// close unmaps and closes b's files, after any background prefault.
func (b *blank) close() {
	if b.prefaulted != nil {
		<-b.prefaulted
	}
	if b.idx != nil {
		_ = b.idx.Close()
	}
	if b.file != nil {
		_ = b.file.Close()
	}
}

// tempNames are the temporary paths of prepared segment n's files.
func tempNames(dir string, n uint64) (seg, idx string) {
	return filepath.Join(dir, fmt.Sprintf("prep-%d%s%s", n, format.SegmentSuffix, format.TempSuffix)),
		filepath.Join(dir, fmt.Sprintf("prep-%d%s%s", n, format.IndexSuffix, format.TempSuffix))
}

// createBlank creates a segment of size bytes and its index under
// temporary names.
func createBlank(fs vfs.FS, dir string, n uint64, size int64) (*blank, error) {
	b := &blank{}
	b.segPath, b.idxPath = tempNames(dir, n)
	f, err := fs.Create(b.segPath, size)
	if err != nil {
		return nil, fmt.Errorf("mmaplog: create segment: %w", err)
	}
	b.file = f
	// The new file's size and extents must be on disk before a rename can
	// give it a segment's name (see vfs.InodeSyncer; index.Create does the
	// same for the index).
	if err := vfs.SyncInode(f); err != nil {
		b.discard(fs)
		return nil, fmt.Errorf("mmaplog: create segment %s: %w", b.segPath, err)
	}
	return b.mapWithIndex(fs, size, index.Create)
}

// mapWithIndex maps b's segment file and makes its index with newIndex
// (index.Create or index.Reuse); on failure it discards b.
func (b *blank) mapWithIndex(fs vfs.FS, size int64, newIndex func(vfs.FS, string, int) (*index.File, error)) (*blank, error) {
	var err error
	if b.data, err = b.file.Map(); err != nil {
		b.discard(fs)
		return nil, fmt.Errorf("mmaplog: map segment %s: %w", b.segPath, err)
	}
	if b.idx, err = newIndex(fs, b.idxPath, index.SlotsFor(size)); err != nil {
		b.discard(fs)
		return nil, fmt.Errorf("mmaplog: %w", err)
	}
	return b, nil
}

// spare is a purged segment's two files, renamed to temporary names by
// the remover, for the preparer to make blank again instead of creating
// new files: reusing keeps the blocks allocated, so the purge frees none
// (see vfs.FS.Reuse).
type spare struct{ seg, idx string }

// reuseBlank makes the spare sp a blank segment of size bytes: zeroed in
// place, the zeros durable before the segment can be installed (a crash
// must not find the purged segment's bytes under the new name).
func reuseBlank(fs vfs.FS, sp spare, size int64) (*blank, error) {
	b := &blank{segPath: sp.seg, idxPath: sp.idx}
	f, err := fs.Reuse(b.segPath, size)
	if err != nil {
		return nil, fmt.Errorf("mmaplog: reuse segment: %w", err)
	}
	b.file = f
	// The zeroed range is an extent change: SyncInode, not Datasync (see
	// vfs.InodeSyncer).
	if err := vfs.SyncInode(f); err != nil {
		b.discard(fs)
		return nil, fmt.Errorf("mmaplog: reuse segment %s: %w", b.segPath, err)
	}
	return b.mapWithIndex(fs, size, index.Reuse)
}

// zeroChunk is how much of a segment one msync of zeroFill writes: other
// syncs queue behind no more than that.
const zeroChunk = 1 << 20

// zeroFill writes zeros over b through its mapping and makes them durable
// (Options.ZeroFill), for a segment that will be synced in small pieces:
// the mapping is advised for small pages and populated writable (the
// zeros become dirty pages, without a read), then msynced a chunk at a
// time. The file's extents are then written ones, so a later sync of a
// page there commits no extent conversion to the journal, and the pages
// stay cached, small and clean (the msync unmaps them, see vfs.File.Msync;
// the read-only prefault that follows maps them again without a read). A
// write through pwrite would fill the cache with large folios instead,
// and O_DIRECT would leave it empty, so that the writer's first store
// into each page would wait for a read from the disk.
func (b *blank) zeroFill() error {
	size := int64(len(b.data))
	if pf, ok := b.file.(vfs.Prefaulter); ok {
		_ = pf.Advise(true)
		_ = pf.Prefault(0, size, true)
	}
	for off := int64(0); off < size; off += zeroChunk {
		if err := b.file.Msync(off, min(zeroChunk, size-off)); err != nil {
			return fmt.Errorf("mmaplog: zero-fill %s at %d: %w", b.segPath, off, err)
		}
	}
	// The msyncs converted every extent to a written one: an extent change
	// (see vfs.InodeSyncer), which later syncs of data then depend on.
	if err := vfs.SyncInode(b.file); err != nil {
		return fmt.Errorf("mmaplog: zero-fill %s: %w", b.segPath, err)
	}
	return nil
}

// install writes the segment header and the initial State snapshot into
// b, renames its files to their final names and returns the segment and
// the chain value after the snapshot.
func install(fs vfs.FS, dir string, b *blank, h format.SegmentHeader, st *raftstate.State, first, durable uint64) (*segment, uint32, error) {
	seed := format.PutSegmentHeader(b.data, h)
	n := format.StateSize(st)
	size := format.RecordSize(n)
	rec := b.data[format.SegmentHeaderSize : format.SegmentHeaderSize+size]
	format.PutStateFirst(rec[format.FrameSize:], st, first)
	crc := format.PutFrame(rec, format.TypeState, n, durable, seed)
	s := &segment{
		id:       h.ID,
		path:     filepath.Join(dir, format.SegmentName(h.ID)),
		file:     b.file,
		data:     b.data,
		idx:      b.idx,
		startPos: h.StartPos,
		end:      format.SegmentHeaderSize + size,
		stateOff: format.SegmentHeaderSize,

		prefaulted: b.prefaulted,
		fill:       b.fill,
	}
	s.pubEnd = s.end
	s.idx.SetHeader(index.Header{SegmentID: h.ID, LogUID: h.LogUID, ValidEnd: s.end, StateOff: s.stateOff, EndCRC: crc})
	// Index first: a segment file never exists without its index name
	// being free for it.
	idxPath := filepath.Join(dir, format.IndexName(h.ID))
	if err := fs.Rename(b.idxPath, idxPath); err != nil {
		return nil, 0, fmt.Errorf("mmaplog: rename %s: %w", b.idxPath, err)
	}
	s.idx.Renamed(idxPath)
	if err := fs.Rename(b.segPath, s.path); err != nil {
		return nil, 0, fmt.Errorf("mmaplog: rename %s: %w", b.segPath, err)
	}
	if r, ok := s.file.(vfs.Renamer); ok {
		r.Renamed(s.path) // later msync errors name the segment, not its temporary name
	}
	return s, crc, nil
}

// preparer creates the next segment in the background so that a rotation
// is a rename, not a file creation and zero-fill.
type preparer struct {
	fs        vfs.FS
	dir       string
	size      int64
	zeroFill  bool
	maxSpares int          // Options.SpareSegments
	logger    *slog.Logger // Options.Logger

	want  chan fill   // a nudge: prepare one, mapped for that fill, if none is ready
	ready chan *blank // at most one prepared segment
	quit  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	next    uint64  // temporary name counter
	spares  []spare // purged segments to reuse, oldest first
	stopped bool    // spares handed over now are deleted
}

func newPreparer(fs vfs.FS, dir string, opts Options) *preparer {
	p := &preparer{fs: fs, dir: dir, size: opts.SegmentSize, zeroFill: opts.ZeroFill, maxSpares: opts.SpareSegments, logger: opts.Logger,
		want: make(chan fill, 1), ready: make(chan *blank, 1), quit: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *preparer) tempNumber() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return p.next
}

// spareFor returns the temporary names the remover renames the purged
// segment s to, for reuse, when the preparer wants it: s has the size it
// prepares and fewer than Options.SpareSegments wait.
func (p *preparer) spareFor(s *segment) (spare, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || len(p.spares) >= p.maxSpares || int64(len(s.data)) != p.size {
		return spare{}, false
	}
	p.next++
	seg, idx := tempNames(p.dir, p.next)
	return spare{seg: seg, idx: idx}, true
}

// addSpare hands over a spare whose renames are durable.
func (p *preparer) addSpare(sp spare) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		p.removeSpare(sp)
		return
	}
	p.spares = append(p.spares, sp)
}

// spareCount is the number of spares waiting.
func (p *preparer) spareCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.spares)
}

// removeSpare deletes a spare's files (temporary names: a crash before
// this leaves them for Open to delete).
func (p *preparer) removeSpare(sp spare) {
	_ = p.fs.Remove(sp.seg)
	_ = p.fs.Remove(sp.idx)
}

// newBlank makes the next prepared segment: a spare made blank again when
// one waits, else new files. A spare that cannot be reused is deleted.
func (p *preparer) newBlank() (*blank, error) {
	p.mu.Lock()
	var sp spare
	ok := len(p.spares) > 0
	if ok {
		sp = p.spares[0]
		p.spares = p.spares[1:]
	}
	p.mu.Unlock()
	if ok {
		b, err := reuseBlank(p.fs, sp, p.size)
		if err == nil {
			return b, nil
		}
		p.removeSpare(sp)
	}
	return createBlank(p.fs, p.dir, p.tempNumber(), p.size)
}

func (p *preparer) run() {
	defer p.wg.Done()
	for {
		var f fill
		select {
		case <-p.quit:
			return
		case f = <-p.want:
		}
		b, err := p.newBlank()
		if err == nil && p.zeroFill && f == fillSmall {
			if err = b.zeroFill(); err != nil {
				// The writer creates the next segment itself (fallocated,
				// not zero-filled); nothing acknowledged depends on this one.
				p.logger.Warn("mmaplog: zero-filling a prepared segment failed; it is discarded", "file", b.segPath, "err", err)
				b.discard(p.fs)
			}
		}
		if err != nil {
			b = &blank{err: err}
		} else {
			b.prefault(f, prefaultHead)
		}
		select {
		case p.ready <- b:
		case <-p.quit:
			if b.err == nil {
				b.discard(p.fs)
			}
			return
		}
	}
}

// nudge asks for a segment to be prepared for fill f (no-op if one is on
// the way).
func (p *preparer) nudge(f fill) {
	select {
	case p.want <- f:
	default:
	}
}

// take returns a prepared segment of at least size bytes, or creates one
// now (not zero-filled) when none is ready or the ready one is too small.
//
// A ready segment mapped for another fill is taken all the same (the next
// segment gets the right one): discarding it and creating another would
// put an unmap, a file removal and an fallocate on the writer's path.
func (p *preparer) take(size int64, f fill) (*blank, error) {
	select {
	case b := <-p.ready:
		if b.err == nil && int64(len(b.data)) >= size {
			return b, nil
		}
		if b.err == nil {
			p.discardAsync(b)
		}
	default:
	}
	b, err := createBlank(p.fs, p.dir, p.tempNumber(), size)
	if err == nil {
		b.prefault(f, 0)
	}
	return b, err
}

// takeReady returns the prepared segment when one of at least size bytes
// mapped for fill f is ready, without waiting or creating one; a ready one
// of another kind is discarded in the background and a new one asked for.
func (p *preparer) takeReady(size int64, f fill) (*blank, bool) {
	select {
	case b := <-p.ready:
		if b.err == nil && int64(len(b.data)) >= size && b.fill == f {
			return b, true
		}
		if b.err == nil {
			p.discardAsync(b)
		}
	default:
	}
	p.nudge(f)
	return nil, false
}

// discardAsync puts away an unused prepared segment off the caller's
// path (stop waits for it): kept as a spare when it can be (untouched, it
// still reads as zeros, and reusing it frees no blocks), else deleted.
func (p *preparer) discardAsync(b *blank) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.mu.Lock()
		keep := !p.stopped && len(p.spares) < p.maxSpares && int64(len(b.data)) == p.size
		p.mu.Unlock()
		if !keep {
			b.discard(p.fs)
			return
		}
		b.close()
		p.addSpare(spare{seg: b.segPath, idx: b.idxPath})
	}()
}

// stop ends the background goroutine and deletes an unused segment and
// the spares.
func (p *preparer) stop() {
	close(p.quit)
	p.wg.Wait()
	p.mu.Lock()
	p.stopped = true
	for _, sp := range p.spares {
		p.removeSpare(sp)
	}
	p.spares = nil
	p.mu.Unlock()
	select {
	case b := <-p.ready:
		if b.err == nil {
			b.discard(p.fs)
		}
	default:
	}
}
