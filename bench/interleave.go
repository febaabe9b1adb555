package bench

import (
	"fmt"
	"time"
)

// turnTaker is one participant of a workload that interleaves its stores
// (W1, W6): a store, or a bare disk primitive in W1. A workload's own
// per-participant state embeds it.
type turnTaker struct {
	name     string // store ("disk" for a primitive)
	workload string // the result's workload
	note     string
	st       Store
	closeAll func() error
	err      error // the first error; the participant takes no more turns
	lat      *latency
	n        int64         // timed operations, over all turns
	elapsed  time.Duration // their time, over all turns
}

func (t *turnTaker) taker() *turnTaker { return t }

// interleave runs rounds rounds of turns: in round k every participant
// without an error takes one turn, starting with the k-th (the order
// rotates), so that a disk whose speed drifts over a run weighs on every
// participant alike. A turn's error ends that participant's turns.
func interleave[T interface{ taker() *turnTaker }](r *runner, us []T, rounds int, turn func(u T) error) {
	for k := range rounds {
		for j := range us {
			u := us[(j+k)%len(us)]
			t := u.taker()
			if t.err != nil {
				continue
			}
			r.cur.Store = t.name
			t.err = turn(u)
		}
	}
}

// interleavedResults closes every participant and returns its result:
// an error row for one that failed, else its rate and latency, what fill
// adds, and, when there were several, how they were interleaved.
func interleavedResults[T interface{ taker() *turnTaker }](r *runner, us []T, rounds int, turn time.Duration, fill func(u T, res *Result)) ([]Result, []error) {
	var out []Result
	var errs []error
	for _, u := range us {
		t := u.taker()
		if t.closeAll != nil {
			if cerr := t.closeAll(); t.err == nil {
				t.err = cerr
			}
		}
		res := Result{Store: t.name, Workload: t.workload, EntrySize: r.cfg.Size, Batch: 1}
		if t.err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", t.workload, t.name, t.err))
			res.Note = "error: " + t.err.Error()
			out = append(out, res)
			continue
		}
		res.OpsPerSec = perSec(t.n, t.elapsed)
		res.MBPerSec = res.OpsPerSec * float64(r.cfg.Size) / 1e6
		t.lat.fill(&res)
		res.Note = t.note
		if fill != nil {
			fill(u, &res)
		}
		if len(us) > 1 {
			res.Note = joinNote(res.Note, fmt.Sprintf("interleaved with the other stores: %d turns of %v", rounds, turn))
		}
		out = append(out, res)
	}
	return out, errs
}
