package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/cmd/raftlog/internal/peerjson"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// The commands run as a new user would run them: on wrong, missing and
// hostile arguments. Each answer must be short, true and actionable, and
// nothing may be created where there is no log.

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// boltFile creates an empty raft-boltdb v2 store at path.
func boltFile(t *testing.T, path string) {
	t.Helper()
	mkpeer(t, "boltdb-v2", path, peerjson.Store{})
}

// walDir creates an empty raft-wal store in dir.
func walDir(t *testing.T, dir string) {
	t.Helper()
	mkpeer(t, "raftwal", dir, peerjson.Store{})
}

// TestNotALog: every command that reads DIR answers a path that holds no
// log with exit status 2 and says what the path is instead; none of them
// creates anything there.
func TestNotALog(t *testing.T) {
	seg1 := format.SegmentName(1)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the DIR argument
		want  []string
	}{
		{"empty directory", func(t *testing.T, dir string) string { t.Helper(); return dir }, []string{"no log in {dir}: the directory is empty"}},
		{"a file", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"))
			return filepath.Join(dir, "passwd")
		}, []string{"{dir}/passwd is a file, not a log directory", "segment files (" + segPattern}},
		{"below a file", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, "passwd"), []byte("x"))
			return filepath.Join(dir, "passwd", "raft")
		}, []string{"{dir}/passwd/raft is not a log directory: {dir}/passwd is a file"}},
		{"missing", func(t *testing.T, dir string) string { t.Helper(); return filepath.Join(dir, "nope") }, []string{"{dir}/nope does not exist"}},
		{"another program's files", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, "app.conf"), []byte("x"))
			logtest.WriteFile(t, filepath.Join(dir, "data.json"), []byte("{}"))
			return dir
		}, []string{"is not a log directory: it holds no segment file", "2 other entries (app.conf, data.json)", "check the path"}},
		{"a raft-boltdb directory", func(t *testing.T, dir string) string {
			t.Helper()
			boltFile(t, filepath.Join(dir, "raft.db"))
			return dir
		}, []string{"{dir} holds no raftlog log but a bolt database, raft.db", "raftlog migrate -from boltdb {dir}/raft.db NEWDIR"}},
		{"a raft-boltdb file", func(t *testing.T, dir string) string {
			t.Helper()
			boltFile(t, filepath.Join(dir, "raft.db"))
			return filepath.Join(dir, "raft.db")
		}, []string{"{dir}/raft.db is not a log directory but a bolt database file", "raftlog migrate -from boltdb {dir}/raft.db NEWDIR"}},
		{"a raft-wal directory", func(t *testing.T, dir string) string {
			t.Helper()
			walDir(t, dir)
			return dir
		}, []string{"{dir} holds a raft-wal store, not a raftlog log", "raftlog migrate -from raftwal {dir} NEWDIR"}},
		{"a segment file", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, seg1), []byte("x"))
			return filepath.Join(dir, seg1)
		}, []string{"{dir}/" + seg1 + " is a file of a log, not its directory: pass the directory, {dir}"}},
		{"only LOCK", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, format.LockName), nil)
			return dir
		}, []string{"no log in ", "holds no segment file", "only LOCK"}},
		{"only what repair set aside", func(t *testing.T, dir string) string {
			t.Helper()
			logtest.WriteFile(t, filepath.Join(dir, seg1+".broken"), []byte("x"))
			return dir
		}, []string{"no log in ", "only what raftlog repair set aside (" + seg1 + ".broken)"}},
		{"a device", func(t *testing.T, _ string) string { t.Helper(); return os.DevNull }, []string{"/dev/null is not a log directory: it is a device"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			arg := tc.setup(t, dir)
			before := logtest.Names(t, dir)
			want := []string{}
			for _, w := range tc.want {
				want = append(want, strings.ReplaceAll(w, "{dir}", dir))
			}
			for _, args := range [][]string{{"stat", arg}, {"verify", arg}, {"dump", arg}, {"repair", arg}, {"repair", "-yes", arg}} {
				r := raftlog(t, args...)
				expectCode(t, r, exitError)
				expectOutput(t, r.stderr, append([]string{"raftlog " + args[0] + ": "}, want...)...)
				if n := strings.Count(r.stderr, "\n"); n != 1 {
					t.Fatalf("raftlog %v: %d lines on stderr, want one", args, n)
				}
				if r.stdout != "" {
					t.Fatalf("raftlog %v printed a report for no log: %q", args, r.stdout)
				}
			}
			if after := logtest.Names(t, dir); !slices.Equal(before, after) {
				t.Fatalf("the commands changed %s: %v became %v", dir, before, after)
			}
		})
	}
}

