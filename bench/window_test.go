package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestWindowAwait runs the callback side of W2's window in bursts on one
// goroutine while the writer waits for ever higher counts: a lost
// wake-up would leave the writer parked (and the test timed out).
func TestWindowAwait(t *testing.T) {
	const n = 20_000
	w := newWindow()
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for k := uint64(1); k <= n; k++ {
			w.ran(k)
			if rng.IntN(500) == 0 {
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(3, 4))
		for target := uint64(1); target <= n; target += 1 + uint64(rng.IntN(300)) {
			w.await(target)
			if got := w.completed.Load(); got < target {
				t.Errorf("await(%d) returned at %d", target, got)
				return
			}
		}
		w.await(n)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("writer still waiting at %d of %d callbacks", w.completed.Load(), n)
	}
}

// TestTimeline checks the bucketing: calls land in the step they started
// in, a step without calls leaves a gap, and mean and largest are per
// step.
func TestTimeline(t *testing.T) {
	start := time.Unix(1000, 0)
	tl := newTimeline(start, 500*time.Millisecond) // 1 ms steps
	tl.add(start, 100*time.Microsecond)
	tl.add(start.Add(1100*time.Microsecond), 200*time.Microsecond)
	tl.add(start.Add(1900*time.Microsecond), 600*time.Microsecond)
	tl.add(start.Add(10*time.Millisecond), 40*time.Millisecond) // a stall after a gap
	got := tl.points()
	want := []TimePoint{
		{Ms: 0, Ops: 1, MeanUs: 100, MaxUs: 100},
		{Ms: 1, Ops: 2, MeanUs: 400, MaxUs: 600},
		{Ms: 10, Ops: 1, MeanUs: 40000, MaxUs: 40000},
	}
	if len(got) != len(want) {
		t.Fatalf("points = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if ms := tl.since(start.Add(1500 * time.Microsecond)); ms != 1.5 {
		t.Errorf("since = %v ms, want 1.5", ms)
	}
}
