# A thin shell over CMake's presets (CMakePresets.json) for `make` muscle
# memory. Everything real lives in CMakeLists.txt; this file only chains
# deps -> configure -> build -> test/demo/install.
#
#   make            install missing build deps (Debian), build build/release
#   make test       build, then run every registered test with ctest
#   make demo       build, then record examples/demo_server.c and report
#   make install    PREFIX=/usr/local DESTDIR= (agent in PREFIX/lib/leakscope)
#   make asan       build the asan preset and run the unit tests under it
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

.PHONY: all build deps configure test demo install asan bench clean

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

asan: deps
	$(CMAKE) --preset asan
	@unset MAKEFLAGS MFLAGS MAKELEVEL; $(CMAKE) --build --preset asan -j $(JOBS)
	$(CTEST) --test-dir build/asan --output-on-failure -j2 -R '^unit/'

BENCH_ARGS ?= --quick

bench: build
	bash bench/micro/run.sh $(BENCH_ARGS) $(BUILD)
	python3 bench/macro/run.py $(BENCH_ARGS) --build $(BUILD)

clean:
	rm -rf build
