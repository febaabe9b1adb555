package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/bench"
	"github.com/raftlog/raftlog/internal/logtest"
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
	for _, want := range []string{"cpu: ", "W1-append-sync", "W4-get-random", "limit-msync", "limit-get-probe", "mmaplog", "raftwal", "÷mmaplog", "raftlog's goals"} {
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
	if n := len(rep.Results); n != 10+2+2+2 {
		t.Errorf("%d results, want 16 (10 limit rows, W1 and W4 for 2 stores, the disk's 2 in W1's turns)", n)
	}
	for _, r := range rep.Results {
		if !r.Ran() {
			t.Errorf("%s on %s did not run: %s", r.Workload, r.Store, r.Note)
		}
	}
	if !strings.HasPrefix(rep.Machine.Command, "go run ./cmd/bench -stores") {
		t.Errorf("command = %q", rep.Machine.Command)
	}
	svg := logtest.ReadFile(t, svgPath)
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
		{"-w5size", "lots", "-dir", t.TempDir()},
		{"-writers", "0", "-dir", t.TempDir()},
		{"-w5cache", "tepid", "-dir", t.TempDir()},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, false); code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr: %s", args, code, stderr.String())
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"10GB": 10e9, "10gb": 10e9, "512MiB": 512 << 20, "1.5GB": 15e8, "4096": 4096,
		"1 GiB": 1 << 30, "64k": 64e3, "100B": 100,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "-1GB", "ten", "0", "1ZB"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseCounts(t *testing.T) {
	if got, err := parseCounts("1, 4,16"); err != nil || !reflect.DeepEqual(got, []int{1, 4, 16}) {
		t.Errorf("parseCounts = %v, %v", got, err)
	}
	for _, in := range []string{"", "0", "1,x", "-4"} {
		if _, err := parseCounts(in); err == nil {
			t.Errorf("parseCounts(%q) succeeded", in)
		}
	}
}

// TestRunRefusesW5WithoutRoom: a W5 log the disk cannot hold is refused
// up front, with a message that says what to change, and nothing is left
// behind.
func TestRunRefusesW5WithoutRoom(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"-stores", "mmaplog", "-workloads", "W1,W5", "-w5size", "100TB", "-dir", dir}, &stdout, &stderr, false)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"not enough free disk space", "-w5size", "available"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused run left %v", ents)
	}
}