// TestHostileFiles: a log whose files are not regular files is refused
// with the file's name, where recovery would block on a named pipe or fail
// with an obscure mapping error.
func TestHostileFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string) string // returns the spoiled file's name
		want  string
	}{
		{"LOCK is a named pipe", func(t *testing.T, dir string) string {
			t.Helper()
			p := filepath.Join(dir, format.LockName)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			mkfifo(t, p)
			return format.LockName
		}, "is a named pipe, not a file"},
		{"a segment is a named pipe", func(t *testing.T, dir string) string {
			t.Helper()
			mkfifo(t, filepath.Join(dir, format.SegmentName(2)))
			return format.SegmentName(2)
		}, "is a named pipe, not a file"},
		{"an index is a directory", func(t *testing.T, dir string) string {
			t.Helper()
			if err := os.Mkdir(filepath.Join(dir, format.IndexName(3)), 0o700); err != nil {
				t.Fatal(err)
			}
			return format.IndexName(3)
		}, "is a directory, not a file"},
		{"a segment is a dangling link", func(t *testing.T, dir string) string {
			t.Helper()
			if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, format.SegmentName(2))); err != nil {
				t.Fatal(err)
			}
			return format.SegmentName(2)
		}, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLog(t, 5, false)
			name := tc.spoil(t, dir)
			for _, cmd := range []string{"stat", "verify", "dump", "repair"} {
				r := raftlog(t, cmd, dir)
				expectCode(t, r, exitError)
				expectOutput(t, r.stderr, filepath.Join(dir, name), tc.want)
			}
		})
	}
}

// TestUnreadable runs the commands as a user who may not read the log:
// the answer names the file, its owner and mode, and what to do. As root
// (which reads everything), the binary runs as nobody; as any other user,
// the files are made unreadable to that user.
func TestUnreadable(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "log")
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	logtest.MustClose(t, l)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody
		// Let nobody reach the log through the test's own directories.
		for _, p := range []string{parent, filepath.Dir(parent)} {
			if err := os.Chmod(p, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if r := runBinary(t, cred, "stat", filepath.Join(parent, "missing")); !strings.Contains(r.stderr, "does not exist") {
			t.Skipf("cannot run the binary as nobody (uid 65534) on %s here: %s", parent, r.stderr)
		}
	}
	seg := filepath.Join(dir, format.SegmentName(1))
	for _, tc := range []struct {
		name string
		prep func(t *testing.T)
		path string // the file the answer names
	}{
		{"directory", func(t *testing.T) { t.Helper(); chmod(t, dir, 0o300, cred) }, dir},
		{"lock", func(t *testing.T) {
			t.Helper()
			chmod(t, dir, 0o755, cred)
			chmod(t, filepath.Join(dir, format.LockName), 0o200, cred)
		}, filepath.Join(dir, format.LockName)},
		{"segment", func(t *testing.T) {
			t.Helper()
			chmod(t, filepath.Join(dir, format.LockName), 0o606, cred) // repair may lock it
			chmod(t, seg, 0o200, cred)
		}, seg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prep(t)
			for _, cmd := range []string{"stat", "verify", "dump", "repair"} {
				r := runBinary(t, cred, cmd, dir)
				expectCode(t, r, exitError)
				expectOutput(t, r.stderr, "raftlog "+cmd+": permission denied: cannot read "+tc.path+" (it belongs to uid ", "run raftlog as that user, or as root")
			}
		})
	}
}

