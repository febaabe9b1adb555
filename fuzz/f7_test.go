package fuzz

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/internal/vfs"
	"github.com/raftlog/raftlog/mmaplog"
)

// F7: kill -9 of a real writer. The test binary re-executes itself as a
// child that opens a log on real files (real mmap, msync, fdatasync),
// runs F2's workload generator and reports on a pipe after every write
// ("W step") and every acknowledged flush ("A step"). The parent kills it
// with SIGKILL after a random 1–500 ms, or the child kills itself at a
// named point (before or after the n-th msync, directory fsync, rename or
// remove, or inside recovery). The parent then recovers a copy of the
// directory and checks it against its own run of the same generator: every
// completed write must be there (the page cache survives a kill) and
// nothing else (I1, I2); recovering the original afterwards, as the next
// child does, must give the same log (I5). Several kills in a row share a
// directory, so recovery of a killed recovery is exercised too.
//
// This is not power loss: the page cache survives, so unsynced data is
// never lost and a missing msync goes unnoticed. F1–F3 cover that.
func TestF7KillNine(t *testing.T) {
	if testing.Short() && *flagN == 0 {
		t.Skip("-short: F7 runs real processes")
	}
	fam := newFamily(t, "F7")
	points := f7Points()
	fam.run("kills", 200, func(seed uint64) error { return f7Seed(t, fam, seed, points) })
}

const (
	childEnv   = "RAFTLOG_FUZZ_CHILD" // the log directory
	childSeed  = "RAFTLOG_FUZZ_SEED"
	childBase  = "RAFTLOG_FUZZ_BASE"     // the file holding the recovered step state ("" = empty log)
	childPoint = "RAFTLOG_FUZZ_POINT"    // named kill point: op:n, e.g. msync-before:7
	childZero  = "RAFTLOG_FUZZ_ZEROFILL" // "1": open with Options.ZeroFill (F10)
	f7Chain    = 3                       // kills per directory
)

// f7Points are the named kill points.
func f7Points() []string {
	return []string{"msync-before", "msync-after", "syncdir-before", "syncdir-after", "rename-before", "rename-after", "remove-before", "remove-after", "open-recovery"}
}

// childMain is the child: it never returns normally before being killed,
// unless its workload ends.
func childMain() int {
	dir := os.Getenv(childEnv)
	seed, _ := strconv.ParseUint(os.Getenv(childSeed), 10, 64)
	out := os.NewFile(3, "report")
	var mu sync.Mutex
	report := func(format string, args ...any) {
		// One write per line: a kill never leaves half a line behind
		// that the parent would read as a whole one.
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(out, format+"\n", args...)
	}
	o, g := f7Workload(seed)
	fs := vfs.OS
	if p := os.Getenv(childPoint); p != "" {
		fs = newKillFS(p)
	}
	opts := options(fs)
	opts.ZeroFill = os.Getenv(childZero) == "1"
	childOpening.Store(true)
	l, err := mmaplog.Open(dir, opts)
	childOpening.Store(false)
	if err != nil {
		report("E open: %v", err)
		return 2
	}
	report("R %d", l.State().Last.Index)
	for i := 0; i < 400; i++ {
		op := g.Next()
		switch op.Kind {
		case Flush, Sync:
			step := o.Steps()
			done := make(chan struct{})
			if err := l.Flush(func(err error) {
				if err == nil {
					report("A %d", step)
				}
				close(done)
			}); err != nil {
				report("E flush: %v", err)
				return 2
			}
			if op.Kind == Sync {
				<-done
			}
			continue
		case Reopen:
			continue // the parent's kill is the reopen
		}
		if err := op.Do(l); err != nil {
			report("E %v: %v", op, err)
			return 2
		}
		o.Apply(op)
		report("W %d", o.Steps())
	}
	report("D")
	time.Sleep(time.Hour) // wait for the kill
	return 0
}

// f7Workload returns the oracle and generator of a child with seed, on
// top of the log the parent recorded in the base file (see f7Base).
func f7Workload(seed uint64) (*Oracle, *Gen) {
	o := NewOracle()
	if b := os.Getenv(childBase); b != "" {
		data, err := os.ReadFile(b)
		if err == nil {
			o = decodeOracleBase(data)
		}
	}
	g := NewGen(rand.New(rand.NewPCG(seed, 7)), o)
	g.NoReopen = true
	g.MaxPayload = 64 << 10 // keep the child's writes quick
	return o, g
}

