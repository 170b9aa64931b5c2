# A thin shell over CMake's presets (CMakePresets.json) for `make` muscle
# memory. Everything real lives in CMakeLists.txt; this file only chains
# deps -> configure -> build -> test/demo/install.
#
#   make            install missing build deps (Debian), build build/release
#   make test       build, then run every registered test with ctest
#   make demo       build, then record examples/demo_server.c and report
#   make install    PREFIX=/usr/local DESTDIR= (agent in PREFIX/lib/leakscope)
#   make asan       build the asan preset (ASan+UBSan) and run the whole suite with its CLI
#                   and unit tests; the agent preloaded into test programs is the release one
#   make tsan       build the tsan preset and run the agent's concurrency unit tests
#   make fuzz       build the libFuzzer targets (clang) and fuzz each FUZZ_TIME s (default 60)
#   make soak       stress the agent for SOAK_MINUTES (default 10): threads, signals, dlopen,
#                   forks, in loops (tests/stress/soak.sh)
#   make bench      build, then the micro and the macro benchmark, quick mode
#                   (docs/BENCHMARKS.md; BENCH_ARGS= for a full run)
#   make clean      remove build/

PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST ?= ctest
CC ?= cc

BUILD := build/release

.PHONY: all build deps configure test demo install asan tsan fuzz soak bench clean

all: build

deps:
	@bash tools/deps.sh

# Configure once; afterwards the build re-runs CMake by itself when a
# CMakeLists.txt or a globbed directory changes.
$(BUILD)/CMakeCache.txt: | deps
	$(CMAKE) --preset release

configure: deps
	$(CMAKE) --preset release

# CMake's own makefiles run as a fresh make: without our MAKEFLAGS they do
# not print "Entering directory" for every target nor fight over -j.
build: deps $(BUILD)/CMakeCache.txt
	@unset MAKEFLAGS MFLAGS MAKELEVEL; $(CMAKE) --build --preset release -j $(JOBS)

test: build
	$(CTEST) --test-dir $(BUILD) --output-on-failure -j2

# The demo is built here rather than in CMake so that it stays an ordinary
# program compiled the way a user would compile theirs.
$(BUILD)/demo_server: examples/demo_server.c | build
	$(CC) -g -O1 -fno-omit-frame-pointer -pthread examples/demo_server.c -o $@

demo: build $(BUILD)/demo_server
	$(BUILD)/leakscope run -o build/demo.lsr --force -- $(BUILD)/demo_server 10

install: build
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD) --prefix "$(PREFIX)"

# The whole suite with a sanitized CLI and sanitized unit tests. A sanitized
# libleakscope.so cannot be preloaded into ordinary programs (the ASan
# runtime must be the first library loaded), so the script tests preload
# the release agent into the release test programs, while every leakscope
# command they run (run, report, dump, html, export, diff) is the ASan+UBSan
# build (LEAKSCOPE_AGENT points run and check at the release agent: an ASan
# agent cannot be preloaded into uninstrumented programs; and a test that
# runs the CLI itself with LD_PRELOAD set needs verify_asan_link_order=0).
# The agent's own code is covered by the unit tests that link it.
asan: build
	$(CMAKE) --preset asan -DLK_SCRIPT_AGENT=$(CURDIR)/$(BUILD)/libleakscope.so \
	    -DLK_SCRIPT_PROGS=$(CURDIR)/$(BUILD)/progs
	@unset MAKEFLAGS MFLAGS MAKELEVEL; $(CMAKE) --build --preset asan -j $(JOBS)
	LEAKSCOPE_AGENT=$(CURDIR)/$(BUILD)/libleakscope.so ASAN_OPTIONS=verify_asan_link_order=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(CTEST) --test-dir build/asan --output-on-failure -j2

# ThreadSanitizer over the agent's concurrent tables (the live map and the
# site table are hammered from many threads by their unit tests). Warnings
# are errors in the release build; -fsanitize=thread at -O0 makes GCC warn
# differently (format-truncation in cmd_check.c), so not here.
TSAN_TESTS := test_live_map test_site_table
tsan: deps
	$(CMAKE) --preset tsan -DLK_WERROR=OFF
	@unset MAKEFLAGS MFLAGS MAKELEVEL; $(CMAKE) --build --preset tsan -j $(JOBS) \
	    $(addprefix --target ,$(TSAN_TESTS))
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	    $(CTEST) --test-dir build/tsan --output-on-failure -R '^unit/($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

FUZZ_TIME ?= 60
fuzz: deps
	bash tests/fuzz/run.sh --time $(FUZZ_TIME) --build build/fuzz

SOAK_MINUTES ?= 10
soak: build
	bash tests/stress/soak.sh --minutes $(SOAK_MINUTES) $(BUILD)

BENCH_ARGS ?= --quick

bench: build
	bash bench/micro/run.sh $(BENCH_ARGS) $(BUILD)
	python3 bench/macro/run.py $(BENCH_ARGS) --build $(BUILD)

clean:
	rm -rf build
