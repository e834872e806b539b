# mini: `make run` starts a cluster, `make test` runs every test.

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/mini
DATA_DIR ?= /var/lib/mini
# Simulated nodes `make run` adds beside the real node (SIM_NODES=3).
SIM_NODES ?= 0
FUZZTIME ?= 10s
# The bundled kubectl reports the Kubernetes release of the pinned modules
# (k8s.io/* v0.X.Y is Kubernetes v1.X.Y).
KUBE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/apimachinery 2>/dev/null | sed 's/^v0\./v1./')
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR)
FUZZ_TARGETS := internal/store:FuzzKVCodec internal/store:FuzzLogCodec \
	internal/store:FuzzParseContinue internal/apiserver:FuzzBodies

.PHONY: build run test unit fuzz bench clean

build:
	$(GO) build -buildvcs=auto -ldflags "$(LDFLAGS)" -o $(BIN) .

# The server runs in the background (`mini start`): run returns once the
# node is Ready; mini stop, status, logs and delete manage it.
run: build
	scripts/install-deps.sh run
	$(BIN) start --data-dir $(DATA_DIR)$(if $(filter-out 0,$(SIM_NODES)), --sim-nodes $(SIM_NODES))

# Every test: vet, the unit and integration tests under the race detector
# (including the SIGKILL crash test), then a short fuzzing run per target.
test: build
	scripts/install-deps.sh test
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

# Benchmarks print a table; nothing gates on their figures.
bench: build
	scripts/install-deps.sh bench
	$(GO) run ./internal/store/storebench
	$(GO) run ./internal/apiserver/apibench -mini $(BIN)
	$(GO) run ./internal/server/clusterbench -mini $(BIN)
	$(GO) run ./internal/server/nodebench -mini $(BIN)
	$(GO) run ./internal/proxy/proxybench
	$(GO) run ./internal/dns/dnsbench
	$(GO) run ./internal/server/netbench -mini $(BIN)

clean:
	rm -rf bin
