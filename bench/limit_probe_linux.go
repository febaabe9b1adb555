//go:build linux

package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// getProbes are W4's references: the two dependent loads a random Get by
// index cannot avoid, the entry's index slot and then the first word of
// the record it points to, over Config.Preload entries laid out as
// mmaplog lays them out (slots of index.SlotSize bytes, records of
// format.RecordSize bytes) in two shared file mappings, warm. There is no
// checksum, copy, bounds check or lock: a Get can approach them, not beat
// them.
//
// limit-get-probe chases the records: each record's word is the index of
// the next read (a random cycle through every entry), so each read waits
// for the one before, as one reader calling Get in a loop does: W4's
// goal is measured against it. limit-get-probe-overlapped draws the
// indexes at random instead, so the CPU overlaps the misses of successive
// reads; a Get, hundreds of instructions long, cannot overlap them that
// way, but the figure shows what the memory system offers.
//
// The probe's files are written through their mappings with the default
// advice, which lets the kernel fill them with large folios, most of them
// mapped with 2 MiB page-table entries. A log's segments are not (they
// get small folios so that a small msync writes a page, not a folio; see
// vfs.Prefaulter.Advise), so limit-get-probe-4k chases the same cycle
// through files advised MADV_RANDOM, whose folios are 4 KiB: the TLB
// misses and page-table walks of a log's reads, without the rest of a
// Get. Each result says how much of its mappings was in 2 MiB pages.
func getProbes(r *runner, dir string) ([]Result, error) {
	n := r.cfg.Preload
	// A random cycle through every entry (Sattolo's shuffle): record i
	// holds the entry read after i.
	next := make([]uint32, n)
	for i := range next {
		next[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(5, 0x5eed))
	for i := n - 1; i > 0; i-- {
		j := rng.IntN(i)
		next[i], next[j] = next[j], next[i]
	}
	var out []Result
	for _, small := range []bool{false, true} {
		res, err := chaseProbe(r, dir, next, small)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// chaseProbe lays out the cycle next in two new files, mapped with small
// pages when small, and times the serial chase (and, with large pages,
// the overlapped reads).
func chaseProbe(r *runner, dir string, next []uint32, small bool) ([]Result, error) {
	n := len(next)
	rec := format.RecordSize(format.EntryHeadSize + r.cfg.Size)
	suffix := ""
	if small {
		suffix = "-4k"
	}
	slots, closeSlots, err := mapFile(filepath.Join(dir, "probe"+suffix+".idx"), int64(n)*index.SlotSize, small)
	if err != nil {
		return nil, err
	}
	defer closeSlots()
	// Slots are 32-bit offsets, as in a segment's index: wrap the records
	// into a 4 GiB file at most.
	span := min(int64(n)*rec, 4<<30-rec)
	data, closeData, err := mapFile(filepath.Join(dir, "probe"+suffix+".dat"), span, small)
	if err != nil {
		return nil, err
	}
	defer closeData()
	for i := range n {
		off := (int64(i) * rec) % (span - rec + 1) &^ 7
		binary.LittleEndian.PutUint32(slots[i*index.SlotSize:], uint32(off))
		binary.LittleEndian.PutUint64(data[off:], uint64(next[i]))
	}
	load := func(i uint64) uint64 {
		return binary.LittleEndian.Uint64(data[binary.LittleEndian.Uint32(slots[i*index.SlotSize:]):])
	}
	var sink uint64
	for i := range n { // the warm-up pass W4 makes too
		sink += load(uint64(i))
	}
	mapped, huge := hugeMapped(dir)
	rng := rand.New(rand.NewPCG(6, 0x5eed))
	modes := []bool{false, true}
	if small {
		modes = modes[:1]
	}
	var out []Result
	for _, overlapped := range modes {
		name, how := "limit-get-probe"+suffix, "each read's index is the word the last one loaded"
		if overlapped {
			name, how = "limit-get-probe-overlapped", "random independent indexes"
		}
		r.phase(name, r.cfg.LimitDuration)
		lat := newLatency()
		start := time.Now()
		deadline := start.Add(r.cfg.LimitDuration)
		var ops int64
		i := uint64(0)
		for {
			t0 := time.Now()
			if overlapped {
				for range latencySample {
					sink += load(rng.Uint64N(uint64(n)))
				}
			} else {
				for range latencySample {
					i = load(i)
				}
			}
			t1 := time.Now()
			lat.record(t1.Sub(t0) / latencySample)
			ops += latencySample
			if t1.After(deadline) {
				break
			}
		}
		res := Result{Workload: name, EntrySize: r.cfg.Size, OpsPerSec: perSec(ops, time.Since(start)), MappedBytes: mapped, HugeMappedBytes: huge}
		lat.fill(&res)
		share, _ := res.hugeShare()
		res.Note = fmt.Sprintf("index slot then record word, %s, over %d entries in shared file mappings (%.0f%% in 2 MiB pages), warm; latency = mean of %d (checksum %x)",
			how, n, 100*share, latencySample, (sink+i)&0xff)
		out = append(out, res)
	}
	return out, nil
}

// mapFile creates path with size bytes allocated and maps it shared,
// read-write; small advises the mapping MADV_RANDOM before any page is
// touched, so that its page cache is made of 4 KiB folios.
func mapFile(path string, size int64, small bool) ([]byte, func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return nil, nil, fmt.Errorf("bench: fallocate %s: %w", path, err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: mmap %s: %w", path, err)
	}
	if small {
		if err := unix.Madvise(m, unix.MADV_RANDOM); err != nil {
			_ = unix.Munmap(m)
			return nil, nil, fmt.Errorf("bench: madvise %s: %w", path, err)
		}
	}
	return m, func() { _ = unix.Munmap(m) }, nil
}

// copyCRCProbe is W3's reference for the append path: the bytes one
// append must write, framed as mmaplog frames them (format.PutEntryHead,
// the payload copy, format.PutFrame with its CRC), one entry after the
// other into a shared file mapping whose pages are already faulted in,
// without the lock, index slot, state or rotation of a real append.
func copyCRCProbe(r *runner, dir string, size int) (Result, error) {
	const span = limitFileSize
	m, unmap, err := mapFile(filepath.Join(dir, fmt.Sprintf("copy-%d.dat", size)), span, false)
	if err != nil {
		return Result{}, err
	}
	defer unmap()
	for off := 0; off < span; off += os.Getpagesize() {
		m[off] = 0 // fault every page in before the clock starts
	}
	n := format.EntryHeadSize + size
	rec := int(format.RecordSize(n))
	payload := r.payload[:size]
	r.phase(fmt.Sprintf("copy+crc %s", fmtSize(size)), r.cfg.LimitDuration)
	lat := newLatency()
	var (
		off  int
		prev uint32
		ops  int64
		idx  uint64
	)
	start := time.Now()
	deadline := start.Add(r.cfg.LimitDuration)
	for {
		t0 := time.Now()
		for range latencySample {
			if off+rec > span {
				off = 0
			}
			b := m[off : off+rec]
			idx++
			format.PutEntryHead(b[format.FrameSize:], raftstate.LogID{Term: 1, Index: idx})
			copy(b[format.FrameSize+format.EntryHeadSize:], payload)
			prev = format.PutFrame(b, format.TypeEntry, n, 0, prev)
			off += rec
		}
		t1 := time.Now()
		lat.record(t1.Sub(t0) / latencySample)
		ops += latencySample
		if t1.After(deadline) {
			break
		}
	}
	res := Result{Workload: "limit-copy-crc", EntrySize: size, OpsPerSec: perSec(ops, time.Since(start))}
	lat.fill(&res)
	res.Note = fmt.Sprintf("entry head + payload copy + frame CRC per entry into a faulted-in shared mapping, no lock/index/state; latency = mean of %d", latencySample)
	return res, nil
}
