package etcdraft

import "sort"

// termRuns maps the live entries' indexes to their terms without reading
// the log: one run per term, in index order. Terms never go down along a
// Raft log, so a log holds as many runs as terms it spans, usually a few.
type termRuns struct {
	runs []termRun
}

// termRun: the entries from first up to the next run's first (or the last
// entry) have this term.
type termRun struct {
	first, term uint64
}

// at returns the term of idx, which the caller knows to be a live entry.
func (t *termRuns) at(idx uint64) uint64 {
	r := t.runs
	if n := len(r); r[n-1].first <= idx {
		return r[n-1].term // the common case: the newest term
	}
	k := sort.Search(len(r), func(k int) bool { return r[k].first > idx })
	return r[k-1].term
}

// add records that idx, the new last entry, has term.
func (t *termRuns) add(idx, term uint64) {
	if n := len(t.runs); n > 0 && t.runs[n-1].term == term {
		return
	}
	t.runs = append(t.runs, termRun{first: idx, term: term})
}

// truncate forgets the entries with index >= idx.
func (t *termRuns) truncate(idx uint64) {
	k := sort.Search(len(t.runs), func(k int) bool { return t.runs[k].first >= idx })
	clear(t.runs[k:])
	t.runs = t.runs[:k]
}

// purge forgets the entries with index <= upto.
func (t *termRuns) purge(upto uint64) {
	// Keep the run holding upto+1, if any, starting at upto+1.
	k := sort.Search(len(t.runs), func(k int) bool { return t.runs[k].first > upto+1 })
	if k == 0 {
		return
	}
	n := copy(t.runs, t.runs[k-1:])
	clear(t.runs[n:])
	t.runs = t.runs[:n]
	t.runs[0].first = max(t.runs[0].first, upto+1)
}

// reset forgets every entry.
func (t *termRuns) reset() {
	clear(t.runs)
	t.runs = t.runs[:0]
}
