package raftlogprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftlog/raftlog/mmaplog"
)

// Source is what a Collector reads: *mmaplog.Log and *hashiraft.Store
// both are one.
type Source interface {
	Stats() mmaplog.Stats
}

// StatsFunc adapts a function to a Source.
type StatsFunc func() mmaplog.Stats

// Stats calls f.
func (f StatsFunc) Stats() mmaplog.Stats { return f() }

const namespace = "raftlog"

// latency is a histogram in seconds read from one Stats field.
type latency struct {
	desc *prometheus.Desc
	get  func(*mmaplog.Stats) *mmaplog.Latency
}

// sizes is a histogram of entries or bytes read from one Stats field.
type sizes struct {
	desc *prometheus.Desc
	get  func(*mmaplog.Stats) *mmaplog.Sizes
}

// scalar is a counter or gauge read from one Stats field.
type scalar struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	get  func(*mmaplog.Stats) float64
}

// Collector is a prometheus.Collector for one Log.
type Collector struct {
	src       Source
	latencies []latency
	sizes     []sizes
	scalars   []scalar
}

// New returns a Collector that reads src at every scrape. constLabels
// (may be nil) are put on every metric, for example {"node": "n1"} to tell
// apart several logs in one process.
func New(src Source, constLabels prometheus.Labels) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, constLabels)
	}
	c := &Collector{src: src}
	c.latencies = []latency{
		{d("flush_group_wait_seconds", "Per group commit: time its first Flush or Sync call waited for the previous group to finish syncing and running callbacks."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.GroupWait }},
		{d("flush_queue_wait_seconds", "Per group commit: time from being ready (the flusher free) to its sync starting."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.QueueWait }},
		{d("sync_duration_seconds", "Per group commit: the msync of the written ranges and sealed index files, without the directory fsync."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.SyncDuration }},
		{d("dir_sync_duration_seconds", "Per directory fsync: after a segment file was created or a purged one removed."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.DirSyncDuration }},
		{d("flush_callback_delay_seconds", "Per group commit with Flush callbacks: time from the end of its sync until its last callback returned."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.CallbackDelay }},
		{d("segment_rotation_stall_seconds", "Per segment rotation: time the writer was stalled; the count is the number of rotations."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.RotationStall }},
		{d("purge_removal_duration_seconds", "Per group commit that deleted purged segments: time the removal took."),
			func(s *mmaplog.Stats) *mmaplog.Latency { return &s.RemovalDuration }},
	}
	c.sizes = []sizes{
		{d("flush_group_entries", "Per group commit: entries appended since the previous group."),
			func(s *mmaplog.Stats) *mmaplog.Sizes { return &s.GroupEntries }},
		{d("flush_group_bytes", "Per group commit: bytes of records made durable."),
			func(s *mmaplog.Stats) *mmaplog.Sizes { return &s.GroupBytes }},
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	c.scalars = []scalar{
		{d("appended_entries_total", "Entries appended."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Appends) }},
		{d("flushes_total", "Flush and Sync calls handed to the flusher."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Flushes) }},
		{d("syncs_total", "Group syncs performed."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Syncs) }},
		{d("slow_syncs_total", "Group syncs slower than Options.SlowSync (default 1 s), logged or not."), counter, func(s *mmaplog.Stats) float64 { return float64(s.SlowSyncs) }},
		{d("purged_segments_removed_total", "Purged segment files removed (each with its index file)."), counter, func(s *mmaplog.Stats) float64 { return float64(s.RemovedSegments) }},
		{d("written_behind_bytes_total", "Bytes whose write-back the flusher started early, segments left unsynced at a rotation (Options.WriteBehind)."), counter, func(s *mmaplog.Stats) float64 { return float64(s.WrittenBehind) }},
		{d("segments", "Segment files on disk, including purged ones awaiting deletion."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.Segments) }},
		{d("segments_pending_removal", "Purged segment files awaiting deletion after the next flush."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.PendingRemovals) }},
		{d("segments_spare", "Purged segment files kept for reuse as new segments."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.SpareSegments) }},
		{d("segment_used_bytes", "Bytes of records written in all segments."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.BytesUsed) }},
		{d("segment_allocated_bytes", "Bytes preallocated for all segment files."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.BytesAllocated) }},
		{d("index_allocated_bytes", "Bytes preallocated for all index files."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.IndexBytes) }},
		{d("entries", "Live entries (last index - first index + 1)."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.Entries) }},
		{d("first_index", "First live log index, 0 when the log is empty."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.FirstIndex) }},
		{d("last_index", "Last live log index, 0 when the log is empty."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.LastIndex) }},
		{d("verify_runs_total", "Online verification passes completed (Log.Verify and the background verifier)."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Verify.Runs) }},
		{d("verify_read_bytes_total", "Bytes online verification read from the disk."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Verify.BytesChecked) }},
		{d("verify_problems_total", "Damage found by online verification, counted by every pass that finds it."), counter, func(s *mmaplog.Stats) float64 { return float64(s.Verify.Problems) }},
		{d("verify_last_run_problems", "Damage found by the last completed verification pass: 0 when the sealed segments checked sound."), gauge, func(s *mmaplog.Stats) float64 { return float64(s.Verify.LastRunProblems) }},
		{d("verify_last_run_timestamp_seconds", "When the last verification pass completed (Unix seconds), 0 before the first."), gauge, func(s *mmaplog.Stats) float64 {
			if s.Verify.LastRun.IsZero() {
				return 0
			}
			return float64(s.Verify.LastRun.UnixNano()) / 1e9
		}},
		{d("failed", "1 when the log has failed (a sync or write error; reopen to recover), else 0."), gauge, func(s *mmaplog.Stats) float64 {
			if s.Failed != nil {
				return 1
			}
			return 0
		}},
	}
	return c
}

// Describe sends the descriptors of every metric c exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.latencies {
		ch <- m.desc
	}
	for _, m := range c.sizes {
		ch <- m.desc
	}
	for _, m := range c.scalars {
		ch <- m.desc
	}
}

// Collect reads the Log's Stats once and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for _, m := range c.latencies {
		ch <- histogram(m.desc, m.get(&st), seconds)
	}
	for _, m := range c.sizes {
		ch <- histogram(m.desc, m.get(&st), func(v uint64) float64 { return float64(v) })
	}
	for _, m := range c.scalars {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.get(&st))
	}
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// histogram is d as a Prometheus histogram, its bounds and sum in the
// unit unit converts them to.
func histogram[T time.Duration | uint64](desc *prometheus.Desc, d *mmaplog.Distribution[T], unit func(T) float64) prometheus.Metric {
	b := make(map[float64]uint64, len(d.Buckets))
	for _, k := range d.Buckets {
		b[unit(k.Le)] = k.Count
	}
	return prometheus.MustNewConstHistogram(desc, d.Count, unit(d.Sum), b)
}
