package main

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// digestFlags are stat's digest flags.
type digestFlags struct {
	on       bool
	from, to indexFlag
}

func (f digestFlags) wanted() bool { return f.on || f.from > 0 || f.to > 0 }

// digests prints the digest of each segment's live entries in the range
// and of the whole range, and returns the exit status. rep names the
// segments.
func (c *cli) digests(dir string, rep *recovery.VerifyReport, fl digestFlags) int {
	type segDigest struct {
		id uint64
		d  mmaplog.Digest
	}
	var segs []segDigest
	var all mmaplog.Digest
	err := recovery.Entries(dir, uint64(fl.from), uint64(fl.to), func(seg uint64, id mmaplog.LogID, payload []byte) error {
		if len(segs) == 0 || segs[len(segs)-1].id != seg {
			segs = append(segs, segDigest{id: seg})
		}
		segs[len(segs)-1].d.Add(id, payload)
		all.Add(id, payload)
		return nil
	})
	var ce *mmaplog.CorruptError
	if errors.As(err, &ce) {
		fmt.Fprintf(c.out, "PROBLEM   %s\n", problemText(recovery.Problem{Kind: recovery.ProblemRecord, Err: ce}))
		return exitCorrupt
	}
	if err != nil {
		return c.fail("stat", dir, err)
	}
	fmt.Fprintf(c.out, "digests   CRC-64 of (term, index, payload CRC-32C) per live entry; equal ranges compare across nodes\n")
	names := map[uint64]string{}
	for _, s := range rep.Segments {
		names[s.ID] = base(s.Path)
	}
	for _, s := range segs {
		name, ok := names[s.id]
		if !ok {
			name = fmt.Sprintf("segment %d", s.id)
		}
		fmt.Fprintf(c.out, "  %s  %v\n", name, s.d)
	}
	rng := "all live entries"
	if fl.from > 0 || fl.to > 0 {
		rng = "entries " + rangeText(uint64(fl.from), uint64(fl.to))
	}
	fmt.Fprintf(c.out, "  %s: %v\n", rng, all)
	return exitOK
}
