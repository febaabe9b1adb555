package sched

import (
	"runtime"
	"testing"
	"time"
)

// TestPrompt checks that Begin gives the calling thread the slice asked
// for and End gives it back the one it had.
func TestPrompt(t *testing.T) {
	if !Supported() {
		t.Skip("the kernel takes a fair thread's slice from Linux 6.12 on")
	}
	want := 100 * time.Microsecond
	type result struct {
		before, during, after time.Duration
		shown                 bool
		err                   error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // the same thread before, during and after
		defer runtime.UnlockOSThread()
		var r result
		tid := ThreadID()
		if r.before, r.shown, r.err = Slice(tid); r.err != nil || !r.shown {
			ch <- r
			return
		}
		var p Prompt
		p.Begin(want)
		r.during, _, r.err = Slice(tid)
		p.End()
		if r.err == nil {
			r.err = p.Err
		}
		if r.err == nil {
			r.after, _, r.err = Slice(tid)
		}
		ch <- r
	}()
	r := <-ch
	switch {
	case r.err != nil:
		t.Fatal(r.err)
	case !r.shown:
		t.Skip("this kernel's /proc/<pid>/task/<tid>/sched shows no se.slice")
	case r.before == want:
		t.Fatalf("the default slice is already %v: the test cannot tell", want)
	case r.during != want || r.after != r.before:
		t.Errorf("se.slice %v before Begin(%v), %v between Begin and End, %v after End", r.before, want, r.during, r.after)
	}
}
