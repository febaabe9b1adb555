package storetest_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/storetest"
)

// wrappedNotFound is an InmemStore whose GetLog wraps raft.ErrLogNotFound:
// errors.Is matches, but raft compares with == and would stop replicating.
type wrappedNotFound struct{ *raft.InmemStore }

func (w wrappedNotFound) GetLog(idx uint64, l *raft.Log) error {
	if err := w.InmemStore.GetLog(idx, l); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// panicky panics on DeleteRange.
type panicky struct{ *raft.InmemStore }

func (panicky) DeleteRange(uint64, uint64) error { panic("boom") }

func outcomes(rs storetest.Results) map[string]storetest.Result {
	m := map[string]storetest.Result{}
	for _, r := range rs {
		m[r.Case] = r
	}
	return m
}

// TestSurveyRecords checks the kit itself: a store breaking a contract
// fails exactly the cases that check it, a panic is a recorded failure, an
// in-memory store's persistence cases are n/a, and none of it fails the
// surrounding test in survey mode.
func TestSurveyRecords(t *testing.T) {
	var broken, boom storetest.Results
	t.Run("wrapped", func(t *testing.T) {
		broken = storetest.SurveyLogStore(t, storetest.Factory[raft.LogStore]{
			Open: func(string) (raft.LogStore, error) { return wrappedNotFound{raft.NewInmemStore()}, nil },
		})
	})
	t.Run("panicky", func(t *testing.T) {
		boom = storetest.SurveyLogStore(t, storetest.Factory[raft.LogStore]{
			Open: func(string) (raft.LogStore, error) { return panicky{raft.NewInmemStore()}, nil },
		})
	})
	m := outcomes(broken)
	r := m["log/empty-get-missing"]
	if r.Outcome != storetest.Fail || !strings.Contains(r.Detail, "raft compares with ==") {
		t.Errorf("wrapped ErrLogNotFound: empty-get-missing = %s %q, want a failure naming ==", r.Outcome, r.Detail)
	}
	if r := m["log/store-batch"]; r.Outcome != storetest.Fail {
		t.Errorf("wrapped ErrLogNotFound: store-batch = %s, want FAIL (it checks LastIndex+1 is missing)", r.Outcome)
	}
	if r := m["log/fields-round-trip"]; r.Outcome != storetest.Fail {
		t.Errorf("fields-round-trip = %s", r.Outcome)
	}
	if r := m["log/reopen-entries"]; r.Outcome != storetest.Skip {
		t.Errorf("reopen-entries on an in-memory store = %s, want n/a", r.Outcome)
	}
	if r := m["log/commit-initial"]; r.Outcome != storetest.Skip {
		t.Errorf("commit-initial on a store without commit tracking = %s, want n/a", r.Outcome)
	}
	if r := m["log/empty-indexes"]; r.Outcome != storetest.Pass {
		t.Errorf("empty-indexes = %s %q, want pass", r.Outcome, r.Detail)
	}
	r = outcomes(boom)["log/delete-prefix"]
	if r.Outcome != storetest.Fail || !strings.Contains(r.Detail, "panic: boom") {
		t.Errorf("panicking DeleteRange: delete-prefix = %s %q, want a recorded panic", r.Outcome, r.Detail)
	}
	if len(broken) != len(boom) || len(broken) == 0 {
		t.Errorf("%d and %d results", len(broken), len(boom))
	}
	table := storetest.Table(storetest.Column{Store: "wrapped", Results: broken}, storetest.Column{Store: "panicky", Results: boom})
	for _, want := range []string{"| `log/empty-get-missing` |", "- wrapped, `log/empty-get-missing`:", "- panicky, `log/delete-prefix`: panic: boom"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestStrictFails runs the test binary on TestStrictBroken and checks that
// LogStore (not the survey) fails the test for a broken store.
func TestStrictFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStrictBroken$", "-test.v")
	cmd.Env = append(os.Environ(), "STORETEST_STRICT_BROKEN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the broken store's strict run did not fail (err %v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestStrictBroken/empty-get-missing") {
		t.Fatalf("no failed case in the output:\n%s", out)
	}
}

// TestStrictBroken is run by TestStrictFails only.
func TestStrictBroken(t *testing.T) {
	if os.Getenv("STORETEST_STRICT_BROKEN") == "" {
		t.Skip("run by TestStrictFails")
	}
	storetest.LogStore(t, storetest.Factory[raft.LogStore]{
		Open: func(string) (raft.LogStore, error) { return wrappedNotFound{raft.NewInmemStore()}, nil },
	})
}
