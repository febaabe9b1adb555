package mmaplog_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// benchDir is a directory on the real disk (not tmpfs): syncs must cost
// what they cost.
func benchDir(b *testing.B) string {
	b.Helper()
	return b.TempDir()
}

// BenchmarkAppend: appends without waiting for durability.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := logtest.MustOpen(b, benchDir(b), mmaplog.Options{})
			e := mmaplog.Entry{Payload: make([]byte, size)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				i++
				e.ID = mmaplog.LogID{Term: 1, Index: i}
				if err := l.Append(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendSync: one entry of 128 bytes (or 4 KiB), then wait until
// it is durable, in fallocated segments or zero-filled ones
// (Options.ZeroFill). Reports the latency percentiles of Append+Sync.
func BenchmarkAppendSync(b *testing.B) {
	for _, size := range []int{128, 4096} {
		for _, zero := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/zerofill=%v", size, zero), func(b *testing.B) {
				l := logtest.MustOpen(b, benchDir(b), mmaplog.Options{ZeroFill: zero})
				e := mmaplog.Entry{Payload: make([]byte, size)}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var lat []time.Duration
				i := uint64(0)
				for b.Loop() {
					t0 := time.Now()
					i++
					e.ID = mmaplog.LogID{Term: 1, Index: i}
					if err := l.Append(e); err != nil {
						b.Fatal(err)
					}
					logtest.MustSync(b, l)
					lat = append(lat, time.Since(t0))
				}
				reportPercentiles(b, lat)
			})
		}
	}
}

