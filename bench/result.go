package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is one (store, workload) measurement. Throughputs count entries
// (W5: opens); MB are 10^6 bytes of payload. Latencies are per call in
// microseconds (W2: from an entry's append to its durability; W5: one open).
type Result struct {
	Store     string `json:"store"`
	Workload  string `json:"workload"`
	EntrySize int    `json:"entry_size"`
	Batch     int    `json:"batch"`
	// InFlight is W2's bound on entries appended but not yet durable.
	InFlight int `json:"in_flight,omitempty"`
	// Writers is W8's number of concurrent writers.
	Writers   int     `json:"writers,omitempty"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	MaxUs     float64 `json:"max_us"`
	HeapBytes int64   `json:"heap_bytes"`
	// W5: the log's entries and allocated bytes, whether each open was
	// cold, the median first Get and first synced Append after an open,
	// the page faults an open took to read from disk and the bytes it
	// read, and, when the log was built smaller than Config.ReopenBytes, how
	// many times larger the target is.
	Entries       int64   `json:"entries,omitempty"`
	DiskBytes     int64   `json:"disk_bytes,omitempty"`
	Cold          bool    `json:"cold,omitempty"`
	FirstGetUs    float64 `json:"first_get_us,omitempty"`
	FirstAppendUs float64 `json:"first_append_us,omitempty"`
	OpenFaults    int64   `json:"open_faults,omitempty"`     // major page faults during an open (max)
	OpenReadBytes int64   `json:"open_read_bytes,omitempty"` // read from disk during an open (max)
	// W3: the rate of the appends alone, and the payload rate of the
	// final sync that follows them.
	AppendOpsPerSec float64 `json:"append_ops_per_sec,omitempty"`
	SyncMBPerSec    float64 `json:"sync_mb_per_sec,omitempty"`
	Scale           float64 `json:"scale,omitempty"`
	// W2 on a store with group commit: its own group syncs' p50 and p99.
	StoreSyncP50us float64 `json:"store_sync_p50_us,omitempty"`
	StoreSyncP99us float64 `json:"store_sync_p99_us,omitempty"`
	// W4 and the get probes: bytes of the store's file mappings resident
	// at the end of the run, and how many of them were mapped with 2 MiB
	// page-table entries (see hugeMapped).
	MappedBytes     int64  `json:"mapped_bytes,omitempty"`
	HugeMappedBytes int64  `json:"huge_mapped_bytes,omitempty"`
	Note            string `json:"note"`
	// Timeline is W6's latency over time, one point per step of the
	// timed run; Events are its purges on the same clock.
	Timeline       []TimePoint `json:"timeline,omitempty"`
	TimelineStepMs float64     `json:"timeline_step_ms,omitempty"`
	Events         []Span      `json:"events,omitempty"`
}

// TimePoint is one step of a latency-over-time series: the calls that
// started in [Ms, Ms+step).
type TimePoint struct {
	Ms     float64 `json:"ms"` // from the start of the timed run
	Ops    int64   `json:"ops"`
	MeanUs float64 `json:"mean_us"`
	MaxUs  float64 `json:"max_us"`
}

// Span is an event on a timeline: it started at Ms and took DurMs.
type Span struct {
	Ms    float64 `json:"ms"`
	DurMs float64 `json:"dur_ms"`
}

// hugeShare is the share of MappedBytes mapped with 2 MiB entries, and
// whether the result has mapped bytes at all.
func (r Result) hugeShare() (float64, bool) {
	if r.MappedBytes <= 0 {
		return 0, false
	}
	return float64(r.HugeMappedBytes) / float64(r.MappedBytes), true
}

// Ran reports whether the result holds a measurement (it is not a skip or
// a failure).
func (r Result) Ran() bool { return r.OpsPerSec > 0 }

// Machine describes where the results were measured.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"mem_bytes"`
	Kernel   string `json:"kernel"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	FS       string `json:"fs"`
	Dir      string `json:"dir"`
	Go       string `json:"go"`
	Date     string `json:"date"`
	Command  string `json:"command,omitempty"`
}

// Report is the JSON document written by cmd/bench -json.
type Report struct {
	Machine Machine  `json:"machine"`
	Results []Result `json:"results"`
}

// WriteJSON writes rep as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("bench: write json: %w", err)
	}
	return nil
}

// ReadJSON decodes a report written by WriteJSON.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("bench: read json: %w", err)
	}
	return &rep, nil
}

// latency records durations in nanoseconds, 3 significant digits, up to
// ten minutes.
type latency struct{ h *hdrhistogram.Histogram }

const maxLatency = int64(10 * time.Minute)

func newLatency() *latency { return &latency{h: hdrhistogram.New(1, maxLatency, 3)} }

func (l *latency) record(d time.Duration) { l.recordN(d, 1) }

// merge adds every call recorded in o.
func (l *latency) merge(o *latency) { _ = l.h.Merge(o.h) } // same range: drops nothing

func (l *latency) recordN(d time.Duration, n int64) {
	v := min(max(d.Nanoseconds(), 1), maxLatency)
	_ = l.h.RecordValues(v, n) // cannot fail: v is within range
}

// fill sets r's latency fields.
func (l *latency) fill(r *Result) {
	if l.h.TotalCount() == 0 {
		return
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	r.P50us = us(l.h.ValueAtQuantile(50))
	r.P99us = us(l.h.ValueAtQuantile(99))
	r.P999us = us(l.h.ValueAtQuantile(99.9))
	r.MaxUs = us(l.h.Max())
}

// quantile returns the q-th percentile in nanoseconds.
func (l *latency) quantile(q float64) time.Duration {
	return time.Duration(l.h.ValueAtQuantile(q))
}
