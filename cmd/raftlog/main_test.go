package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// The tests build the real binary and run it on real logs written by
// mmaplog.

var raftlogBin string

func TestMain(m *testing.M) {
	if stage := os.Getenv(childEnv); stage != "" {
		os.Exit(migrateChild(stage))
	}
	dir, err := os.MkdirTemp("", "raftlog-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Searchable by all, so that a test can run the binary as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	raftlogBin = filepath.Join(dir, "raftlog")
	if out, err := exec.Command("go", "build", "-o", raftlogBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// raftlog runs the binary.
func raftlog(t *testing.T, args ...string) result {
	t.Helper()
	return runBinary(t, nil, args...)
}

// runBinary runs the binary, as the user cred when not nil. A command
// that hangs (on a named pipe, say) is killed after 30 s and fails the
// test.
func runBinary(t *testing.T, cred *syscall.Credential, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, raftlogBin, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("raftlog %v hung: killed after 30 s", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run raftlog %v: %v", args, err)
	}
	t.Logf("raftlog %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return result{code, out.String(), errb.String()}
}

func expectCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

func expectOutput(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Fatalf("output lacks %q:\n%s", p, out)
		}
	}
}

var opts = mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

func payload(i uint64) []byte { return fmt.Appendf(nil, "payload of entry %d", i) }

// writeLog appends entries 1..n in synced batches of 10 and returns a copy
// of the directory taken while the Log is open (a kill -9), or the
// directory after a clean Close.
func writeLog(t *testing.T, n uint64, crash bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log") // created by Open, with its mode
	l := logtest.MustOpen(t, dir, opts)
	for i := uint64(1); i <= n; i++ {
		logtest.MustAppend(t, l, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload(i)})
		if i%10 == 0 {
			logtest.MustSync(t, l)
		}
	}
	if err := l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	if crash {
		dir = logtest.CopyDir(t, dir)
	}
	logtest.MustClose(t, l)
	return dir
}

// entryOffset finds the record of entry idx in segment 1 by following the chain.
func entryOffset(t *testing.T, path string, idx uint64) int64 {
	t.Helper()
	data := logtest.ReadFile(t, path)
	_, prev, err := format.ReadSegmentHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(format.SegmentHeaderSize); ; {
		r, err := format.ReadRecord(data, off)
		if err != nil || r.Prev != prev {
			t.Fatalf("entry %d not found", idx)
		}
		if r.Type == format.TypeEntry {
			if id, _ := format.EntryID(r.Body); id.Index == idx {
				return off
			}
		}
		prev, off = r.CRC, off+r.Size
	}
}

// TestRepairEndToEnd damages a real log, finds the damage with verify,
// repairs it, and opens the log again.
func TestRepairEndToEnd(t *testing.T) {
	dir := writeLog(t, 40, true)
	seg := format.SegmentName(1)
	off := entryOffset(t, filepath.Join(dir, seg), 10)
	logtest.WriteAt(t, filepath.Join(dir, seg), off+format.FrameSize+format.EntryHeadSize+3, []byte{0xff})
	if _, err := mmaplog.Open(dir, opts); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Open of the damaged log: %v, want ErrCorrupt", err)
	}
	before := logtest.Snapshot(t, dir)

	r := raftlog(t, "verify", dir)
	expectCode(t, r, exitCorrupt)
	expectOutput(t, r.stdout, "PROBLEM", seg, fmt.Sprintf("offset %d", off), "(entry 10)", "LOST entries 10..40", "repair "+dir+" -yes")

	r = raftlog(t, "stat", dir)
	expectCode(t, r, exitCorrupt)
	expectOutput(t, r.stdout, seg, fmt.Sprintf("offset %d", off), "(entry 10)")

	r = raftlog(t, "repair", dir)
	expectCode(t, r, exitCorrupt)
	expectOutput(t, r.stdout, "would cut "+seg+fmt.Sprintf(" at offset %d", off), "nothing changed")
	logtest.Unchanged(t, "verify, stat and repair without -yes", before, dir)

	r = raftlog(t, "repair", dir, "-yes")
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "saved     "+seg+".broken", "repaired")
	if _, err := os.Stat(filepath.Join(dir, seg+".broken")); err != nil {
		t.Fatal(err)
	}

	r = raftlog(t, "verify", dir)
	expectCode(t, r, exitOK)

	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	if st := l.State(); st.Last.Index != 9 || st.Vote != (mmaplog.Vote{Term: 1, NodeID: 1}) {
		t.Fatalf("after repair: last %v vote %v, want 9 and the vote (restored from beyond the cut)", st.Last, st.Vote)
	}
	for i := uint64(1); i <= 9; i++ {
		e, err := l.Get(i)
		if err != nil || !bytes.Equal(e.Payload, payload(i)) {
			t.Fatalf("Get(%d) after repair: %v %q", i, err, e.Payload)
		}
	}
	logtest.MustClose(t, l)
	r = raftlog(t, "repair", dir, "-yes")
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "nothing to repair")
}

