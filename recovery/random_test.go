package recovery_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

var (
	damageSeed = flag.Uint64("damage.seed", 0, "seed of TestRandomDamage (0: from the clock)")
	damageN    = flag.Int("damage.n", 120, "iterations of TestRandomDamage")
)

// TestRandomDamage damages real logs at random (bit flips, zeroed ranges,
// garbage, short files, lost files) and checks the properties that hold
// whatever the damage:
//
//   - Verify changes nothing and predicts Open: Open fails exactly when
//     Verify says so, with the same error, and otherwise recovers the state
//     Verify reports;
//   - Open either fails with a *CorruptError or succeeds, and then every
//     entry it returns is one that was written at that index (a damaged
//     one fails with a *CorruptError, never returns wrong bytes);
//   - after Repair, Open succeeds, the same holds, Verify finds no problem,
//     and a second Repair changes nothing.
func TestRandomDamage(t *testing.T) {
	seed := *damageSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -damage.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	type base struct {
		name string
		dir  string
	}
	var bases []base
	add := func(name, dir string) { bases = append(bases, base{name, dir}) }
	d, _ := crashed(t, syncedThen(t, 30, 10))
	add("one segment, unsynced tail", d)
	d, _ = crashed(t, func(l *mmaplog.Log, m *model) {
		manySegments(t, 2100)(l, m)
		m.appendN(t, l, 2101, 2130, 1, 30)
	})
	add("three segments, unsynced tail", d)
	d, _ = crashed(t, rotated(t, false))
	add("unsynced rotation", d)
	d, _ = closed(t, func(l *mmaplog.Log, m *model) {
		m.appendN(t, l, 1, 600, 1, 7)
		must(t, l.SaveVote(mmaplog.Vote{Term: 2, NodeID: 1}))
		logtest.MustSync(t, l)
		m.truncate(t, l, 550)
		m.appendN(t, l, 550, 1200, 2, 9)
		must(t, l.Commit(mmaplog.LogID{Term: 2, Index: 1000}))
		must(t, l.SaveUserData([]byte("snapshot meta")))
		must(t, l.Purge(mmaplog.LogID{Term: 1, Index: 100}))
		logtest.MustSync(t, l)
		m.appendN(t, l, 1201, 1230, 2, 3)
	})
	add("closed, mixed records", d)

	seen := map[string]int{}
	for i := range *damageN {
		b := bases[rng.IntN(len(bases))]
		dir := logtest.CopyDir(t, b.dir)
		what := damage(t, rng, dir)
		for k := rng.IntN(10); k >= 6; k -= 3 { // a second (30%) and third (10%) damage
			what += "; " + damage(t, rng, dir)
		}
		t.Run(fmt.Sprintf("%03d", i), func(t *testing.T) {
			t.Logf("%s: %s", b.name, what)
			seen[checkAnyDamage(t, dir)]++
		})
	}
	t.Logf("outcomes: %v", seen)
}

// damage applies one random kind of damage to one file of dir.
func damage(t *testing.T, rng *rand.Rand, dir string) string {
	t.Helper()
	var files []string
	for _, n := range logtest.Names(t, dir) {
		if strings.HasSuffix(n, format.SegmentSuffix) || strings.HasSuffix(n, format.IndexSuffix) {
			files = append(files, n)
			if strings.HasSuffix(n, format.SegmentSuffix) {
				files = append(files, n, n) // segments are hit more often
			}
		}
	}
	if len(files) == 0 {
		return "nothing left to damage"
	}
	name := files[rng.IntN(len(files))]
	path := filepath.Join(dir, name)
	data := logtest.ReadFile(t, path)
	used := int64(len(data))
	for used > 0 && data[used-1] == 0 {
		used--
	}
	used = min(max(used, 64), int64(len(data)))
	if used == 0 {
		must(t, os.Remove(path))
		return "remove empty " + name
	}
	off := rng.Int64N(used)
	switch k := rng.IntN(10); {
	case k < 5:
		bit := byte(1) << rng.IntN(8)
		logtest.Flip(t, path, off, bit)
		return fmt.Sprintf("flip bit %#x of %s at %d", bit, name, off)
	case k < 7:
		n := min(int64(8+rng.IntN(600)), int64(len(data))-off)
		logtest.Zero(t, path, off, n)
		return fmt.Sprintf("zero %d bytes of %s at %d", n, name, off)
	case k < 8:
		g := make([]byte, 1+rng.IntN(100))
		for i := range g {
			g[i] = byte(rng.Uint32())
		}
		logtest.WriteAt(t, path, off, g[:min(int64(len(g)), int64(len(data))-off)])
		return fmt.Sprintf("garbage (%d bytes) in %s at %d", len(g), name, off)
	case k < 9:
		must(t, os.Truncate(path, off))
		return fmt.Sprintf("truncate %s to %d bytes", name, off)
	default:
		must(t, os.Remove(path))
		return "remove " + name
	}
}

