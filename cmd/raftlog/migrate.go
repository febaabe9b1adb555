package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

var migrateCommand = &command{
	name:     "migrate",
	flagsSyn: "-from boltdb|raftwal [-mode 0600] [-keys K,...] [-uint64-keys K,...]",
	args:     []string{"SRC", "DIR"},
	summary:  "copy a raft-boltdb or raft-wal store into a new log",
	about: `Copy the log and stable store of a github.com/hashicorp/raft node from
raft-boltdb or raft-wal into a new raftlog directory DIR, for switching the
node to hashiraft.Store. Stop the node first.

  -from boltdb   SRC is a raft-boltdb database file (usually raft.db),
                 written by raft-boltdb v1 (boltdb/bolt) or v2 (bbolt). It
                 is opened read-only. Every key of its stable store is
                 copied.
  -from raftwal  SRC is a raft-wal directory (the one holding
                 wal-meta.db). raft-wal itself opens it, and recovers it as
                 the node would at start. The keys hashicorp/raft writes
                 (CurrentTerm, LastVoteTerm, LastVoteCand) are copied; name
                 any others with -keys and -uint64-keys (raft-wal cannot
                 list its keys).

Every entry keeps its index. Once copied, DIR is read back from the disk
and compared with SRC entry by entry and key by key, and checked like
raftlog verify. The copy is built in DIR.migrating and renamed to DIR only
when complete, verified and synced: after a kill or a crash DIR does not
exist, and running the same command again removes DIR.migrating and starts
over. DIR must not exist or be an empty directory. Files are created with
-mode (directory: -mode plus x where it grants r); an existing empty DIR
keeps its mode. Run as root, migrate gives the new log the owner of the
existing DIR, or else of SRC, so that the node's user can open it. On a
terminal, a progress bar shows on stderr.`,
	exits: `  0  copied and verified; DIR holds the new log
  1  the copy read back differs from SRC (DIR is not created; please
     report it)
  2  a usage error; SRC missing, not a store of that kind, or in use by a
     running node; DIR not empty; an I/O or permission error; interrupted`,
	example: `  raftlog migrate -from boltdb /var/lib/consul/raft/raft.db /var/lib/consul/raft/log
  raftlog migrate -from raftwal /var/lib/nomad/server/raft/wal /var/lib/nomad/server/raft/log`,
	setup: func(fset *flag.FlagSet) func(*cli, []string) int {
		m := migrateFlags{mode: modeFlag(mmaplog.DefaultFileMode)}
		fset.StringVar(&m.from, "from", "", "the kind of store SRC is (required): `boltdb|raftwal`")
		fset.Var(&m.mode, "mode", "permission bits of the new log's files, in `octal`; 0640 lets a group read them")
		fset.Var(&m.keys, "keys", "extra stable keys to copy with Get/Set, `comma-separated`")
		fset.Var(&m.uint64Keys, "uint64-keys", "extra stable keys to copy with GetUint64/SetUint64, `comma-separated`")
		return func(c *cli, pos []string) int { return c.migrate(m, pos[0], pos[1]) }
	},
}

// migrateFlags are migrate's flags.
type migrateFlags struct {
	from             string
	mode             modeFlag
	keys, uint64Keys listFlag
}

// modeFlag is a file mode given in octal.
type modeFlag os.FileMode

func (f *modeFlag) String() string { return fmt.Sprintf("%#o", uint32(*f)) }

func (f *modeFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v&^0o777 != 0 || v&0o600 != 0o600 {
		return errors.New("want permission bits in octal that include owner read and write (0600, 0640, ...)")
	}
	*f = modeFlag(v)
	return nil
}

// listFlag is a comma-separated list.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

func (f *listFlag) Set(s string) error {
	for _, k := range strings.Split(s, ",") {
		if k == "" {
			return errors.New("an empty key")
		}
		*f = append(*f, k)
	}
	return nil
}

// migrateHook, when set (by tests), is called at each stage of a
// migration: "copy" after each batch, then "copied", "verified" and
// "renamed".
var migrateHook func(stage string, done, total uint64)

// migrateBatchBytes, when not 0 (set by tests), is the bytes copied per
// batch (hashiraft.MigrateOptions.BatchBytes).
var migrateBatchBytes int

func hook(stage string, done, total uint64) {
	if migrateHook != nil {
		migrateHook(stage, done, total)
	}
}

