package main

import (
	"strings"
	"testing"
)

// TestRun runs the example end to end, twice on the same directory: the
// second run starts from the stored state of the first.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster example skipped in -short mode")
	}
	dir := t.TempDir()
	for i := range 2 {
		var out strings.Builder
		if err := run(dir, 100, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
		t.Logf("run %d:\n%s", i+1, out.String())
		if !strings.HasSuffix(out.String(), "ok\n") {
			t.Fatalf("run %d did not finish", i+1)
		}
	}
}
