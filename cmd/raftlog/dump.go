package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/raftlog/raftlog/recovery"
)

// dumpFlags are dump's flags.
type dumpFlags struct {
	from, to indexFlag
	json     bool
}

// indexFlag is an entry index given on the command line. Its errors say
// what an index is, where flag.Uint64 would say "invalid syntax".
type indexFlag uint64

func (f *indexFlag) String() string { return strconv.FormatUint(uint64(*f), 10) }

func (f *indexFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("too large: an entry index is at most %d", uint64(1<<64-1))
	}
	if err != nil {
		return errors.New("not an entry index (a whole number, 1 or more; 0 for no limit)")
	}
	*f = indexFlag(v)
	return nil
}

func (c *cli) dump(dir string, fl dumpFlags) int {
	from, to := uint64(fl.from), uint64(fl.to)
	if to > 0 && to < from {
		return c.failf("dump", "-to %d is below -from %d: no entry can be in that range", to, from)
	}
	if _, ok := c.openLogDir("dump", dir); !ok {
		return exitError
	}
	d := &dumper{w: c.out, json: fl.json, filter: from > 0 || to > 0, from: from, to: to}
	if to == 0 {
		d.to = ^uint64(0)
	}
	bar := newProgress(c.err, "reading")
	err := recovery.Walk(dir, func(it recovery.WalkItem) error {
		bar.update(it.Done, it.Total)
		return d.item(it)
	})
	bar.finish()
	if err != nil {
		return c.fail("dump", dir, err)
	}
	if d.filter && d.printed == 0 {
		rng := "none"
		if d.seen {
			rng = fmt.Sprintf("%d..%d", d.min, d.max)
		}
		fmt.Fprintf(c.err, "raftlog dump: no entry %s on disk (the entries on disk: %s)\n", rangeText(from, to), rng)
	}
	return exitOK
}

// rangeText describes the -from/-to range.
func rangeText(from, to uint64) string {
	switch {
	case to == 0:
		return fmt.Sprintf("at or above %d", from)
	case from == 0:
		return fmt.Sprintf("at or below %d", to)
	}
	return fmt.Sprintf("in %d..%d", from, to)
}

// dumper formats Walk's items.
type dumper struct {
	w        io.Writer
	json     bool
	filter   bool
	from, to uint64

	printed  int    // entries printed under a filter
	seen     bool   // an entry record was found
	min, max uint64 // the lowest and highest entry index found
}

func (d *dumper) item(it recovery.WalkItem) error {
	if d.json {
		return d.jsonItem(it)
	}
	var err error
	switch {
	case it.Record == nil && it.Offset == 0:
		_, err = fmt.Fprintf(d.w, "segment %d %s: %v\n", it.Segment, base(it.Path), it.Stop)
	case it.Record == nil && !d.filter:
		if errors.Is(it.Stop, recovery.ErrUnwritten) {
			_, err = fmt.Fprintf(d.w, "  end at %d\n", it.Offset)
		} else {
			_, err = fmt.Fprintf(d.w, "  stop at %d: %v\n", it.Offset, it.Stop)
		}
	case it.Record == nil:
	default:
		if it.Seq == 0 && !d.filter {
			if _, err = fmt.Fprintf(d.w, "segment %d %s start=%d prevEnd=%d size=%d\n", it.Segment, base(it.Path), it.StartPos, it.PrevEnd, it.FileSize); err != nil {
				return err
			}
		}
		r := it.Record
		if d.filter && !d.wanted(r) {
			return nil
		}
		if d.filter {
			_, err = fmt.Fprintf(d.w, "%s [%d, %d) %s\n", base(it.Path), it.Offset, it.Offset+r.Size, r)
		} else {
			_, err = fmt.Fprintf(d.w, "  R-%05d [%d, %d) %s\n", it.Seq, it.Offset, it.Offset+r.Size, r)
		}
	}
	return err
}

// wanted reports whether r is an entry in the -from/-to range, and keeps
// count of the entries seen and wanted.
func (d *dumper) wanted(r *recovery.Record) bool {
	if r.Kind != recovery.KindEntry || r.Err != nil {
		return false
	}
	id := r.Entry
	if !d.seen || id.Index < d.min {
		d.min = id.Index
	}
	if !d.seen || id.Index > d.max {
		d.max = id.Index
	}
	d.seen = true
	if id.Index < d.from || id.Index > d.to {
		return false
	}
	d.printed++
	return true
}

func (d *dumper) jsonItem(it recovery.WalkItem) error {
	if it.Record == nil {
		if d.filter {
			return nil
		}
		return writeJSON(d.w, jsonStop{Segment: it.Segment, File: base(it.Path), Offset: it.Offset,
			End: errors.Is(it.Stop, recovery.ErrUnwritten), Stop: fmt.Sprint(it.Stop)})
	}
	r := it.Record
	if d.filter && !d.wanted(r) {
		return nil
	}
	return writeJSON(d.w, jsonRecordOf(it))
}
