package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"

	"github.com/raftlog/raftlog/cmd/raftlog/internal/peerjson"
	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// The migration tests write stores with the peer libraries themselves
// (raft-boltdb v1 on boltdb/bolt, raft-boltdb v2 on bbolt, raft-wal), run
// the real binary on them, and read both sides back with their own
// libraries.

// peer is one kind of source store.
type peer struct {
	name string // mkpeer's kind, and a test name
	from string // raftlog migrate -from
	file string // the SRC argument inside the store's directory
}

var peers = []peer{
	{"boltdb-v1", "boltdb", "raft.db"},
	{"boltdb-v2", "boltdb", "raft.db"},
	{"raftwal", "raftwal", "wal"},
}

// write creates a store under dir holding entries 11..n (1..10 were
// compacted away) and the stable keys peerUint64Keys and peerKeys, and
// returns the SRC argument.
func (p peer) write(t *testing.T, dir string, n uint64) string {
	t.Helper()
	path := filepath.Join(dir, p.file)
	in := peerjson.Store{Delete: []uint64{1, 10}, Uint64: peerUint64Keys, Keys: peerKeys}
	for i := uint64(1); i <= n; i++ {
		in.Logs = append(in.Logs, peerLog(i))
	}
	mkpeer(t, p.name, path, in)
	return path
}

var mkpeerBin struct {
	once sync.Once
	path string
	err  error
}

// mkpeer writes a store of kind at path with the peer library, in a helper
// process (see internal/mkpeer for why).
func mkpeer(t *testing.T, kind, path string, in peerjson.Store) {
	t.Helper()
	mkpeerBin.once.Do(func() {
		mkpeerBin.path = filepath.Join(filepath.Dir(raftlogBin), "mkpeer")
		out, err := exec.Command("go", "build", "-o", mkpeerBin.path, "./internal/mkpeer").CombinedOutput()
		if err != nil {
			mkpeerBin.err = fmt.Errorf("go build ./internal/mkpeer: %w\n%s", err, out)
		}
	})
	if mkpeerBin.err != nil {
		t.Fatal(mkpeerBin.err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mkpeerBin.path, kind, path)
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkpeer %s %s: %v\n%s", kind, path, err, out)
	}
}

// The stable keys of a test store: hashicorp/raft's and one of the
// application's.
var (
	peerUint64Keys = map[string]uint64{"CurrentTerm": 7, "LastVoteTerm": 7}
	peerKeys       = map[string]string{"LastVoteCand": "node-2", "app-key": "app value"}
)

// peerLog is entry i of a test store: every type of field, some empty.
func peerLog(i uint64) *raft.Log {
	l := &raft.Log{Index: i, Term: 1 + i/500, Type: raft.LogCommand, Data: fmt.Appendf(nil, "command %d %s", i, strings.Repeat("x", int(i%97)))}
	switch {
	case i == 11:
		l.Type = raft.LogConfiguration
	case i%100 == 0:
		l.Type, l.Data = raft.LogNoop, nil
	}
	if i%3 == 0 {
		l.Extensions = fmt.Appendf(nil, "ext %d", i)
	}
	if i%7 != 0 {
		l.AppendedAt = time.Unix(1_700_000_000+int64(i), int64(i)*1001).UTC()
	}
	return l
}

// migrateArgs returns the migrate command line for p.
func migrateArgs(p peer, src, dir string) []string {
	args := []string{"migrate", "-from", p.from}
	if p.from == "raftwal" {
		args = append(args, "-keys", "app-key") // raft-wal cannot list its keys
	}
	return append(args, src, dir)
}

// checkMigrated reads the new log with hashiraft and compares every
// entry and key with what was written to the source.
func checkMigrated(t *testing.T, dir string, n uint64) {
	t.Helper()
	dst, err := hashiraft.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	first, err1 := dst.FirstIndex()
	last, err2 := dst.LastIndex()
	if err1 != nil || err2 != nil || first != 11 || last != n {
		t.Fatalf("entries %d (%v)..%d (%v), want 11..%d", first, err1, last, err2, n)
	}
	for i := uint64(11); i <= n; i++ {
		var got raft.Log
		if err := dst.GetLog(i, &got); err != nil {
			t.Fatal(err)
		}
		want := peerLog(i)
		if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i, got, *want)
		}
	}
	for k, v := range peerUint64Keys {
		if got, err := dst.GetUint64([]byte(k)); err != nil || got != v {
			t.Fatalf("%s = %d, %v; want %d", k, got, err, v)
		}
	}
	for k, v := range peerKeys {
		if got, err := dst.Get([]byte(k)); err != nil || string(got) != v {
			t.Fatalf("%s = %q, %v; want %q", k, got, err, v)
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	return sha256.Sum256(logtest.ReadFile(t, path))
}

// TestMigrate migrates a store of each peer library, under a permissive
// umask: every entry and key arrives, the new log verifies clean and is
// private, and a raft-boltdb source is not changed by a byte.
func TestMigrate(t *testing.T) {
	old := syscall.Umask(0) // the child inherits it
	defer syscall.Umask(old)
	const n = 1200
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			src := p.write(t, t.TempDir(), n)
			var sum [32]byte
			if p.from == "boltdb" {
				sum = fileSum(t, src)
			}
			dir := filepath.Join(t.TempDir(), "new", "log")
			r := raftlog(t, migrateArgs(p, src, dir)...)
			expectCode(t, r, exitOK)
			expectOutput(t, r.stdout, fmt.Sprintf("copied    entries 11..%d (%d) and 4 stable keys from %s", n, n-10, src),
				`"CurrentTerm", "LastVoteTerm", "LastVoteCand", "app-key"`, "verified  every entry and key", "created   "+dir+" (mode 0700")
			if r.stderr != "" {
				t.Fatalf("stderr is not a terminal, yet: %q", r.stderr)
			}
			if p.from == "boltdb" && fileSum(t, src) != sum {
				t.Fatal("migrate changed the raft-boltdb file")
			}
			if _, err := os.Stat(dir + migratingSuffix); !os.IsNotExist(err) {
				t.Fatalf("%s%s left behind: %v", dir, migratingSuffix, err)
			}
			r = raftlog(t, "verify", dir)
			expectCode(t, r, exitOK)
			if strings.Contains(r.stdout, "warning") {
				t.Fatalf("a migrated log is open to others:\n%s", r.stdout)
			}
			logtest.CheckModes(t, dir, 0o700, 0o600)
			checkMigrated(t, dir, n)
		})
	}
}

// childEnv makes the test binary run raftlog migrate itself, stopping at
// the stage the variable names (see migrateChild).
const childEnv = "RAFTLOG_TEST_MIGRATE_STOP"

// migrateChild runs the command line in os.Args in this process, in small
// batches, and at stage kills itself with SIGKILL ("copy": halfway through
// the copy). "interrupt" sends itself SIGINT halfway through the copy;
// "tamper" deletes the last entry of the copy before it is verified.
func migrateChild(stage string) int {
	migrateBatchBytes = 16 << 10
	migrateHook = func(s string, done, total uint64) {
		switch {
		case stage == "tamper" && s == "copied":
			if err := tamper(os.Args[len(os.Args)-1] + migratingSuffix); err != nil {
				fmt.Fprintln(os.Stderr, "tamper:", err)
				os.Exit(3)
			}
		case stage == "interrupt" && s == "copy" && done*2 >= total:
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
			time.Sleep(100 * time.Millisecond) // let the signal arrive
		case s == stage && (s != "copy" || (done*2 >= total && done < total)):
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

// tamper deletes the last entry of the Store in dir.
func tamper(dir string) error {
	s, err := hashiraft.Open(dir, opts)
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err == nil {
		err = s.DeleteRange(last, last)
	}
	return errors.Join(err, s.Close())
}

// TestMigrateMismatch: a copy that does not read back as the source is
// reported with exit status 1, and DIR is not created.
func TestMigrateMismatch(t *testing.T) {
	src := peers[1].write(t, t.TempDir(), 100)
	dir := filepath.Join(t.TempDir(), "log")
	cmd := exec.Command(os.Args[0], migrateArgs(peers[1], src, dir)...)
	cmd.Env = append(os.Environ(), childEnv+"=tamper")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitCorrupt {
		t.Fatalf("migrate of a tampered copy: %v, want exit status 1\n%s", err, out)
	}
	expectOutput(t, string(out), "migrated copy differs from its source: the copy holds entries [11, 99], the source [11, 100]", dir+" was not created")
	for _, p := range []string{dir, dir + migratingSuffix} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s: %v, want it absent", p, err)
		}
	}
}

// TestMigrateKilled kills migrate at each stage: DIR is either absent or
// complete, never a partial log, and the same command run again finishes
// the job.
func TestMigrateKilled(t *testing.T) {
	const n = 2000
	p := peers[1] // raft-boltdb v2
	src := p.write(t, t.TempDir(), n)
	for _, stage := range []string{"copy", "copied", "verified", "renamed", "interrupt"} {
		t.Run(stage, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			cmd := exec.Command(os.Args[0], migrateArgs(p, src, dir)...)
			cmd.Env = append(os.Environ(), childEnv+"="+stage)
			out, err := cmd.CombinedOutput()
			t.Logf("child stopped at %s: %v\n%s", stage, err, out)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v", err)
			}
			tmp := dir + migratingSuffix
			switch stage {
			case "interrupt":
				if ee.ExitCode() != exitError || !strings.Contains(string(out), "interrupted; "+dir+" was not created") {
					t.Fatalf("interrupted migrate: exit %d, %s", ee.ExitCode(), out)
				}
				if _, err := os.Stat(tmp); !os.IsNotExist(err) {
					t.Fatalf("interrupted migrate left %s: %v", tmp, err)
				}
			case "renamed":
				if ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child not killed: %v", err)
				}
				r := raftlog(t, "verify", dir)
				expectCode(t, r, exitOK)
				r = raftlog(t, migrateArgs(p, src, dir)...)
				expectCode(t, r, exitError)
				expectOutput(t, r.stderr, dir+" already holds a raftlog log")
				checkMigrated(t, dir, n)
				return
			default:
				if ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child not killed: %v", err)
				}
				if _, err := os.Stat(tmp); err != nil {
					t.Fatalf("no work directory after a kill at %s: %v", stage, err)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("after a kill at %s, %s exists (%v): a partial log could be opened", stage, dir, err)
			}
			r := raftlog(t, "stat", dir)
			expectCode(t, r, exitError)
			expectOutput(t, r.stderr, dir+" does not exist")

			r = raftlog(t, migrateArgs(p, src, dir)...)
			expectCode(t, r, exitOK)
			if stage != "interrupt" {
				expectOutput(t, r.stdout, "removed   "+tmp+", left by an interrupted migration")
			}
			checkMigrated(t, dir, n)
		})
	}
}

// TestMigrateModes: -mode sets the files' mode; an existing empty DIR
// keeps its mode; as root, the new log gets SRC's owner, or the existing
// DIR's.
func TestMigrateModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	src := peers[1].write(t, t.TempDir(), 50)

	dir := filepath.Join(t.TempDir(), "log")
	r := raftlog(t, "migrate", "-from", "boltdb", "-mode", "0640", src, dir)
	expectCode(t, r, exitOK)
	logtest.CheckModes(t, dir, 0o750, 0o640)

	dir = filepath.Join(t.TempDir(), "log")
	if err := os.Mkdir(dir, 0o710); err != nil {
		t.Fatal(err)
	}
	r = raftlog(t, "migrate", "-from", "boltdb", src, dir)
	expectCode(t, r, exitOK)
	logtest.CheckModes(t, dir, 0o710, 0o600)

	if os.Geteuid() != 0 {
		t.Log("not root: the owner cases are skipped (only root can give files away)")
		return
	}
	if err := os.Chown(src, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "log")
	r = raftlog(t, "migrate", "-from", "boltdb", src, dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "owner 65534:65534")
	checkOwner(t, dir, 65534)

	dir = filepath.Join(t.TempDir(), "log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4321, 4321); err != nil {
		t.Fatal(err)
	}
	r = raftlog(t, "migrate", "-from", "boltdb", src, dir)
	expectCode(t, r, exitOK)
	checkOwner(t, dir, 4321)
}

