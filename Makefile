# raftlog developer targets. CI runs .ci/run, which calls `make ci`.
GO       ?= go
LINT     ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BENCHTIME ?= 1s
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
ROUNDS   ?= 5
CLUSTER_OUT ?= bench-cluster.txt

.PHONY: test race lint bench bench-compare bench-cluster fuzz torture ci

test:            ## the README's test command
	$(GO) test ./...

race:            ## every test with the race detector (what CI runs)
	$(GO) test -race -timeout 20m ./...

lint:
	$(GO) mod tidy -diff
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(LINT) run ./...

bench:           ## core benchmarks (see README for the figures)
	$(GO) test -run XXX -bench . -benchtime $(BENCHTIME) ./mmaplog/ ./internal/checksum/

bench-compare:   ## mmaplog against the peer stores on this disk
	$(GO) run ./cmd/bench -stores mmaplog,raftwal,boltdb,tidwall,etcdwal -duration 5s

# W7 in ROUNDS rounds of -count 1: in each round a cell's stores run one
# after the other, and the rounds spread each store over the whole run, so
# that a disk that changes speed weighs on every store alike (-count 5
# would run one store's five samples back to back). Medians by benchstat.
# 10 s per sample: in the first second or two the nodes' preparers still
# write their first spare segments (zeros, with ZeroFill), which weighs on
# shorter runs. About 20 minutes with the defaults.
CLUSTER_BENCHTIME ?= 10s
bench-cluster:   ## W7: 3-node hashicorp/raft cluster per store, medians of ROUNDS rounds
	rm -f $(CLUSTER_OUT)
	for i in $$(seq $(ROUNDS)); do \
		$(GO) test -run '^$$' -bench BenchmarkClusterApply -benchtime $(CLUSTER_BENCHTIME) -count 1 ./hashiraft/ >> $(CLUSTER_OUT) || exit 1; done
	$(BENCHSTAT) -col /store $(CLUSTER_OUT)

fuzz:            ## go test -fuzz targets, time-boxed
	for t in $$($(GO) test -list 'Fuzz.*' ./fuzz/ | grep ^Fuzz); do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime 60s ./fuzz/ || exit 1; done

torture:         ## 100x the CI crash/fuzz sizes, and an hour per fuzz target
	FUZZ_SCALE=100 $(GO) test -race -v -timeout 24h ./fuzz/
	for t in $$($(GO) test -list 'Fuzz.*' ./fuzz/ | grep ^Fuzz); do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime 1h ./fuzz/ || exit 1; done

ci: lint race
