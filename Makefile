# SPDX-License-Identifier: Apache-2.0
# Veil - the two commands a user needs: `make test` and `make demo`.
# CMake does the real work out of tree in build/ (build-asan/, build-fuzz/
# for the sanitizer and fuzzing builds).
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 5

# TARGET=<name> builds one CMake target instead of everything.
TARGET ?=
NPM_STAMP := tools/npm/node_modules/.veil-lock-sha256

.PHONY: all build deps npm-tools test test-fast test-asan fuzz fuzz-long fuzz-smoke bench bench-net bench-paths chaos demo \
	format clean

all: build

deps:
	@scripts/deps.sh

# The build compiles the contract with the pinned solcjs (tools/npm), so a
# fresh clone needs the npm tools before CMake runs: install them (make deps)
# when the lock file's stamp is missing or stale, or say what to run.
npm-tools:
	@if [ ! -f $(NPM_STAMP) ] || [ "$$(cat $(NPM_STAMP))" != \
	     "$$(sha256sum tools/npm/package-lock.json | cut -d' ' -f1)" ]; then \
	  echo "make: the contract build needs the pinned npm tools; running scripts/deps.sh"; \
	  if ! scripts/deps.sh; then \
	    echo "make: could not install the build dependencies (see above)." >&2; \
	    echo "make: run 'make deps' (as root or with sudo, with network access), then 'make'." >&2; \
	    exit 1; \
	  fi; \
	fi

# Configure once; later runs only rebuild (CMake re-globs on its own).
$(BUILD)/build.ninja $(BUILD)/Makefile: | npm-tools
	@cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: npm-tools | $(BUILD)/$(if $(filter Ninja,$(GENERATOR)),build.ninja,Makefile)
	@cmake --build $(BUILD) -j $(JOBS) $(if $(TARGET),--target $(TARGET))

test: deps
	@$(MAKE) --no-print-directory build
	@scripts/run-tests.sh $(BUILD)

# The fast tests only (no services, no network namespaces).
test-fast: build
	@scripts/run-tests.sh $(BUILD) -L fast

test-asan: deps
	@cmake -S . -B build-asan -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug -DVEIL_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  scripts/run-tests.sh build-asan -L fast

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVEIL_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

# Runs every fuzz target for FUZZ_SECONDS on its seed corpus.
fuzz-smoke: fuzz
	@scripts/fuzz-smoke.sh build-fuzz $(FUZZ_SECONDS)

# The long run: every target for FUZZ_SECONDS each (300 unless given) on a
# corpus kept in build-fuzz/corpus-long/ across runs (FUZZ_JOBS targets at
# once); per-target executions and coverage in build-fuzz/fuzz-long.jsonl.
fuzz-long: fuzz
	@scripts/fuzz-long.sh build-fuzz \
	  $(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),300)

# The seeded chaos suite (tests/integration/chaos, docs/CHAOS.md): CHAOS_SECONDS
# of faults with seed CHAOS_SEED (printed; the same seed replays the same
# schedule); logs, schedule and results kept in $(BUILD)/chaos-<seed>/. Root.
CHAOS_SECONDS ?= 1800
CHAOS_SEED ?= $(shell date +%s)
override CHAOS_SEED := $(CHAOS_SEED)
chaos: build
	@rm -rf $(BUILD)/chaos-$(CHAOS_SEED)
	@CHAOS_OUT=$(BUILD)/chaos-$(CHAOS_SEED) VEIL_BIN=$(BUILD)/src/cmd/veil VEILD_BIN=$(BUILD)/src/cmd/veild \
	  tests/integration/chaos/chaos.sh $(CHAOS_SECONDS) $(CHAOS_SEED)

bench: build
	@scripts/bench.sh $(BUILD)

# VeilNet figures as JSON lines (root: namespaces): one TCP stream through
# Veil's TUN vs wireguard-go vs nebula vs the plain veth, added latency;
# handshake time and CPU (hybrid vs X25519 alone), transport, memory per session.
bench-net: build
	@bench/net/bench_net_tun.sh $(BUILD) 5
	@$(BUILD)/bench/net/bench_net_anchor 1

# VeilNet routing figures as JSON lines: failover, convergence, adoption of a
# better path, regret over changing links, probe/control overhead, onion
# throughput through one and two relays (bench/route, 20 seeds; the carrier's
# through real agents on 127.0.0.1); as root, also
# the namespace topology's run (failover after a relay is killed, convergence,
# regret, Master bytes: tests/integration/route/net_netns.sh --bench).
bench-paths: build
	@$(BUILD)/bench/route/bench_route_paths 20
	@$(BUILD)/bench/route/bench_route_carrier 200
	@if [ "$$(id -u)" = 0 ] && [ -x $(BUILD)/tests/integration/route/route_net_node ]; then \
		VEIL_BUILD_DIR=$(BUILD) tests/integration/route/net_netns.sh --bench 2>/dev/null; fi
	@if [ "$$(id -u)" = 0 ]; then VEIL_BUILD_DIR=$(BUILD) VEIL_BIN=$(BUILD)/src/cmd/veil \
		tests/integration/conflux/conflux_route_netns.sh --bench 2>/dev/null | grep conflux_route; fi

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz
