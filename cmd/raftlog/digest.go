package main

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/recovery"
)

// digestFlags are stat's digest flags.
type digestFlags struct {
	on       bool
	from, to indexFlag
}

func (f digestFlags) wanted() bool { return f.on || f.from > 0 || f.to > 0 }

// digests prints the digest of each segment's live entries in the range
// and of the whole range, and returns the exit status.
func (c *cli) digests(dir string, fl digestFlags) int {
	type segDigest struct {
		id uint64
		d  raftstate.Digest
	}
	var segs []segDigest
	var all raftstate.Digest
	err := recovery.Entries(dir, uint64(fl.from), uint64(fl.to), func(seg uint64, id raftstate.LogID, payload []byte) error {
		if len(segs) == 0 || segs[len(segs)-1].id != seg {
			segs = append(segs, segDigest{id: seg})
		}
		segs[len(segs)-1].d.Add(id, payload)
		all.Add(id, payload)
		return nil
	})
	var ce *format.CorruptError
	if errors.As(err, &ce) {
		fmt.Fprintf(c.out, "PROBLEM   %s\n", problemText(recovery.Problem{Kind: recovery.ProblemRecord, Err: ce}))
		return exitCorrupt
	}
	if err != nil {
		return c.fail("stat", dir, err)
	}
	fmt.Fprintf(c.out, "digests   CRC-64 of (term, index, payload CRC-32C) per live entry; equal ranges compare across nodes\n")
	for _, s := range segs {
		fmt.Fprintf(c.out, "  %s  %v\n", format.SegmentName(s.id), s.d)
	}
	rng := "all live entries"
	if fl.from > 0 || fl.to > 0 {
		rng = "entries " + rangeText(uint64(fl.from), uint64(fl.to))
	}
	fmt.Fprintf(c.out, "  %s: %v\n", rng, all)
	return exitOK
}