// BenchmarkMsyncPage is the floor BenchmarkAppendSync is measured
// against: write a 168-byte record into a shared mapping of a fallocated
// file (as segments are) and msync that page.
func BenchmarkMsyncPage(b *testing.B) {
	path := filepath.Join(benchDir(b), "page")
	const size = 64 << 20
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	m, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Unmap()
	p := make([]byte, 168)
	b.SetBytes(128)
	var lat []time.Duration
	off := 0
	for b.Loop() {
		t0 := time.Now()
		copy(m[off:], p)
		page := off &^ 4095
		if err := unix.Msync(m[page:page+4096], unix.MS_SYNC); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		off = (off + 168) % (size - 4096)
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkAppendPipelined is raft-log's own bench pattern: append one
// entry and Flush with a callback, never waiting; group commit makes many
// appends share one sync. Each op counts once its callback ran.
func BenchmarkAppendPipelined(b *testing.B) {
	l := logtest.MustOpen(b, benchDir(b), mmaplog.Options{})
	e := mmaplog.Entry{Payload: make([]byte, 128)}
	b.SetBytes(128)
	b.ReportAllocs()
	var acked uint64
	cb := func(err error) {
		if err != nil {
			panic(err)
		}
		acked++ // the flusher goroutine runs callbacks one at a time
	}
	i := uint64(0)
	for b.Loop() {
		i++
		e.ID = mmaplog.LogID{Term: 1, Index: i}
		if err := l.Append(e); err != nil {
			b.Fatal(err)
		}
		if err := l.Flush(cb); err != nil {
			b.Fatal(err)
		}
	}
	logtest.MustSync(b, l)
	if acked != i {
		b.Fatalf("acked %d of %d", acked, i)
	}
	st := l.Stats()
	b.ReportMetric(float64(i)/float64(max(1, st.Syncs)), "entries/sync")
}

// BenchmarkGetRandom reads random entries of a 1 M-entry log.
func BenchmarkGetRandom(b *testing.B) {
	const n = 1 << 20
	l := logtest.MustOpen(b, benchDir(b), mmaplog.Options{})
	fill(b, l, n, 128)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(128)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Get(1 + rng.Uint64N(n)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRandomParallel: the same, from GOMAXPROCS readers.
func BenchmarkGetRandomParallel(b *testing.B) {
	const n = 1 << 20
	l := logtest.MustOpen(b, benchDir(b), mmaplog.Options{})
	fill(b, l, n, 128)
	b.SetBytes(128)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
		for pb.Next() {
			if _, err := l.Get(1 + rng.Uint64N(n)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func fill(b *testing.B, l *mmaplog.Log, n uint64, size int) {
	b.Helper()
	batch := make([]mmaplog.Entry, 1024)
	p := make([]byte, size)
	first := l.State().Last.Index + 1
	for i := uint64(0); i < n; i += uint64(len(batch)) {
		k := min(uint64(len(batch)), n-i)
		for j := range k {
			batch[j] = mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: first + i + j}, Payload: p}
		}
		if err := l.Append(batch[:k]...); err != nil {
			b.Fatal(err)
		}
	}
	logtest.MustSync(b, l)
}

// BenchmarkReopen opens and closes a cleanly closed log of n entries:
// time and heap must not grow with n.
func BenchmarkReopen(b *testing.B) {
	for _, n := range []uint64{10_000, 1 << 20} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := benchDir(b)
			l, err := mmaplog.Open(dir, mmaplog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			fill(b, l, n, 128)
			logtest.MustClose(b, l)
			b.ReportAllocs()
			var heap uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				l, err := mmaplog.Open(dir, mmaplog.Options{})
				if err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				heap = max(heap, after.TotalAlloc-before.TotalAlloc)
				if l.State().Last.Index != n {
					b.Fatalf("last %v", l.State().Last)
				}
				logtest.MustClose(b, l)
			}
			b.ReportMetric(float64(heap), "open-heap-bytes")
		})
	}
}

// BenchmarkAppendSyncBatch: a batch of 4 KiB entries (hashicorp/raft's
// MaxAppendEntries is 64), then wait until it is durable; copied into the
// mapping (through=off) or written through the file (through=on, the
// default for batches of 64 KiB and more, see Options.WriteThrough).
// Segments of 16 MiB, so that the run crosses into segments prepared for
// the way the first one was filled.
func BenchmarkAppendSyncBatch(b *testing.B) {
	for _, batch := range []int{16, 64} {
		for _, through := range []bool{false, true} {
			name := fmt.Sprintf("batch=%d/through=%s", batch, map[bool]string{false: "off", true: "on"}[through])
			b.Run(name, func(b *testing.B) {
				opts := mmaplog.Options{SegmentSize: 16 << 20, WriteThrough: -1}
				if through {
					opts.WriteThrough = mmaplog.DefaultWriteThrough
				}
				l := logtest.MustOpen(b, benchDir(b), opts)
				ents := make([]mmaplog.Entry, batch)
				for k := range ents {
					ents[k].Payload = make([]byte, 4096)
				}
				b.SetBytes(int64(batch * 4096))
				var lat []time.Duration
				i := uint64(0)
				for b.Loop() {
					t0 := time.Now()
					for k := range ents {
						i++
						ents[k].ID = mmaplog.LogID{Term: 1, Index: i}
					}
					if err := l.Append(ents...); err != nil {
						b.Fatal(err)
					}
					logtest.MustSync(b, l)
					lat = append(lat, time.Since(t0))
				}
				reportPercentiles(b, lat)
			})
		}
	}
}

// BenchmarkReadySync models one Raft node's write loop in a busy process:
// an entry of 128 bytes or 4 KiB, a commit record, then a sync, while
// another goroutine keeps the second CPU busy in the same process (a Raft
// node's network and apply goroutines do). through=on is the default
// (afterSync writes them through the file), off is WriteThrough -1, every
// write copied into the mapping. On Linux it reports TLB-shootdown
// interrupts per round (/proc/interrupts): copied pages become writable,
// and each sync's write-back write-protects them on every CPU the process
// runs on.
func BenchmarkReadySync(b *testing.B) {
	for _, size := range []int{128, 4096} {
		for _, through := range []bool{true, false} {
			b.Run(fmt.Sprintf("size=%d/through=%v", size, map[bool]string{true: "on", false: "off"}[through]), func(b *testing.B) {
				opts := mmaplog.Options{}
				if !through {
					opts.WriteThrough = -1
				}
				l := logtest.MustOpen(b, benchDir(b), opts)
				e := mmaplog.Entry{Payload: make([]byte, size)}
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { // the rest of the process, on the other CPU
					defer close(done)
					x := uint64(1)
					for {
						select {
						case <-stop:
							return
						default:
						}
						for range 1000 {
							x = x*6364136223846793005 + 1442695040888963407
						}
					}
				}()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				tlb0, tlbOK := tlbShootdowns()
				i := uint64(0)
				for b.Loop() {
					i++
					e.ID = mmaplog.LogID{Term: 1, Index: i}
					if err := l.Append(e); err != nil {
						b.Fatal(err)
					}
					if err := l.Commit(e.ID); err != nil {
						b.Fatal(err)
					}
					logtest.MustSync(b, l)
				}
				tlb1, _ := tlbShootdowns()
				close(stop)
				<-done
				if tlbOK && b.N > 0 {
					b.ReportMetric(float64(tlb1-tlb0)/float64(b.N), "tlb-shootdowns/op")
				}
			})
		}
	}
}

// tlbShootdowns sums the TLB-shootdown interrupts of every CPU
// (/proc/interrupts, x86 Linux); false where there is no such line.
func tlbShootdowns() (uint64, bool) {
	data, err := os.ReadFile("/proc/interrupts")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TLB:" {
			continue
		}
		var n uint64
		for _, v := range f[1:] {
			c, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				break // the description after the counts
			}
			n += c
		}
		return n, true
	}
	return 0, false
}
