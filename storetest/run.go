package storetest

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
)

// Factory opens the stores a suite tests.
type Factory[S any] struct {
	// Open returns a store keeping its files in dir, an existing
	// directory: empty for a new store, or one a store of this factory
	// used before (reopen), or a copy of one (crash). Required. The
	// stores must be comparable values (pointers, as stores usually are):
	// the suite keys its bookkeeping by them.
	Open func(dir string) (S, error)
	// Persistent: a store closed and opened again on the same dir holds
	// what it held, and the store keeps all its state in files under dir
	// (the crash cases copy dir while a store is open and open the copy).
	// A persistent store must implement io.Closer. When false (an
	// in-memory store), the reopen and crash cases are skipped.
	Persistent bool
}

// Outcome is what one case did against one store.
type Outcome string

// The outcomes of a case.
const (
	Pass Outcome = "pass"
	Fail Outcome = "FAIL"
	Skip Outcome = "n/a" // the case does not apply (see Result.Detail)
)

// Result is the outcome of one case.
type Result struct {
	Case    string // suite/name, e.g. "log/delete-all-then-store-at-1"
	Fact    string // the contract the case checks, one line
	Outcome Outcome
	Detail  string // the first failure, or why the case was skipped
}

// Results are the outcomes of a suite's cases, in suite order.
type Results []Result

// caseTimeout bounds one case; a store that hangs fails the case.
const caseTimeout = 30 * time.Second

// reopenTimeout bounds Open of a directory whose store was just closed: a
// store whose Close does not release the directory (a file lock still
// held) makes that Open block forever.
const reopenTimeout = 3 * time.Second

// suiteState is shared by the cases of one suite run.
type suiteState struct {
	reopenHangs atomic.Bool // an Open after Close did not return
}

// testCase is one fact about a store, checked by run on a C, the suite's
// view of a tc.
type testCase[C any] struct {
	name, fact string
	run        func(c C)
}

// runSuite runs cases as subtests of t, each on a tc wrapped as a C. In
// survey mode a failing case is logged and recorded but does not fail t.
func runSuite[S, C any](t *testing.T, suite string, f Factory[S], cases []testCase[C], wrap func(*tc[S]) C, survey bool) Results {
	t.Helper()
	if f.Open == nil {
		t.Fatal("storetest: Factory.Open is nil")
	}
	var out Results
	st := &suiteState{}
	for _, cs := range cases {
		r := Result{Case: suite + "/" + cs.name, Fact: cs.fact}
		t.Run(cs.name, func(t *testing.T) {
			c := &tc[S]{tb: t, f: f, st: st, dirs: map[any]string{}, helpers: map[string]bool{}}
			c.execute(func(c *tc[S]) { cs.run(wrap(c)) })
			var failures []string
			r.Outcome, r.Detail, failures = c.outcome()
			switch {
			case r.Outcome == Skip:
				t.Skip(r.Detail)
			case r.Outcome == Fail && survey:
				t.Logf("FAIL (recorded, not failing the test): %s", strings.Join(failures, "\n"))
			case r.Outcome == Fail:
				for _, msg := range failures {
					t.Error(msg)
				}
			}
		})
		out = append(out, r)
	}
	return out
}

// tc is one case's view of the test: failures are recorded (with the
// location of the failing check), Fatalf ends the case's goroutine, and
// the stores the case opened are closed when it ends.
type tc[S any] struct {
	tb testing.TB
	f  Factory[S]
	st *suiteState

	mu       sync.Mutex
	failures []string
	skipped  string
	helpers  map[string]bool // functions marked by Helper
	at       string          // the scripted step running: failures are located by it
	dirs     map[any]string  // open store -> its directory
	open     []S             // stores to close at the end, in open order
}

// execute runs fn on its own goroutine, recovers a panic as a failure,
// bounds it by caseTimeout, then closes the stores it left open.
func (c *tc[S]) execute(fn func(c *tc[S])) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				c.recordAt("", fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
			}
		}()
		fn(c)
	}()
	select {
	case <-done:
	case <-time.After(caseTimeout):
		c.recordAt("", fmt.Sprintf("the case did not finish within %v (a store call hangs?)", caseTimeout))
		return // leave the stores to the hung goroutine
	}
	c.mu.Lock()
	stores := c.open
	c.open = nil
	c.mu.Unlock()
	for i := len(stores) - 1; i >= 0; i-- {
		closeStore(stores[i])
	}
}

// outcome returns the case's outcome, its detail and every failure.
func (c *tc[S]) outcome() (Outcome, string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	failures := append([]string(nil), c.failures...)
	switch {
	case len(failures) > 0:
		return Fail, failures[0], failures
	case c.skipped != "":
		return Skip, c.skipped, nil
	}
	return Pass, "", nil
}

// Helper marks the calling function as a helper: failure locations skip it.
func (c *tc[S]) Helper() {
	pc, _, _, ok := runtime.Caller(1)
	if !ok {
		return
	}
	name := runtime.FuncForPC(pc).Name()
	c.mu.Lock()
	c.helpers[name] = true
	c.mu.Unlock()
}

