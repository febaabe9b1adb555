package recovery

import (
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// Entries calls fn, in index order, for every live entry of the log in dir
// with an index in [from, to] (to 0: up to the last): the entries Open
// recovers and a Log's Get returns, each with the ID of the segment that
// serves it (entries a later segment supersedes, a Truncate removed or a
// torn tail holds are left out). The payload aliases a read-only mapping
// and is valid only during the call.
//
// Like Verify it takes the directory's shared lock and maps the files
// read-only. It reads what Open reads plus each entry's record, which it
// checks (checksum, type, index): a damaged one, or a log Open would
// refuse, is a *CorruptError. It returns fn's first error.
func Entries(dir string, from, to uint64, fn func(seg uint64, id raftstate.LogID, payload []byte) error) error {
	return readDir(dir, func(d *dirView) error {
		res, err := d.Plan()
		if err != nil {
			return engineError(err)
		}
		if to == 0 || to > res.State.Last.Index {
			to = res.State.Last.Index
		}
		from = max(from, res.First)
		runs := logdir.AppendRuns(nil, len(res.Segments), func(i int) (uint64, uint64) {
			return res.Segments[i].Base, res.Segments[i].Count
		})
		for k, r := range runs {
			st := &res.Segments[r.Seg]
			hi := min(st.Base+st.Count-1, to)
			if k+1 < len(runs) {
				hi = min(hi, runs[k+1].First-1)
			}
			if max(r.First, from) > hi {
				continue
			}
			slots, err := d.slots(st, r.Seg)
			if err != nil {
				return err
			}
			for i := max(r.First, from); i <= hi; i++ {
				id, payload, err := d.entry(st, r.Seg, slots, i)
				if err != nil {
					return err
				}
				if err := fn(st.ID, id, payload); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// slots returns the rebuilt slots of segment pos, whose state is st, or
// nil when its index file's slots serve: recovery rebuilt them, or the
// seal's checksum proves them (what a Log checks on first use).
func (d *dirView) slots(st *logdir.SegmentPlan, pos int) ([]uint32, error) {
	if st.Slots != nil || !st.SlotsUnchecked {
		return st.Slots, nil
	}
	seg := d.Segments[pos]
	if h, err := seg.Index.Header(); err == nil && seg.Index.SlotsProven(h) {
		return nil, nil
	}
	slots, err := logdir.SegmentSlots(seg.Path, seg.Data, st.End)
	return slots, engineError(err)
}

// entry reads entry i from segment pos, whose state is st, through slots
// (nil: its index file).
func (d *dirView) entry(st *logdir.SegmentPlan, pos int, slots []uint32, i uint64) (raftstate.LogID, []byte, error) {
	seg := d.Segments[pos]
	k := i - st.Base
	var off int64
	switch {
	case slots != nil && k < uint64(len(slots)):
		off = int64(slots[k]) * format.Align
	case slots == nil && seg.Index != nil && k < uint64(seg.Index.Slots()):
		off = seg.Index.Slot(int(k))
	default:
		return raftstate.LogID{}, nil, format.Corruptf(seg.Path, 0, i, "no index slot for entry %d", i)
	}
	id, payload, ce := format.EntryAt(seg.Path, seg.Data, off, i)
	if ce != nil {
		return raftstate.LogID{}, nil, ce
	}
	return id, payload, nil
}
