package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/bench"
)

func TestRunWritesTableJSONAndSVG(t *testing.T) {
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.svg")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-stores", "mmaplog,raftwal", "-workloads", "limit,append-sync,W4",
		"-duration", "100ms", "-preload", "1000", "-dir", filepath.Join(dir, "run"),
		"-json", jsonPath, "-svg", svgPath}, &stdout, &stderr, false)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"cpu: ", "W1-append-sync", "W4-get-random", "limit-msync", "mmaplog", "raftwal", "÷mmaplog"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := bench.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Results); n != 4+2+2 {
		t.Errorf("%d results, want 8 (4 limit rows, W1 and W4 for 2 stores)", n)
	}
	for _, r := range rep.Results {
		if !r.Ran() {
			t.Errorf("%s on %s did not run: %s", r.Workload, r.Store, r.Note)
		}
	}
	if !strings.HasPrefix(rep.Machine.Command, "go run ./cmd/bench -stores") {
		t.Errorf("command = %q", rep.Machine.Command)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("%s is not an SVG", svgPath)
	}
	// The run directory is removed afterwards.
	if ents, _ := os.ReadDir(filepath.Join(dir, "run")); len(ents) != 0 {
		t.Errorf("run directory not cleaned up: %v", ents)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"-nosuchflag"},
		{"-stores", "nosuch", "-dir", t.TempDir()},
		{"-workloads", "W9", "-dir", t.TempDir()},
		{"extra-arg"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, false); code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr: %s", args, code, stderr.String())
		}
	}
}