func checkOwner(t *testing.T, dir string, uid uint32) {
	t.Helper()
	paths := []string{dir}
	for _, name := range logtest.Names(t, dir) {
		paths = append(paths, filepath.Join(dir, name))
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Sys().(*syscall.Stat_t).Uid; got != uid {
			t.Errorf("%s: owner %d, want %d", p, got, uid)
		}
	}
}

// TestMigrateEmptySource: a store with keys but no entries migrates.
func TestMigrateEmptySource(t *testing.T) {
	src := filepath.Join(t.TempDir(), "raft.db")
	mkpeer(t, "boltdb-v2", src, peerjson.Store{Uint64: map[string]uint64{"CurrentTerm": 3}})
	dir := filepath.Join(t.TempDir(), "log")
	r := raftlog(t, "migrate", "-from", "boltdb", src, dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "copied    no entries and 1 stable key", `keys      "CurrentTerm"`)
	dst, err := hashiraft.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if v, err := dst.GetUint64([]byte("CurrentTerm")); err != nil || v != 3 {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
}

// TestMigrateRefuses: every wrong source or destination is refused in one
// line that says what is wrong, before anything is created.
func TestMigrateRefuses(t *testing.T) {
	base := t.TempDir()
	at := func(name string) string { return filepath.Join(base, name) }
	boltSrc := at("bolt/raft.db")
	walSrc := at("wal")
	for _, d := range []string{"bolt", "empty", "full", "text"} {
		if err := os.Mkdir(at(d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	boltFile(t, boltSrc)
	walDir(t, walSrc)
	logtest.WriteFile(t, at("full/notes.txt"), []byte("keep me"))
	logtest.WriteFile(t, at("text/raft.db"), []byte("not a database"))
	logtest.WriteFile(t, at("file"), []byte("x"))
	logDir := writeLog(t, 3, false)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no -from", []string{boltSrc, at("new")}, "-from is required: boltdb (a raft-boltdb file) or raftwal (a raft-wal directory); SRC looks like raft-boltdb's: add -from boltdb"},
		{"no -from, raft-wal", []string{walSrc, at("new")}, "SRC looks like raft-wal's: add -from raftwal"},
		{"bad -from", []string{"-from", "etcd", boltSrc, at("new")}, `-from "etcd": want boltdb`},
		{"bad -mode", []string{"-from", "boltdb", "-mode", "0400", boltSrc, at("new")}, "invalid value \"0400\" for flag -mode: want permission bits in octal that include owner read and write"},
		{"decimal -mode", []string{"-from", "boltdb", "-mode", "9", boltSrc, at("new")}, "for flag -mode: want permission bits in octal"},
		{"missing source", []string{"-from", "boltdb", at("nope.db"), at("new")}, at("nope.db") + " does not exist"},
		{"bolt: a directory holding raft.db", []string{"-from", "boltdb", at("bolt"), at("new")}, "-from boltdb wants the database file: " + boltSrc},
		{"bolt: a raft-wal directory", []string{"-from", "boltdb", walSrc, at("new")}, walSrc + " is a raft-wal directory: use -from raftwal"},
		{"bolt: not a database", []string{"-from", "boltdb", at("text/raft.db"), at("new")}, "is not a bolt database, so not a raft-boltdb store"},
		{"bolt: raft-wal's meta file", []string{"-from", "boltdb", filepath.Join(walSrc, "wal-meta.db"), at("new")}, "is a bolt database but not a raft-boltdb store: it lacks the logs and conf buckets"},
		{"bolt: a device", []string{"-from", "boltdb", os.DevNull, at("new")}, "/dev/null is a device, not a raft-boltdb database file"},
		{"raftwal: a bolt file", []string{"-from", "raftwal", boltSrc, at("new")}, "is a file, not a raft-wal directory; if it is a raft-boltdb store, use -from boltdb"},
		{"raftwal: the meta file", []string{"-from", "raftwal", filepath.Join(walSrc, "wal-meta.db"), at("new")}, "is raft-wal's meta file; -from raftwal wants its directory: " + walSrc},
		{"raftwal: a raft-boltdb directory", []string{"-from", "raftwal", at("bolt"), at("new")}, "holds no raft-wal store but raft.db: use -from boltdb " + boltSrc},
		{"raftwal: an empty directory", []string{"-from", "raftwal", at("empty"), at("new")}, at("empty") + " holds no raft-wal store (no wal-meta.db)"},
		{"destination not empty", []string{"-from", "boltdb", boltSrc, at("full")}, at("full") + " is not empty (1 entry (notes.txt)): migrate only into a new or empty directory"},
		{"destination holds a log", []string{"-from", "boltdb", boltSrc, logDir}, logDir + " already holds a raftlog log: move it away first"},
		{"destination is a file", []string{"-from", "boltdb", boltSrc, at("file")}, at("file") + " exists and is not a directory"},
		{"destination below a file", []string{"-from", "boltdb", boltSrc, at("file/log")}, "cannot create " + at("file/log") + ": " + at("file") + " is a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := logtest.Names(t, base)
			r := raftlog(t, append([]string{"migrate"}, tc.args...)...)
			expectCode(t, r, exitError)
			expectOutput(t, r.stderr, "raftlog migrate: ", tc.want)
			if n := strings.Count(r.stderr, "\n"); n != 1 || r.stdout != "" {
				t.Fatalf("%d lines on stderr and %q on stdout, want one line on stderr only", n, r.stdout)
			}
			if after := logtest.Names(t, base); !slices.Equal(before, after) {
				t.Fatalf("a refused migrate changed %s: %v became %v", base, before, after)
			}
		})
	}
	if b, err := os.ReadFile(at("full/notes.txt")); err != nil || string(b) != "keep me" {
		t.Fatalf("the non-empty destination was touched: %q, %v", b, err)
	}
}

// TestMigrateInUse: a source a running node holds, and a migration
// already running into DIR, are refused; a leftover work directory with
// files migrate does not make is not deleted.
func TestMigrateInUse(t *testing.T) {
	base := t.TempDir()
	boltSrc := filepath.Join(base, "raft.db")
	bs, err := raftboltdb.NewBoltStore(boltSrc)
	if err != nil {
		t.Fatal(err)
	}
	r := raftlog(t, "migrate", "-from", "boltdb", boltSrc, filepath.Join(base, "new"))
	expectCode(t, r, exitError)
	expectOutput(t, r.stderr, boltSrc+" is in use by another process (a running node?): stop it first")
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}

	walSrc := filepath.Join(base, "wal")
	walDir(t, walSrc)
	// raft-wal's Close does not release its meta file: w holds it locked
	// until this process exits, as a running node would.
	w, err := raftwal.Open(walSrc, raftwal.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	r = raftlog(t, "migrate", "-from", "raftwal", walSrc, filepath.Join(base, "new"))
	expectCode(t, r, exitError)
	expectOutput(t, r.stderr, walSrc+" is in use by another process (a running node?): stop it first")
	_ = w.Close()

	dir := filepath.Join(base, "new")
	l, err := mmaplog.Open(dir+migratingSuffix, opts) // a migration at work
	if err != nil {
		t.Fatal(err)
	}
	r = raftlog(t, "migrate", "-from", "boltdb", boltSrc, dir)
	expectCode(t, r, exitError)
	expectOutput(t, r.stderr, "another raftlog migrate into "+dir+" is running")
	logtest.MustClose(t, l)
	logtest.WriteFile(t, filepath.Join(dir+migratingSuffix, "mine.txt"), []byte("x"))
	r = raftlog(t, "migrate", "-from", "boltdb", boltSrc, dir)
	expectCode(t, r, exitError)
	expectOutput(t, r.stderr, "holds mine.txt, which raftlog migrate does not make: move the directory away")
	if _, err := os.Stat(filepath.Join(dir+migratingSuffix, format.SegmentName(1))); err != nil {
		t.Fatalf("the work directory was touched: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s created: %v", dir, err)
	}
}
