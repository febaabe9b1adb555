package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestRun runs the example end to end on each backend, twice on the same
// directory: the second run restarts all three nodes from what the first
// stored, then does it all again.
func TestRun(t *testing.T) {
	for _, backend := range []string{backendRaftlog, backendEtcdWAL} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 2 {
				var out strings.Builder
				if err := run(dir, backend, 100, &out); err != nil {
					t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
				}
				t.Logf("run %d:\n%s", i+1, out.String())
				if !strings.HasSuffix(out.String(), "ok\n") {
					t.Fatalf("run %d did not finish", i+1)
				}
				// A run writes 210 keys; the second starts with the first's.
				if want := fmt.Sprintf("every node holds them (%d keys)", 100+210*i); !strings.Contains(out.String(), want) {
					t.Fatalf("run %d: no %q", i+1, want)
				}
			}
		})
	}
}