// record adds a failure, prefixed with the location of the first caller
// that is not a helper (nor this file).
func (c *tc[S]) record(msg string) {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at != "" {
		c.failures = append(c.failures, c.at+": "+msg)
		return
	}
	for {
		fr, more := frames.Next()
		if !c.helpers[fr.Function] && !strings.HasSuffix(fr.File, "storetest/run.go") {
			msg = fmt.Sprintf("%s:%d: %s", filepath.Base(fr.File), fr.Line, msg)
			break
		}
		if !more {
			break
		}
	}
	c.failures = append(c.failures, msg)
}

// setAt locates the failures from now on by where instead of a file and
// line ("" to go back to those).
func (c *tc[S]) setAt(where string) {
	c.mu.Lock()
	c.at = where
	c.mu.Unlock()
}

// recordAt adds a failure found at where ("" for the runner itself).
func (c *tc[S]) recordAt(where, msg string) {
	if where != "" {
		msg = where + ": " + msg
	}
	c.mu.Lock()
	c.failures = append(c.failures, msg)
	c.mu.Unlock()
}

// Errorf records a failure and goes on. Safe from any goroutine.
func (c *tc[S]) Errorf(format string, args ...any) { c.record(fmt.Sprintf(format, args...)) }

// Fatalf records a failure and ends the case. Call it only from the
// case's own goroutine (use Errorf in goroutines the case starts).
func (c *tc[S]) Fatalf(format string, args ...any) {
	c.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// Skipf ends the case as not applicable to this store.
func (c *tc[S]) Skipf(format string, args ...any) {
	c.mu.Lock()
	c.skipped = fmt.Sprintf(format, args...)
	c.mu.Unlock()
	runtime.Goexit()
}

// Logf logs to the subtest.
func (c *tc[S]) Logf(format string, args ...any) { c.tb.Logf(format, args...) }

// newStore opens a store in a new, empty directory.
func (c *tc[S]) newStore() S {
	c.Helper()
	return c.openIn(c.tb.TempDir())
}

func (c *tc[S]) openIn(dir string) S {
	c.Helper()
	s, err := c.f.Open(dir)
	if err != nil {
		c.Fatalf("Open(%s): %v", dir, err)
	}
	c.track(s, dir)
	return s
}

// needPersistent skips the case for a store that does not persist.
func (c *tc[S]) needPersistent() {
	if !c.f.Persistent {
		c.Skipf("the factory's stores are not persistent")
	}
}

// dirOf returns the directory s is open on, skipping the case for a store
// that does not persist.
func (c *tc[S]) dirOf(s S) string {
	c.needPersistent()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirs[any(s)]
}

// reopen closes s and opens its directory again.
func (c *tc[S]) reopen(s S) S {
	c.Helper()
	dir := c.dirOf(s)
	if _, ok := any(s).(io.Closer); !ok {
		c.Fatalf("a persistent store must implement io.Closer; %T does not", s)
	}
	if err := c.close(s); err != nil {
		c.Fatalf("Close: %v", err)
	}
	if c.st.reopenHangs.Load() {
		c.Fatalf("Open after Close hung in an earlier case (Close does not release the directory); not tried again")
	}
	type opened struct {
		s   S
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := c.f.Open(dir)
		ch <- opened{s, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			c.Fatalf("Open(%s) after Close: %v", dir, o.err)
		}
		c.track(o.s, dir)
		return o.s
	case <-time.After(reopenTimeout):
		c.st.reopenHangs.Store(true)
		c.Fatalf("Open of the directory after Close did not return within %v: Close does not release it (a lock still held?)", reopenTimeout)
	}
	panic("unreachable")
}

// track registers s, open on dir, to be closed when the case ends.
func (c *tc[S]) track(s S, dir string) {
	c.mu.Lock()
	c.dirs[any(s)] = dir
	c.open = append(c.open, s)
	c.mu.Unlock()
}

// crash copies s's directory as it is while s stays open and idle — what
// a process killed at this point leaves on disk (writes in the page cache
// survive a kill) — and opens the copy.
func (c *tc[S]) crash(s S) S {
	c.Helper()
	dir := c.dirOf(s)
	dst := c.tb.TempDir()
	if err := logtest.CopyTree(dir, dst); err != nil {
		c.Fatalf("copy the store's directory: %v", err)
	}
	return c.openIn(dst)
}

// close closes s (when it is an io.Closer) and forgets it.
func (c *tc[S]) close(s S) error {
	c.mu.Lock()
	for i, o := range c.open {
		if any(o) == any(s) {
			c.open = append(c.open[:i], c.open[i+1:]...)
			break
		}
	}
	delete(c.dirs, any(s))
	c.mu.Unlock()
	if cl, ok := any(s).(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

func closeStore[S any](s S) {
	if cl, ok := any(s).(io.Closer); ok {
		_ = cl.Close()
	}
}
