package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// LogStore runs every log store case against stores f opens, each as a
// subtest of t, and returns the outcomes. A failing case fails t. Cases
// that need what a store does not offer (persistence, MonotonicLogStore,
// CommitTrackingLogStore) are skipped.
func LogStore(t *testing.T, f Factory[raft.LogStore]) Results {
	t.Helper()
	return runSuite(t, "log", f, logCases(), wrapLog, false)
}

// StableStore runs every stable store case against stores f opens, each
// as a subtest of t, and returns the outcomes. A failing case fails t.
func StableStore(t *testing.T, f Factory[raft.StableStore]) Results {
	t.Helper()
	return runSuite(t, "stable", f, stableCases, wrapStable, false)
}

// SurveyLogStore is LogStore that never fails t: a failing case is logged
// and recorded in the Results. It is for comparing stores one does not
// own, where a failed case is a finding to report, not a broken build.
func SurveyLogStore(t *testing.T, f Factory[raft.LogStore]) Results {
	t.Helper()
	return runSuite(t, "log", f, logCases(), wrapLog, true)
}

// SurveyStableStore is StableStore that never fails t (see SurveyLogStore).
func SurveyStableStore(t *testing.T, f Factory[raft.StableStore]) Results {
	t.Helper()
	return runSuite(t, "stable", f, stableCases, wrapStable, true)
}

func wrapLog(c *tc[raft.LogStore]) *lc       { return &lc{c} }
func wrapStable(c *tc[raft.StableStore]) *sc { return &sc{c} }

// Cases lists every case's name and fact, log cases then stable cases.
func Cases() []Result {
	var out []Result
	for _, cs := range logCases() {
		out = append(out, Result{Case: "log/" + cs.name, Fact: cs.fact})
	}
	for _, cs := range stableCases {
		out = append(out, Result{Case: "stable/" + cs.name, Fact: cs.fact})
	}
	return out
}

// Column is one store's outcomes in a Table.
type Column struct {
	Store   string
	Results Results
}

// Counts returns how many cases passed, failed and were skipped.
func (r Results) Counts() (pass, fail, skip int) {
	for _, x := range r {
		switch x.Outcome {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
	}
	return pass, fail, skip
}

// Table renders the columns as a Markdown table, one row per case (in the
// order of Cases) with its fact, then a totals row, then the first failure
// message of every failed case.
func Table(cols ...Column) string {
	var b strings.Builder
	b.WriteString("| case | checks |")
	sep := "|---|---|"
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c.Store)
		sep += ":---:|"
	}
	b.WriteString("\n" + sep + "\n")
	byCase := make([]map[string]Result, len(cols))
	for i, c := range cols {
		byCase[i] = map[string]Result{}
		for _, r := range c.Results {
			byCase[i][r.Case] = r
		}
	}
	for _, cs := range Cases() {
		fmt.Fprintf(&b, "| `%s` | %s |", cs.Case, cellText(cs.Fact))
		for i := range cols {
			cell := "–" // not run
			if r, ok := byCase[i][cs.Case]; ok {
				cell = string(r.Outcome)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** | pass / FAIL / n/a |")
	for _, c := range cols {
		p, f, s := c.Results.Counts()
		fmt.Fprintf(&b, " %d / %d / %d |", p, f, s)
	}
	b.WriteString("\n")
	var fails []string
	for _, c := range cols {
		for _, r := range c.Results {
			if r.Outcome == Fail {
				fails = append(fails, fmt.Sprintf("- %s, `%s`: %s", c.Store, r.Case, cellText(firstLine(r.Detail))))
			}
		}
	}
	if len(fails) > 0 {
		b.WriteString("\nFailures (first message of each):\n\n" + strings.Join(fails, "\n") + "\n")
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// cellText escapes s for a Markdown table cell.
func cellText(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
