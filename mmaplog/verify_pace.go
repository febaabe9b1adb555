package mmaplog

import (
	"context"
	"time"
)

// clock is what the verifier's pacing needs of time; tests replace it.
type clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (returning ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pacer bounds a reader to rate bytes per second: before each read it
// waits until the bytes read so far would have taken their time at that
// rate. Credit does not pile up: after a stall (a slow disk, a pause
// between segments) of more than maxBehind, pacing starts over from now,
// so that the reader never bursts to catch up.
type pacer struct {
	rate  int64 // bytes per second; <= 0: no limit
	clk   clock
	start time.Time
	bytes int64 // read since start
}

// maxBehind is how far behind its schedule a pacer may fall before it
// starts over.
const maxBehind = 100 * time.Millisecond

func newPacer(rate int64, clk clock) *pacer { return &pacer{rate: rate, clk: clk} }

// wait blocks until n more bytes may be read.
func (p *pacer) wait(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.rate <= 0 {
		return nil
	}
	now := p.clk.Now()
	if p.start.IsZero() {
		p.start = now
	}
	due := p.start.Add(time.Duration(float64(p.bytes) / float64(p.rate) * float64(time.Second)))
	if d := due.Sub(now); d > 0 {
		p.bytes += n
		return p.clk.Sleep(ctx, d)
	} else if -d > maxBehind {
		p.start, p.bytes = now, 0
	}
	p.bytes += n
	return nil
}