func (c *cli) migrate(m migrateFlags, srcPath, dir string) int {
	const cmd = "migrate"
	if m.from == "" {
		return c.failf(cmd, "-from is required: boltdb (a raft-boltdb file) or raftwal (a raft-wal directory)%s", guessFrom(srcPath))
	}
	if m.from != "boltdb" && m.from != "raftwal" {
		return c.failf(cmd, "-from %q: want boltdb (a raft-boltdb file) or raftwal (a raft-wal directory)", m.from)
	}
	dst, err := checkDest(dir)
	if err != nil {
		return c.failf(cmd, "%v", err)
	}
	src, err := openSource(m.from, srcPath, m.keys, m.uint64Keys)
	if err != nil {
		return c.failf(cmd, "%v", err)
	}
	defer func() { _ = src.close() }() // opened read-only (boltdb), or raft-wal, whose Close returns nil
	removed, err := dst.clearLeftover()
	if err != nil {
		return c.failf(cmd, "%v", err)
	}
	if removed {
		fmt.Fprintf(c.out, "removed   %s, left by an interrupted migration\n", dst.tmp)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := c.migrateInto(ctx, m, src, dst)
	if err != nil {
		if rerr := os.RemoveAll(dst.tmp); rerr != nil {
			fmt.Fprintf(c.err, "raftlog %s: remove %s: %v\n", cmd, dst.tmp, rerr)
		}
		if ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		if dst.existed {
			c.failf(cmd, "%v; %s was left as it was", err, dst.dir)
		} else {
			c.failf(cmd, "%v; %s was not created", err, dst.dir)
		}
		return code
	}
	return code
}

// migrateInto copies src into dst.tmp, verifies it and renames it to
// dst.dir. On error the caller removes dst.tmp.
func (c *cli) migrateInto(ctx context.Context, m migrateFlags, src *source, dst *dest) (int, error) {
	opts := mmaplog.Options{FileMode: os.FileMode(m.mode), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mopts := src.opts
	mopts.BatchBytes = migrateBatchBytes
	store, err := hashiraft.Open(dst.tmp, opts)
	if err != nil {
		return exitError, err
	}
	bar := newCountProgress(c.err, "copying")
	mopts.Progress = func(done, total uint64) {
		bar.update(int64(done), int64(total))
		hook("copy", done, total)
	}
	err = hashiraft.Migrate(ctx, store, src.logs, src.stable, mopts)
	bar.finish()
	if err = errors.Join(err, store.Close()); err != nil {
		return exitError, err
	}
	hook("copied", 0, 0)

	if store, err = hashiraft.Open(dst.tmp, opts); err != nil {
		return exitError, err
	}
	bar = newCountProgress(c.err, "verifying")
	mopts.Progress = func(done, total uint64) { bar.update(int64(done), int64(total)) }
	err = hashiraft.VerifyMigration(ctx, store, src.logs, src.stable, mopts)
	bar.finish()
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	keys := copiedKeys(store, mopts)
	if err = errors.Join(err, store.Close()); err != nil {
		if errors.Is(err, hashiraft.ErrMigrationMismatch) {
			return exitCorrupt, err
		}
		return exitError, err
	}
	rep, err := recovery.Verify(dst.tmp)
	if err != nil {
		return exitError, err
	}
	if rep.Status != recovery.StatusClean {
		return exitCorrupt, fmt.Errorf("the new log does not verify (%s): %w", rep.Status, rep.Err())
	}
	hook("verified", 0, 0)

	owner, err := dst.finish(src)
	if err != nil {
		return exitError, err
	}
	hook("renamed", 0, 0)

	entries := "no entries"
	if first > 0 {
		entries = fmt.Sprintf("entries %d..%d (%d)", first, last, last-first+1)
	}
	fmt.Fprintf(c.out, "copied    %s and %s from %s (%s)\n", entries, countText(len(keys), "stable key", "stable keys"), src.path, src.kind)
	if len(keys) > 0 {
		fmt.Fprintf(c.out, "keys      %s\n", strings.Join(keys, ", "))
	}
	fmt.Fprintf(c.out, "verified  every entry and key read back from the new log equals the source's; the log checks clean\n")
	fmt.Fprintf(c.out, "created   %s (%s)\n", dst.dir, owner)
	fmt.Fprintf(c.out, "next      point the node at %s (hashiraft.Open); keep %s until it runs\n", dst.dir, src.path)
	return exitOK, nil
}

// copiedKeys lists the stable keys the new log holds among those Migrate
// copies.
func copiedKeys(s *hashiraft.Store, opts hashiraft.MigrateOptions) []string {
	var keys []string
	for _, k := range append(append([][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm"), []byte("LastVoteCand")},
		opts.ExtraUint64Keys...), opts.ExtraKeys...) {
		if _, err := s.Get(k); err == nil {
			keys = append(keys, strconv.Quote(string(k)))
		}
	}
	return keys
}

// guessFrom suggests a -from for SRC.
func guessFrom(src string) string {
	st, err := os.Stat(src)
	switch {
	case err != nil:
		return ""
	case st.IsDir():
		if _, err := os.Stat(src + "/wal-meta.db"); err == nil {
			return "; SRC looks like raft-wal's: add -from raftwal"
		}
	case isBolt(src):
		return "; SRC looks like raft-boltdb's: add -from boltdb"
	}
	return ""
}

// ownerText describes who owns path and its mode.
func ownerText(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("mode %#o, owner %d:%d", st.Mode().Perm(), sys.Uid, sys.Gid)
	}
	return fmt.Sprintf("mode %#o", st.Mode().Perm())
}

// isNotExist reports a missing path.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
