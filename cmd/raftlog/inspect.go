package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/raftlog/raftlog/recovery"
)

// openLogDir runs checkLogDir for command cmd; ok is false (and the error
// printed) when dir holds no readable log.
func (c *cli) openLogDir(cmd, dir string) (*logDir, bool) {
	d, err := checkLogDir(dir)
	if err != nil {
		c.failf(cmd, "%v", err)
		return nil, false
	}
	return d, true
}

// warnings prints what in d other users can reach.
func (c *cli) warnings(d *logDir) {
	for _, w := range permWarnings(d) {
		fmt.Fprintf(c.out, "warning   %s\n", w)
	}
}

func (c *cli) stat(dir string, fl digestFlags) int {
	if fl.to > 0 && fl.to < fl.from {
		return c.failf("stat", "-to %d is below -from %d: no entry can be in that range", fl.to, fl.from)
	}
	d, ok := c.openLogDir("stat", dir)
	if !ok {
		return exitError
	}
	rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Quick: true})
	if err != nil {
		return c.fail("stat", dir, err)
	}
	c.summary(rep)
	c.segments(rep)
	c.problems(rep)
	code := exitOK
	if fl.wanted() && rep.Status != recovery.StatusCorrupt {
		code = c.digests(dir, rep, fl)
	}
	c.warnings(d)
	if rep.Status == recovery.StatusCorrupt || code == exitCorrupt {
		fmt.Fprintf(c.out, "run `raftlog verify %s` for details\n", dir)
		return exitCorrupt
	}
	return code
}

func (c *cli) verify(dir string) int {
	d, ok := c.openLogDir("verify", dir)
	if !ok {
		return exitError
	}
	bar := newProgress(c.err, "verifying")
	rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Progress: bar.update})
	bar.finish()
	if err != nil {
		return c.fail("verify", dir, err)
	}
	c.summary(rep)
	c.segments(rep)
	c.problems(rep)
	c.warnings(d)
	if rep.Status != recovery.StatusCorrupt {
		fmt.Fprintf(c.out, "ok: %d records checked\n", rep.Records)
		return exitOK
	}
	c.plan(rep)
	fmt.Fprintf(c.out, "run `raftlog repair %s -yes` to repair it\n", dir)
	return exitCorrupt
}

func (c *cli) repair(dir string, yes bool) int {
	if _, ok := c.openLogDir("repair", dir); !ok {
		return exitError
	}
	if !yes {
		bar := newProgress(c.err, "verifying")
		rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Progress: bar.update})
		bar.finish()
		if err != nil {
			return c.fail("repair", dir, err)
		}
		if rep.Status != recovery.StatusCorrupt {
			c.summary(rep)
			fmt.Fprintln(c.out, "nothing to repair")
			return exitOK
		}
		c.problems(rep)
		c.plan(rep)
		fmt.Fprintf(c.out, "nothing changed: run `raftlog repair %s -yes` to do this\n", dir)
		return exitCorrupt
	}
	bar := newProgress(c.err, "repairing")
	rr, err := recovery.RepairWith(dir, recovery.ScanOptions{Progress: bar.update})
	bar.finish()
	if rr != nil {
		if merr := keepModes(dir, rr); merr != nil {
			fmt.Fprintf(c.err, "raftlog repair: %v\n", merr)
		}
	}
	if err != nil {
		if rr != nil && rr.Changed() {
			c.done(rr)
		}
		return c.fail("repair", dir, err)
	}
	if !rr.Changed() {
		c.summary(rr.After)
		fmt.Fprintln(c.out, "nothing to repair")
		return exitOK
	}
	c.problems(rr.Before)
	c.done(rr)
	c.summary(rr.After)
	if rr.After.Status == recovery.StatusCorrupt {
		c.problems(rr.After)
		return exitCorrupt
	}
	fmt.Fprintln(c.out, "repaired: the log opens")
	return exitOK
}

// keepModes gives the files Repair created the modes of the log's own:
// a *.broken copy its segment's, a new segment LOCK's (which the Log
// created with its Options.FileMode). Repair creates them private
// (vfs.DefaultPerm), which is never less safe; this keeps a log whose
// files are shared with a group shared. Files Repair renamed kept their
// modes already.
func keepModes(dir string, rr *recovery.RepairReport) error {
	var errs []error
	like := func(path, model string) {
		st, err := os.Stat(model)
		if err != nil {
			return // moved aside: the rename kept the mode
		}
		if cur, err := os.Stat(path); err == nil && cur.Mode().Perm() != st.Mode().Perm() {
			errs = append(errs, os.Chmod(path, st.Mode().Perm()))
		}
	}
	if rr.Created != "" { // first: a *.broken file below may be modeled on it
		like(rr.Created, filepath.Join(dir, recovery.LockName))
	}
	for _, b := range rr.Broken {
		if seg, _, ok := strings.Cut(filepath.Base(b), recovery.BrokenSuffix); ok {
			like(b, filepath.Join(dir, seg))
		}
	}
	return errors.Join(errs...)
}