// f7Seed runs a chain of kills on one directory.
func f7Seed(t *testing.T, fam *family, seed uint64, points []string) error {
	t.Helper()
	dir := t.TempDir()
	logd := filepath.Join(dir, "log")
	base := filepath.Join(dir, "base")
	rng := rand.New(rand.NewPCG(seed, 8))
	for k := range f7Chain {
		want, res, point, err := killChild(logd, base, seed, k, rng, points, 500*time.Millisecond)
		if err != nil {
			return err
		}
		fam.add("kills", 1)
		if point != "" && res.selfKilled {
			fam.add("at-named-points", 1)
		}
		// Recover a copy now and check it.
		cp := filepath.Join(dir, fmt.Sprintf("post%d", k))
		if err := logtest.CopyTree(logd, cp); err != nil {
			return err
		}
		l, err := mmaplog.Open(cp, options(nil))
		if err != nil {
			return fmt.Errorf("kill %d (point %q, after write %d): open: %w", k, point, res.written, err)
		}
		lo := max(res.written, res.acked) // a kill keeps every completed write
		step, err := want.Check(l, lo)
		_ = l.Close()
		if err != nil {
			return fmt.Errorf("kill %d (point %q, after write %d, acked %d): %w", k, point, res.written, res.acked, err)
		}
		// The next child starts from this step.
		want.Rewind(step)
		if err := os.WriteFile(base, encodeOracleBase(want), 0o644); err != nil {
			return err
		}
		_ = os.RemoveAll(cp)
	}
	return nil
}

// killChild runs child k of seed's chain on logd until it is killed: at a
// named point drawn from points one time in three, else after a random
// 1 ms to maxAfter. want is what the parent computed the child would do;
// err also reports a child that failed, or whose own recovery of the
// directory differs from the parent's (want's step 0; I5).
func killChild(logd, base string, seed uint64, k int, rng *rand.Rand, points []string, maxAfter time.Duration, env ...string) (want *Oracle, res *childResult, point string, err error) {
	childSeed := seed*16 + uint64(k)
	if rng.IntN(3) == 0 {
		point = fmt.Sprintf("%s:%d", points[rng.IntN(len(points))], 1+rng.IntN(12))
	}
	if want, err = f7Expected(base, childSeed); err != nil {
		return nil, nil, point, err
	}
	before := want.StateAt(0).Last.Index
	after := time.Millisecond + time.Duration(rng.Int64N(int64(maxAfter)))
	if res, err = runChild(logd, base, childSeed, point, after, env...); err != nil {
		return nil, nil, point, fmt.Errorf("child %d (point %q): %w", k, point, err)
	}
	if res.err != "" {
		return nil, nil, point, fmt.Errorf("child %d (point %q): child: %s", k, point, res.err)
	}
	if k > 0 && res.recovered >= 0 && uint64(res.recovered) != before {
		return nil, nil, point, fmt.Errorf("child %d: the child recovered Last %d, the parent's recovery of the same directory %d (I5)", k, res.recovered, before)
	}
	return want, res, point, nil
}

func f7Expected(base string, seed uint64) (*Oracle, error) {
	o := NewOracle()
	if data, err := os.ReadFile(base); err == nil {
		o = decodeOracleBase(data)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	g := NewGen(rand.New(rand.NewPCG(seed, 7)), o)
	g.NoReopen = true
	g.MaxPayload = 64 << 10
	for range 400 {
		op := g.Next()
		if op.Kind != Flush && op.Kind != Sync && op.Kind != Reopen {
			o.Apply(op)
		}
	}
	return o, nil
}

type childResult struct {
	written, acked int   // the last "W" and "A" steps reported
	recovered      int64 // Last after the child's recovery (-1: not reported)
	selfKilled     bool
	err            string
}

func runChild(dir, base string, seed uint64, point string, after time.Duration, env ...string) (*childResult, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childSeed+"="+strconv.FormatUint(seed, 10), childPoint+"="+point)
	cmd.Env = append(cmd.Env, env...)
	if _, err := os.Stat(base); err == nil {
		cmd.Env = append(cmd.Env, childBase+"="+base)
	}
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	_ = w.Close()
	res := &childResult{recovered: -1}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timer := time.NewTimer(after)
	if point != "" {
		timer.Reset(10 * time.Second) // the child kills itself; this is a fallback
	}
	defer timer.Stop()
	killed := false
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			f7Parse(res, line)
			if line == "D" && !killed {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		case <-timer.C:
			if !killed {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
	}
	err = cmd.Wait()
	_ = r.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.selfKilled = !killed
			return res, nil
		}
	}
	if res.err == "" {
		res.err = fmt.Sprintf("exit %v; stderr: %s", err, tail(stderr.String()))
	}
	return res, nil
}

