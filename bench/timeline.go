package bench

import "time"

// timelineSteps is about how many points a timeline has.
const timelineSteps = 500

// timeline records latency over time: per step, the number of calls that
// started in it, their total and their largest latency. It is used by one
// goroutine.
type timeline struct {
	start time.Time
	step  time.Duration
	steps []step
}

type step struct {
	ops      int64
	sum, max time.Duration
}

// newTimeline starts a timeline at start for a run of about dur.
func newTimeline(start time.Time, dur time.Duration) *timeline {
	st := max(dur/timelineSteps, time.Millisecond)
	return &timeline{start: start, step: st, steps: make([]step, 0, int(dur/st)+16)}
}

// add records a call that started at t0 and took d.
func (tl *timeline) add(t0 time.Time, d time.Duration) {
	i := int(max(t0.Sub(tl.start), 0) / tl.step)
	for len(tl.steps) <= i {
		tl.steps = append(tl.steps, step{})
	}
	s := &tl.steps[i]
	s.ops++
	s.sum += d
	s.max = max(s.max, d)
}

// since is t on the timeline's clock, in milliseconds.
func (tl *timeline) since(t time.Time) float64 { return ms(t.Sub(tl.start)) }

// points returns the steps that saw a call.
func (tl *timeline) points() []TimePoint {
	var out []TimePoint
	for i, s := range tl.steps {
		if s.ops == 0 {
			continue
		}
		out = append(out, TimePoint{
			Ms:     ms(time.Duration(i) * tl.step),
			Ops:    s.ops,
			MeanUs: float64(s.sum.Nanoseconds()) / float64(s.ops) / 1e3,
			MaxUs:  float64(s.max.Nanoseconds()) / 1e3,
		})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
