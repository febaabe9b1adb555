// Package raftlogprom exports the statistics of an mmaplog.Log (or of a
// hashiraft.Store) as Prometheus metrics, so that the core packages keep
// their three dependencies and only a program that wants Prometheus pulls
// in client_golang.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(raftlogprom.New(log, prometheus.Labels{"node": "n1"}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// A Collector reads Log.Stats at every scrape; it keeps no state of its
// own. Latencies are histograms in seconds (buckets 1 µs·2^k, 1 µs to
// about 16.8 s), group sizes are histograms in entries and bytes (buckets
// 2^k), running totals are counters ending in _total, and the state of the
// files is in gauges. Every series is cumulative since the Log was opened:
// a reopened Log starts its counters again, which rate() and increase()
// treat as a counter reset.
//
// Concurrency: a Collector is safe for concurrent use (Log.Stats is).
package raftlogprom