func TestVerifyClean(t *testing.T) {
	dir := writeLog(t, 25, false)
	r := raftlog(t, "verify", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "status    clean", "entries   1..25 (25)", "vote 1:1", "ok: ")
	if r.stderr != "" {
		t.Fatalf("stderr is not a terminal, yet: %q", r.stderr)
	}
	r = raftlog(t, "stat", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "status    clean", format.SegmentName(1), "index trusted")
}

func TestVerifyTornTail(t *testing.T) {
	dir := writeLog(t, 25, true)
	seg := filepath.Join(dir, format.SegmentName(1))
	off := entryOffset(t, seg, 25)
	// Entry 25 and the vote after it were synced, but nothing durable was
	// written after them: damage there is a torn tail (the one ambiguity).
	logtest.WriteAt(t, seg, off+format.FrameSize+format.EntryHeadSize, []byte{0xee})
	r := raftlog(t, "verify", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "status    torn-tail", fmt.Sprintf("torn tail %s offset %d (entry 25 on)", format.SegmentName(1), off))
	r = raftlog(t, "repair", dir, "-yes")
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "nothing to repair")
}

func TestLocked(t *testing.T) {
	dir := writeLog(t, 5, false)
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, args := range [][]string{{"stat", dir}, {"verify", dir}, {"dump", dir}, {"repair", dir}, {"repair", dir, "-yes"}} {
		r := raftlog(t, args...)
		expectCode(t, r, exitError)
		expectOutput(t, r.stderr, "is locked by another process")
	}
}

func TestUsage(t *testing.T) {
	dir := writeLog(t, 1, false)
	for _, args := range [][]string{
		{},
		{"frobnicate", dir},
		{"verify"},
		{"verify", dir, dir},
		{"dump", dir, "-from", "x"},
		{"dump", dir, "-from", "5", "-to", "2"},
		{"repair", dir, "-no"},
	} {
		r := raftlog(t, args...)
		expectCode(t, r, exitError)
		if r.stderr == "" {
			t.Fatalf("raftlog %v: no message on stderr", args)
		}
	}
	r := raftlog(t, "verify", filepath.Join(dir, "missing"))
	expectCode(t, r, exitError)
	r = raftlog(t, "help")
	expectCode(t, r, exitOK)
}

func TestDump(t *testing.T) {
	dir := writeLog(t, 30, false)
	r := raftlog(t, "dump", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "segment 1 "+format.SegmentName(1), "R-00000 [64, ", "State(", "Entry(1-30, ", "Vote(1:1)", "  end at ")

	r = raftlog(t, "dump", "-from", "3", "-to", "5", dir)
	expectCode(t, r, exitOK)
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Fatalf("dump -from 3 -to 5 printed %d lines", n)
	}

	r = raftlog(t, "dump", dir, "-json")
	expectCode(t, r, exitOK)
	var entries, stops int
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var rec struct {
			Type    string `json:"type"`
			Index   uint64 `json:"index"`
			Payload []byte `json:"payload"`
			Stop    string `json:"stop"`
			End     bool   `json:"end"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch {
		case rec.Stop != "":
			stops++
			if !rec.End {
				t.Fatalf("a clean log's records stop for %q", rec.Stop)
			}
		case rec.Type == "Entry":
			entries++
			if !bytes.Equal(rec.Payload, payload(rec.Index)) {
				t.Fatalf("entry %d payload %q", rec.Index, rec.Payload)
			}
		}
	}
	if entries != 30 || stops != 1 {
		t.Fatalf("json dump: %d entries, %d stops", entries, stops)
	}
	r = raftlog(t, "dump", dir, "-json", "-from", "29")
	expectCode(t, r, exitOK)
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Fatalf("dump -json -from 29 printed %d lines", n)
	}
}

// TestProgress: silent when stderr is not a terminal or the scan is
// quick; a bar once a scan on a terminal has run for a second.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "verifying") // a buffer is not a terminal
	p.start = p.start.Add(-2 * time.Second)
	p.update(10, 100)
	p.finish()
	if buf.Len() != 0 {
		t.Fatalf("progress on a non-terminal: %q", buf.String())
	}
	p = &progress{w: &buf, what: "verifying", on: true, start: time.Now()}
	p.update(10, 100)
	if p.bar != nil || buf.Len() != 0 {
		t.Fatal("a bar before a second has passed")
	}
	p.start = p.start.Add(-2 * time.Second)
	p.update(50, 100)
	p.finish()
	if p.bar == nil || !strings.Contains(buf.String(), "verifying") {
		t.Fatalf("no bar after a second: %q", buf.String())
	}

	buf.Reset()
	p = newCountProgress(&buf, "copying") // not a terminal
	p.start = p.start.Add(-2 * time.Second)
	p.update(10, 100)
	p.finish()
	if buf.Len() != 0 {
		t.Fatalf("count progress on a non-terminal: %q", buf.String())
	}
	p.on = true
	p.update(50, 100)
	p.finish()
	if !strings.Contains(buf.String(), "copying") || !strings.Contains(buf.String(), "entries") {
		t.Fatalf("no entry bar after a second: %q", buf.String())
	}
}
