package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one raftlog command and its documentation.
type command struct {
	name     string
	flagsSyn string   // the flags in the synopsis
	args     []string // the positional arguments, as the usage names them
	summary  string   // one line, for the overview
	about    string   // what it does
	exits    string   // its exit statuses
	example  string
	// setup defines the command's flags on fset and returns the function
	// that runs it with the positional arguments.
	setup func(fset *flag.FlagSet) func(c *cli, pos []string) int
}

var commands = []*command{
	{
		name:     "stat",
		flagsSyn: "[-digest] [-from N] [-to N]",
		args:     []string{"DIR"},
		summary:  "summarize the log (fast: reads what Open reads)",
		about: `Summarize the log in DIR: its state (last entry, commit, purge point, vote,
user data), the entries it holds, each segment and its index, and what Open
would do with it. Fast: it reads what Open reads (segment headers, trusted
indexes, the records after the last checkpoint), not every record; raftlog
verify reads everything. It takes a shared lock on DIR and changes nothing.
It warns when DIR or a file in it is open to other users.

With -digest it also reads every live entry and prints digests to compare
with another node's: one per segment (its live entries) and one over all
of them (or over -from..-to). A digest is a CRC-64 over each entry's term,
index and payload CRC-32C, in index order; two nodes holding the same
entries over the same range print the same digest for that range, whatever
their segment sizes (mmaplog's Log.Digest computes it on a running node).`,
		exits: `  0  the log opens: it was closed cleanly, or Open recovers it by itself
  1  damage found: run raftlog verify DIR for the details
  2  no log at DIR, a usage error, an I/O or permission error, or DIR is
     locked by a running node`,
		example: `  raftlog stat /var/lib/consul/raft/log
  raftlog stat -digest -from 1000 -to 2000 /var/lib/consul/raft/log`,
		setup: func(fset *flag.FlagSet) func(*cli, []string) int {
			var d digestFlags
			fset.BoolVar(&d.on, "digest", false, "read every live entry and print digests (per segment and over the range)")
			fset.Var(&d.from, "from", "digest only entries with index >= `N` (implies -digest; 0: from the first)")
			fset.Var(&d.to, "to", "digest only entries with index <= `N` (implies -digest; 0: to the last)")
			return func(c *cli, pos []string) int { return c.stat(pos[0], d) }
		},
	},
	{
		name:    "verify",
		args:    []string{"DIR"},
		summary: "check every record, the segment chain and every index",
		about: `Check the log in DIR without changing anything: every segment header and
the chain of segments, every record's checksum and chain link, every index
slot. Each problem is reported with its file, offset and entry, followed by
what raftlog repair would do about it. It takes a shared lock on DIR, so the
node must be stopped (a running node holds DIR locked). It warns when DIR or
a file in it is open to other users. On a terminal, a check that takes more
than a second shows a progress bar on stderr.`,
		exits: `  0  the log is sound (a torn tail, which Open cuts, is not damage)
  1  corruption found: raftlog repair DIR says what it would do
  2  no log at DIR, a usage error, an I/O or permission error, or DIR is
     locked by a running node`,
		example: `  raftlog verify /var/lib/consul/raft/log`,
		setup: func(fset *flag.FlagSet) func(*cli, []string) int {
			return func(c *cli, pos []string) int { return c.verify(pos[0]) }
		},
	},
	{
		name:     "dump",
		flagsSyn: "[-from N] [-to N] [-json]",
		args:     []string{"DIR"},
		summary:  "print the records as they are on disk",
		about: `Print the records of the log in DIR as they are on disk, segment by
segment: offset, type and contents of each record (entries, votes, commits,
truncations, purges, user data, state snapshots), and where each segment's
records stop and why. With -from or -to, only the entries in that range are
printed, one line each. dump does not judge what it prints (raftlog verify
does). It takes a shared lock on DIR and changes nothing.`,
		exits: `  0  the records were printed
  2  no log at DIR, a usage error, an I/O or permission error, or DIR is
     locked by a running node`,
		example: `  raftlog dump -from 100 -to 120 /var/lib/consul/raft/log
  raftlog dump -json /var/lib/consul/raft/log | jq 'select(.type == "Vote")'`,
		setup: func(fset *flag.FlagSet) func(*cli, []string) int {
			var d dumpFlags
			fset.Var(&d.from, "from", "print only entries with index >= `N` (0: from the first)")
			fset.Var(&d.to, "to", "print only entries with index <= `N` (0: to the last)")
			fset.BoolVar(&d.json, "json", false, "print one JSON object per line (payloads in base64)")
			return func(c *cli, pos []string) int { return c.dump(pos[0], d) }
		},
	},
	{
		name:     "repair",
		flagsSyn: "[-yes]",
		args:     []string{"DIR"},
		summary:  "cut the log at the first corruption (-yes: do it)",
		about: `Cut the log in DIR at its first corruption so that Open works again.
Without -yes, only say what would be done: which file is cut where, which
entries are lost (the node must fetch them again from the cluster) and what
is saved to *.broken files. With -yes, do it: every step is synced, and a
repair interrupted by a crash is finished by running it again. Files keep
their modes. A log that is sound, or whose torn tail Open cuts by itself, is
left untouched. It takes DIR's exclusive lock: stop the node first.`,
		exits: `  0  nothing to repair, or (with -yes) repaired: the log opens
  1  a repair is needed (without -yes, nothing was changed), or the log is
     still damaged after the repair
  2  no log at DIR, a usage error, an I/O or permission error, or DIR is
     locked by a running node`,
		example: `  raftlog repair /var/lib/consul/raft/log       # what would be done
  raftlog repair -yes /var/lib/consul/raft/log  # do it`,
		setup: func(fset *flag.FlagSet) func(*cli, []string) int {
			yes := fset.Bool("yes", false, "repair; without it, only say what would be done")
			return func(c *cli, pos []string) int { return c.repair(pos[0], *yes) }
		},
	},
	migrateCommand,
}

// lookup returns the command called name, nil when there is none.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func (cmd *command) synopsis() string {
	parts := []string{"raftlog", cmd.name}
	if cmd.flagsSyn != "" {
		parts = append(parts, cmd.flagsSyn)
	}
	return strings.Join(append(parts, cmd.args...), " ")
}

// usage prints the command's whole usage: synopsis, description, flags,
// exit statuses, example.
func (cmd *command) usage(w io.Writer, fset *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", cmd.synopsis(), cmd.about)
	fset.SetOutput(w)
	fset.PrintDefaults()
	fset.SetOutput(io.Discard)
	fmt.Fprintf(w, "  -h\n    \tprint this help\n\nexit status:\n%s\n\nexample:\n%s\n", cmd.exits, cmd.example)
}

var overview = func() string {
	var b strings.Builder
	b.WriteString("raftlog inspects, checks, repairs and creates raftlog log directories.\n\nusage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", c.synopsis(), c.summary)
	}
	b.WriteString(`
Run raftlog help COMMAND (or raftlog COMMAND -h) for a command's flags, exit
statuses and an example.

exit status: 0 sound (or done), 1 damage found or a repair needed, 2 a usage
error, no log at DIR, an I/O or permission error, or DIR locked by another
process
`)
	return b.String()
}()
