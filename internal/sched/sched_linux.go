package sched

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Supported reports whether the kernel takes a fair thread's slice
// (Linux 6.12 and later).
var Supported = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 6 || (major == 6 && minor >= 12)
})

// Prompt is a thread's request for a short time slice while it waits on
// the disk: Begin asks the kernel to give the calling goroutine's thread
// a slice of d, End gives the thread back the slice it had. The kernel's
// fair scheduler (EEVDF, Linux 6.12 and later) lets a waking thread with
// a shorter slice preempt the one that is running, so that the thread
// runs the moment its sync returns instead of once a CPU-bound thread's
// slice is used up. The goroutine stays on its thread from Begin to End
// (runtime.LockOSThread), so that no other goroutine runs with the
// request. A thread of another policy than the normal one (one the
// application made realtime, batch or idle) is left as it is, and so is
// its nice value. A Prompt is used by one goroutine at a time; its zero
// value is ready.
type Prompt struct {
	attr unix.SchedAttr
	prev uint64 // the thread's slice before Begin
	on   bool   // Begin changed the slice: End restores it
	Err  error  // why the last Begin changed nothing (nil: it did, or the policy is not the normal one)
}

// Begin asks for a slice of d for the calling goroutine's thread until End.
func (p *Prompt) Begin(d time.Duration) {
	runtime.LockOSThread()
	p.on, p.Err = false, nil
	if !Supported() {
		p.Err = errors.ErrUnsupported
		return
	}
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		p.Err = fmt.Errorf("sched_getattr: %w", err)
		return
	}
	if a.Policy != unix.SCHED_NORMAL || a.Runtime == uint64(d.Nanoseconds()) {
		return
	}
	p.attr, p.prev = *a, a.Runtime
	p.attr.Runtime = uint64(d.Nanoseconds())
	if err := unix.SchedSetAttr(0, &p.attr, 0); err != nil {
		p.Err = fmt.Errorf("sched_setattr slice %v: %w", d, err)
		return
	}
	p.on = true
}

// End gives the thread back its slice from before Begin and lets the
// goroutine leave it.
func (p *Prompt) End() {
	if p.on {
		p.attr.Runtime = p.prev
		if err := unix.SchedSetAttr(0, &p.attr, 0); err != nil {
			p.Err = fmt.Errorf("sched_setattr slice %v: %w", time.Duration(p.prev), err)
		}
		p.on = false
	}
	runtime.UnlockOSThread()
}

// ThreadID returns the calling OS thread's ID.
func ThreadID() int { return unix.Gettid() }

// Slice returns the time slice of thread tid of this process as
// /proc/self/task/<tid>/sched shows it (se.slice; false where the kernel
// shows none).
func Slice(tid int) (time.Duration, bool, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/sched", tid))
	if err != nil {
		return 0, false, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "se.slice" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, false, fmt.Errorf("se.slice of thread %d: %w", tid, err)
			}
			return time.Duration(n), true, nil
		}
	}
	return 0, false, nil
}
