# Auto-Analyst. `make run` and `make test` install what they need first.
GO      ?= go
PYTHON  ?= /usr/bin/python3
BIN     := bin/autoanalyst
# The version `autoanalyst version` and /healthz report (empty: the module's).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
export PYTHON

.PHONY: run test test-python build generate bench lint deps check-generated

deps:
	@./scripts/deps.sh

build:
	$(GO) build -buildvcs=auto -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

run: deps build
	./$(BIN) serve

test: deps
	$(GO) vet ./...
	@$(MAKE) --no-print-directory test-python
	$(GO) test -race -count=1 -timeout 30m ./...

# The executor kernel's Python unit tests (executor/kernel/tests): the parts
# that need no sandbox, with Debian's Python and data stack, in seconds.
test-python:
	cd executor && $(PYTHON) -B -m unittest discover -s kernel/tests -t .

# ent first (it writes graph/ent.graphql), then gqlgen, then the published
# schema (api/schema.graphql), then the Go client from it (genqlient:
# client/generated.go), then a migration for each dialect when the schema
# changed (needs PostgreSQL at DIFF_POSTGRES_URL).
generate:
	$(GO) generate ./ent
	$(GO) run github.com/99designs/gqlgen generate
	@mkdir -p api
	$(GO) run . schema > api/schema.graphql.tmp && mv api/schema.graphql.tmp api/schema.graphql
	$(GO) generate ./client
	$(GO) run ./ent/migrate/diff.go changes

check-generated: generate
	git diff --exit-code
	@test -z "$$(git status --porcelain --untracked-files=all -- ent graph resolvers api client)" || { git status --porcelain -- ent graph resolvers api client; echo "generated code is stale: run make generate and commit"; exit 1; }

# The executor's side-by-side comparison wants Jupyter (installed when missing).
# Every benchmark runs once, into $(BENCH_OUT); then the benchmarks of the
# issue-17 table, whose single runs are noisy on a shared machine, run four
# more times each, so that each row of the table is the median of five
# runs. The run ends with that table: the measures against their peers and
# targets (scripts/benchtable: the README's "Benchmarks" table).
BENCH_OUT ?= bin/bench.txt
bench:
	@WANT_BENCH_DEBS=1 ./scripts/deps.sh
	@mkdir -p $(dir $(BENCH_OUT))
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout 60m ./... 2>&1 | tee $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'BenchmarkSideBySide$$' -count 4 ./executor 2>&1 | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'BenchmarkChatTurnOverhead$$' -benchtime 20x -count 4 -timeout 30m ./e2e 2>&1 | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'BenchmarkBigDataset$$' -benchtime 1x -count 4 -timeout 30m ./e2e 2>&1 | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'BenchmarkRunsEndToEnd$$' -benchtime 300x -count 4 -timeout 30m ./e2e 2>&1 | tee -a $(BENCH_OUT)
	$(GO) run ./scripts/benchtable < $(BENCH_OUT)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
