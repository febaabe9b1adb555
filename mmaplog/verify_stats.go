package mmaplog

import (
	"context"
	"errors"
	"sync"
	"time"
)

// VerifyStats counts the work and findings of online verification
// (Log.Verify and the background verifier) since Open.
type VerifyStats struct {
	Runs         uint64 // verification passes completed
	Segments     uint64 // sealed segments checked, over all passes
	BytesChecked int64  // bytes read from the disk, over all passes
	// Problems counts the problems found over all passes: damage that
	// stays is counted again by every pass that finds it.
	Problems uint64
	// LastRunProblems is the number of problems the last completed pass
	// found: 0 when it found the sealed segments sound.
	LastRunProblems int
	LastRun         time.Time // when the last completed pass ended; zero before the first
	LastProblem     error     // the most recent problem found (a *CorruptError); nil when none
}

// verifier holds the verification counters and runs the background
// verifier when Options.Verify.Interval is set.
type verifier struct {
	l      *Log
	mu     sync.Mutex
	st     VerifyStats
	cancel context.CancelFunc
	done   chan struct{}
}

func (v *verifier) stats() VerifyStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st
}

// checked adds segments and bytes checked.
func (v *verifier) checked(segments int, bytes int64) {
	v.mu.Lock()
	v.st.Segments += uint64(segments)
	v.st.BytesChecked += bytes
	v.mu.Unlock()
}

// report records a problem, logs it and passes it to onProblem.
func (v *verifier) report(ce *CorruptError, onProblem func(*CorruptError)) {
	v.mu.Lock()
	v.st.Problems++
	v.st.LastProblem = ce
	v.mu.Unlock()
	v.l.logger.Error("mmaplog: verification found damage on disk", "file", ce.Path, "offset", ce.Offset, "entry", ce.Index, "reason", ce.Reason)
	if onProblem != nil {
		onProblem(ce)
	}
}

// passed records a completed pass that found problems problems.
func (v *verifier) passed(problems int) {
	v.mu.Lock()
	v.st.Runs++
	v.st.LastRunProblems = problems
	v.st.LastRun = time.Now()
	v.mu.Unlock()
}

// start starts the background verifier if Options.Verify asks for one.
func (v *verifier) start(l *Log) {
	v.l = l
	o := l.opts.Verify
	if o.Interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel, v.done = cancel, make(chan struct{})
	go v.run(ctx, o)
}

// stop ends the background verifier and waits for it; a no-op without
// one, or the second time.
func (v *verifier) stop() {
	if v.cancel == nil {
		return
	}
	v.cancel()
	<-v.done
}

func (v *verifier) run(ctx context.Context, o VerifierOptions) {
	defer close(v.done)
	opts := VerifyOptions{Rate: o.Rate, OnProblem: o.OnProblem}
	for {
		if err := (realClock{}).Sleep(ctx, o.Interval); err != nil {
			return
		}
		_, err := v.l.Verify(ctx, opts)
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			v.l.logger.Warn("mmaplog: background verification pass ended early", "err", err)
		}
	}
}
