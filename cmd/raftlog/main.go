package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/raftlog/raftlog/mmaplog"
)

// Exit statuses.
const (
	exitOK      = 0
	exitCorrupt = 1 // damage found, a repair needed, a copy that differs
	exitError   = 2 // usage error, no log, I/O error, directory locked
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{out: stdout, err: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, overview)
		return exitError
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return c.help(args[1:])
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "raftlog: unknown command %q; the commands are %s (run `raftlog help`)\n", args[0], commandNames())
		return exitError
	}
	fset := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	runCmd := cmd.setup(fset)
	pos, code, ok := c.parse(cmd, fset, args[1:])
	if !ok {
		return code
	}
	return runCmd(c, pos)
}

// help prints the overview, or one command's whole usage.
func (c *cli) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.out, overview)
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil || len(args) > 1 {
		fmt.Fprintf(c.err, "raftlog help: want one of %s, got %q\n", commandNames(), strings.Join(args, " "))
		return exitError
	}
	fset := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.setup(fset)
	cmd.usage(c.out, fset)
	return exitOK
}

type cli struct {
	out, err io.Writer
}

// parse parses the flags, which may come before or after the positional
// arguments (up to a "--"), and checks that there are cmd.nargs of those.
// -h prints the command's usage on stdout. When ok is false, code is the
// exit status.
func (c *cli) parse(cmd *command, fset *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	fset.SetOutput(io.Discard) // errors are printed below, in one line
	for {
		err := fset.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			cmd.usage(c.out, fset)
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(c.err, "raftlog %s: %v (run `raftlog %s -h`)\n", cmd.name, err, cmd.name)
			return nil, exitError, false
		}
		rest := fset.Args()
		if len(rest) == 0 {
			break
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != len(cmd.args) {
		fmt.Fprintf(c.err, "raftlog %s: want %s, got %s (run `raftlog %s -h`)\n",
			cmd.name, strings.Join(cmd.args, " "), argsText(pos), cmd.name)
		return nil, exitError, false
	}
	for i, p := range pos {
		if p == "" {
			fmt.Fprintf(c.err, "raftlog %s: %s is an empty string\n", cmd.name, cmd.args[i])
			return nil, exitError, false
		}
	}
	return pos, 0, true
}

func argsText(pos []string) string {
	switch len(pos) {
	case 0:
		return "no argument"
	case 1:
		return fmt.Sprintf("one argument (%q)", pos[0])
	}
	return fmt.Sprintf("%d arguments (%q)", len(pos), pos)
}

// failf prints an error line for command cmd and returns exitError.
func (c *cli) failf(cmd, format string, args ...any) int {
	fmt.Fprintf(c.err, "raftlog %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return exitError
}

// fail reports an error that is not corruption, in the terms an operator
// acts on, and returns exitError.
func (c *cli) fail(cmd, dir string, err error) int {
	if errors.Is(err, mmaplog.ErrLocked) {
		return c.failf(cmd, "%s is locked by another process (a running node, or another raftlog repair): stop it and try again\n  (%v)", dir, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrPermission) {
		return c.failf(cmd, "%s", permissionText(pe.Path))
	}
	return c.failf(cmd, "%v", err)
}

// permissionText explains a permission error on path.
func permissionText(path string) string {
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Sprintf("permission denied: cannot reach %s: run raftlog as the log's owner, or as root", path)
	}
	who := ""
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		who = fmt.Sprintf("it belongs to uid %d, mode %#o", sys.Uid, st.Mode().Perm())
	}
	return fmt.Sprintf("permission denied: cannot read %s (%s): run raftlog as that user, or as root", path, who)
}
