package main

import (
	"fmt"

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

func (c *cli) stat(dir string) int {
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
	c.warnings(d)
	if rep.Status == recovery.StatusCorrupt {
		fmt.Fprintf(c.out, "run `raftlog verify %s` for details\n", dir)
		return exitCorrupt
	}
	return exitOK
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
