# raftlog developer targets. CI runs .ci/run, which calls `make ci`.
GO       ?= go
LINT     ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BENCHTIME ?= 1s

.PHONY: test race lint bench bench-compare fuzz torture ci

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

fuzz:            ## go test -fuzz targets, time-boxed
	for t in $$($(GO) test -list 'Fuzz.*' ./fuzz/ | grep ^Fuzz); do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime 60s ./fuzz/ || exit 1; done

torture:         ## 100x the CI crash/fuzz sizes, and an hour per fuzz target
	FUZZ_SCALE=100 $(GO) test -race -v -timeout 24h ./fuzz/
	for t in $$($(GO) test -list 'Fuzz.*' ./fuzz/ | grep ^Fuzz); do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime 1h ./fuzz/ || exit 1; done

ci: lint race