func f7Parse(res *childResult, line string) {
	kind, rest, _ := strings.Cut(line, " ")
	n, _ := strconv.ParseInt(rest, 10, 64)
	switch kind {
	case "W":
		res.written = max(res.written, int(n))
	case "A":
		res.acked = max(res.acked, int(n))
	case "R":
		res.recovered = n
	case "E":
		res.err = rest
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// f7BaseState is what a child starts from: the log the parent recovered
// after the previous kill.
type f7BaseState struct {
	State   mmaplog.State
	Entries []mmaplog.Entry
	// HasUserData tells empty user data (set) from nil (cleared): gob
	// decodes both as nil.
	HasUserData bool
}

func encodeOracleBase(o *Oracle) []byte {
	b := f7BaseState{State: o.State()}
	b.HasUserData = b.State.UserData != nil
	for x := o.First(); x <= b.State.Last.Index; x++ {
		if e, ok := o.Entry(x); ok {
			b.Entries = append(b.Entries, e)
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(b); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// decodeOracleBase returns an oracle whose step 0 is the encoded log.
func decodeOracleBase(data []byte) *Oracle {
	var b f7BaseState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&b); err != nil {
		panic(err)
	}
	if b.HasUserData && b.State.UserData == nil {
		b.State.UserData = []byte{}
	}
	o, err := NewOracleAt(b.State, b.Entries)
	if err != nil {
		panic(err)
	}
	return o
}

// killFS is the child's file system: the real one, with the process
// killing itself at a named point ("op-before:n", "op-after:n" for the
// n-th msync, syncdir, rename or remove; "open-recovery:n" for the n-th
// operation of Open).
type killFS struct {
	vfs.FS
	op     string
	before bool
	n      int64
	seen   atomic.Int64
}

var childOpening atomic.Bool

func newKillFS(point string) *killFS {
	name, num, _ := strings.Cut(point, ":")
	n, _ := strconv.ParseInt(num, 10, 64)
	op, when, _ := strings.Cut(name, "-")
	return &killFS{FS: vfs.OS, op: op, before: when == "before", n: n}
}

func (k *killFS) at(op string, do func() error) error {
	hit := false
	if k.op == "open" {
		hit = childOpening.Load() && k.seen.Add(1) == k.n
	} else if op == k.op {
		hit = k.seen.Add(1) == k.n
	}
	if hit && (k.before || k.op == "open") {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	err := do()
	if hit {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return err
}

func (k *killFS) SyncDir(dir string) error {
	return k.at("syncdir", func() error { return k.FS.SyncDir(dir) })
}

func (k *killFS) Rename(a, b string) error {
	return k.at("rename", func() error { return k.FS.Rename(a, b) })
}

func (k *killFS) Remove(p string) error {
	return k.at("remove", func() error { return k.FS.Remove(p) })
}

func (k *killFS) ReadDir(dir string) (names []string, err error) {
	err = k.at("readdir", func() error { names, err = k.FS.ReadDir(dir); return err })
	return names, err
}

func (k *killFS) Create(p string, size int64) (f vfs.File, err error) {
	err = k.at("create", func() error { f, err = k.FS.Create(p, size); return err })
	if f != nil {
		f = &killFile{File: f, k: k}
	}
	return f, err
}

func (k *killFS) Open(p string) (f vfs.File, err error) {
	err = k.at("openfile", func() error { f, err = k.FS.Open(p); return err })
	if f != nil {
		f = &killFile{File: f, k: k}
	}
	return f, err
}

type killFile struct {
	vfs.File
	k *killFS
}

func (f *killFile) Msync(off, n int64) error {
	return f.k.at("msync", func() error { return f.File.Msync(off, n) })
}

// The base a child starts from keeps set-but-empty user data apart from
// none (gob decodes both as nil), so an oracle built from it does not
// report a false mismatch after a kill.
func TestF7BaseKeepsEmptyUserData(t *testing.T) {
	for _, ud := range [][]byte{nil, {}, []byte("x")} {
		o, err := NewOracleAt(mmaplog.State{UserData: ud}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeOracleBase(encodeOracleBase(o)).State().UserData
		if (got == nil) != (ud == nil) || !bytes.Equal(got, ud) {
			t.Fatalf("user data %#v came back as %#v", ud, got)
		}
	}
}