// chmod sets path's mode; as root (cred set) it takes the owner bits as
// the ones that apply to nobody, by giving them to others as well.
func chmod(t *testing.T, path string, mode os.FileMode, cred *syscall.Credential) {
	t.Helper()
	if cred != nil {
		mode |= (mode & 0o700) >> 6 // nobody is "others"
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestBadFlags: unknown flags, bad numbers, wrong argument counts, each
// answered in one line that says what is wrong and where the usage is.
func TestBadFlags(t *testing.T) {
	dir := writeLog(t, 25, false)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"stat", "-x", dir}, []string{"raftlog stat: flag provided but not defined: -x", "run `raftlog stat -h`"}},
		{[]string{"verify", "--deep", dir}, []string{"raftlog verify: flag provided but not defined: -deep"}},
		{[]string{"repair", dir, "-force"}, []string{"raftlog repair: flag provided but not defined: -force"}},
		{[]string{"migrate", "-x", dir, dir}, []string{"raftlog migrate: flag provided but not defined: -x"}},
		{[]string{"dump", "-from", "99999999999999999999999", dir}, []string{"-from", "too large: an entry index is at most 18446744073709551615"}},
		{[]string{"dump", "-to", "-1", dir}, []string{"-to", "not an entry index"}},
		{[]string{"dump", "-from", "x", dir}, []string{"-from", "not an entry index"}},
		{[]string{"dump", "-from", "5", "-to", "2", dir}, []string{"-to 2 is below -from 5"}},
		{[]string{"dump", "-from"}, []string{"flag needs an argument: -from"}},
		{[]string{"stat"}, []string{"raftlog stat: want DIR, got no argument"}},
		{[]string{"verify", dir, dir}, []string{"raftlog verify: want DIR, got 2 arguments"}},
		{[]string{"stat", ""}, []string{"raftlog stat: DIR is an empty string"}},
		{[]string{"migrate", dir}, []string{"raftlog migrate: want SRC DIR, got one argument"}},
		{[]string{"frobnicate", dir}, []string{`unknown command "frobnicate"`, "stat, verify, dump, repair, migrate"}},
		{[]string{"help", "frobnicate"}, []string{`raftlog help: want one of stat, verify, dump, repair, migrate, got "frobnicate"`}},
	} {
		r := raftlog(t, tc.args...)
		expectCode(t, r, exitError)
		expectOutput(t, r.stderr, tc.want...)
		if n := strings.Count(r.stderr, "\n"); n != 1 || r.stdout != "" {
			t.Fatalf("raftlog %q: %d lines on stderr and %q on stdout, want one line on stderr only", tc.args, n, r.stdout)
		}
	}

	// A range beyond the log is not an error, but it is said.
	r := raftlog(t, "dump", "-from", "100", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stderr, "raftlog dump: no entry at or above 100 on disk (the entries on disk: 1..25)")
	if r.stdout != "" {
		t.Fatalf("dump -from 100 printed %q", r.stdout)
	}
	// "--" ends the flags.
	r = raftlog(t, "dump", "-from", "25", "--", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, "Entry(1-25, ")
}

// TestHelp: raftlog CMD -h and raftlog help CMD print the same whole
// usage of CMD on stdout (its flags, exit statuses and an example) and
// exit 0; raftlog help and -h print the overview.
func TestHelp(t *testing.T) {
	flags := map[string][]string{
		"stat": {"-digest", "-from N", "-to N"}, "verify": nil, "dump": {"-from N", "-to N", "-json"},
		"repair": {"-yes"}, "migrate": {"-from boltdb|raftwal", "-mode octal", "-keys", "-uint64-keys"},
	}
	for _, cmd := range commands {
		h := raftlog(t, cmd.name, "-h")
		expectCode(t, h, exitOK)
		help := raftlog(t, "help", cmd.name)
		expectCode(t, help, exitOK)
		if h.stdout != help.stdout || h.stderr != "" || help.stderr != "" {
			t.Fatalf("raftlog %s -h and raftlog help %s differ:\n%s\n%s", cmd.name, cmd.name, h.stdout, help.stdout)
		}
		expectOutput(t, h.stdout, append([]string{"usage: raftlog " + cmd.name, "flags:", "  -h", "exit status:\n  0  ", "\n  2  ", "example:\n  raftlog " + cmd.name + " "}, flags[cmd.name]...)...)
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := raftlog(t, args...)
		expectCode(t, r, exitOK)
		expectOutput(t, r.stdout, "raftlog stat [-digest] [-from N] [-to N] DIR", "raftlog migrate -from boltdb|raftwal", "raftlog help COMMAND", "exit status:")
	}
	r := raftlog(t)
	expectCode(t, r, exitError)
	expectOutput(t, r.stderr, "raftlog stat [-digest] [-from N] [-to N] DIR")
}
