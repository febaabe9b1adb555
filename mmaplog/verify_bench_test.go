package mmaplog_test

import (
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// verifyPreload is how much sealed data BenchmarkVerifierCost's log holds:
// four default segments, a pass of four seconds at the default rate.
const verifyPreload = 4 * mmaplog.DefaultSegmentSize

// BenchmarkVerifierCost is cmd/bench's W1 (one 128-byte entry, then Sync,
// one writer) on a log holding 256 MiB of sealed segments, with the
// background verifier off, and on at its default rate in back-to-back
// passes (Interval 1 µs): what online verification costs the write path.
// verify-MB/s is the rate the verifier read at meanwhile.
//
//	go test -run '^$' -bench VerifierCost -benchtime 3s -count 2 ./mmaplog/
func BenchmarkVerifierCost(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "verifier=off"
		if on {
			name = "verifier=on"
		}
		b.Run(name, func(b *testing.B) {
			dir := benchDir(b)
			preloadSealed(b, dir)
			opts := mmaplog.Options{Logger: quiet}
			if on {
				opts.Verify = mmaplog.VerifierOptions{Interval: time.Microsecond}
			}
			l, err := mmaplog.Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = l.Close() })
			st := l.Stats()
			next := st.LastIndex + 1
			e := mmaplog.Entry{Payload: make([]byte, 128)}
			b.SetBytes(128)
			var lat []time.Duration
			v0, start := st.Verify.BytesChecked, time.Now()
			for b.Loop() {
				t0 := time.Now()
				e.ID = mmaplog.LogID{Term: 1, Index: next}
				next++
				if err := l.Append(e); err != nil {
					b.Fatal(err)
				}
				logtest.MustSync(b, l)
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			vs := l.Stats().Verify
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(vs.BytesChecked-v0)/1e6/elapsed.Seconds(), "verify-MB/s")
			if vs.Problems != 0 {
				b.Fatalf("the verifier found problems: %+v", vs)
			}
			reportPercentiles(b, lat)
		})
	}
}

// preloadSealed fills a new log in dir with verifyPreload bytes of 4 KiB
// entries, sealed, and closes it.
func preloadSealed(b *testing.B, dir string) {
	b.Helper()
	l := logtest.MustOpen(b, dir, mmaplog.Options{})
	es := make([]mmaplog.Entry, 64)
	p := make([]byte, 4096)
	for i := uint64(1); uint64(l.Stats().BytesUsed) < verifyPreload+1<<20; i += uint64(len(es)) {
		for k := range es {
			es[k] = mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i + uint64(k)}, Payload: p}
		}
		if err := l.Append(es...); err != nil {
			b.Fatal(err)
		}
	}
	logtest.MustClose(b, l)
}