// checkAnyDamage checks the properties and returns what happened.
func checkAnyDamage(t *testing.T, dir string) string {
	t.Helper()
	if _, err := recovery.Verify(dir); errors.Is(err, recovery.ErrNoLog) {
		// Every file is gone: nothing vouches for the log, which opens
		// as a new, empty one (FORMAT.md: what cannot be told apart).
		l := logtest.MustOpen(t, dir, testOpts)
		if st := l.State(); !st.Equal(mmaplog.State{}) {
			t.Fatalf("empty directory opened with state {%s}", recovery.DescribeState(&st))
		}
		must(t, l.Close())
		return "no files left: a new log"
	}
	rep := verify(t, dir)
	t.Log(describe(rep))
	before := logtest.Snapshot(t, dir)
	l, err := mmaplog.Open(dir, testOpts)
	if err != nil {
		ce := asCorrupt(t, err)
		logtest.Unchanged(t, "failed Open", before, dir)
		if rep.OpenErr == nil || rep.OpenErr.Path != ce.Path || rep.OpenErr.Offset != ce.Offset {
			t.Fatalf("Open failed with %v; Verify predicted %v", err, rep.OpenErr)
		}
	} else {
		if rep.OpenErr != nil {
			t.Fatalf("Open succeeded; Verify predicted %v", rep.OpenErr)
		}
		if got := l.State(); !got.Equal(rep.State) {
			t.Fatalf("Open recovered {%s}; Verify predicted {%s}", recovery.DescribeState(&got), recovery.DescribeState(&rep.State))
		}
		checkNoWrongEntry(t, l)
		must(t, l.Close())
	}
	rr, err := recovery.Repair(dir)
	if errors.Is(err, recovery.ErrPurgeBeyondCut) {
		// Repair's documented refusal (a cut before the purge that deleted
		// the first segments): the damage must still be reported, never
		// hidden, and Open must still refuse the log.
		after := verify(t, dir)
		if after.Status != recovery.StatusCorrupt || rep.OpenErr == nil {
			t.Fatalf("Repair refused (%v), then Verify says %s; before it said %s", err, describe(after), describe(rep))
		}
		if _, err := mmaplog.Open(dir, testOpts); err == nil {
			t.Fatalf("Repair refused, then Open succeeded")
		}
		return "open fails, repair refuses (purge beyond cut)"
	}
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if rr.After.Status == recovery.StatusCorrupt {
		t.Fatalf("after Repair: %s", describe(rr.After))
	}
	l = logtest.MustOpen(t, dir, testOpts)
	if st := l.State(); !st.Equal(rr.After.State) {
		t.Fatalf("after Repair Open recovered {%s}; Verify said {%s}", recovery.DescribeState(&st), recovery.DescribeState(&rr.After.State))
	}
	checkSettled(t, l, dir)
	switch {
	case rep.OpenErr != nil:
		return fmt.Sprintf("open fails, repair cuts %d", len(rr.Cuts))
	case rep.Status == recovery.StatusCorrupt:
		return "open works, reads fail, repaired"
	}
	return "open works: " + rep.Status.String()
}

// checkNoWrongEntry reads every live entry: each must be one that was
// written at its index (payloads name their term and index) or fail with
// a *CorruptError. It returns how many failed.
func checkNoWrongEntry(t *testing.T, l *mmaplog.Log) int {
	t.Helper()
	st := l.Stats()
	bad := 0
	for i := st.FirstIndex; i != 0 && i <= st.LastIndex; i++ {
		e, err := l.Get(i)
		if err != nil {
			asCorrupt(t, err)
			bad++
			continue
		}
		if e.ID.Index != i || !bytes.Equal(e.Payload, pay(e.ID.Term, i)) {
			t.Fatalf("Get(%d) = %v %q: not an entry that was written", i, e.ID, e.Payload)
		}
	}
	if _, err := l.Get(st.LastIndex + 1); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Get(%d) past the end: %v", st.LastIndex+1, err)
	}
	return bad
}
