#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# straight from the sources, and runs them:
#
#   tests/fuzz/run.sh [--time S] [--build DIR] [--replay] [--merge] [TARGET...]
#
#   --time S    fuzz each target for S seconds (default 60); new inputs go to
#               DIR/new/TARGET, never into the committed corpus
#   --replay    run each target once over its committed corpus and stop: the
#               regression test (ctest runs it as fuzz/replay)
#   --merge     afterwards, merge what was found into tests/fuzz/corpus/TARGET
#               (minimized by coverage), to commit on purpose
#   --build DIR where to build (default build/fuzz)
#
# Targets: recording (reader, decoders, model, verdicts, reports), options
# (argv of every verb), procfs (the agent's /proc, cgroup and environment
# parsers). A crash leaves its input in DIR/artifacts/ and exits 1: add the
# input to tests/fuzz/corpus/TARGET/ (named crash-WHAT) with the fix, so
# --replay keeps it fixed. Exits 77 when clang or libFuzzer is missing.
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build/fuzz"
time=60
replay=0
merge=0
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --time) time=$2; shift ;;
    --build) build=$2; shift ;;
    --replay) replay=1 ;;
    --merge) merge=1 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
    esac
    shift
done
[ ${#targets[@]} -eq 0 ] && targets=(recording options procfs elf)

CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CLANG" ]; then
    echo "fuzz: clang not found (make deps installs it); skipped" >&2
    exit 77
fi
mkdir -p "$build"
build=$(cd "$build" && pwd) # absolute: a target may change directory (libFuzzer then loses relative paths)
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' |
    "$CLANG" -x c -fsanitize=fuzzer - -o "$build/probe" 2>/dev/null; then
    echo "fuzz: $CLANG cannot link libFuzzer (install libclang-rt-dev); skipped" >&2
    exit 77
fi

flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -std=gnu17 -D_GNU_SOURCE -DLK_VERSION=\"fuzz\"
       -I"$src/src" -I"$src/include" $(pkg-config --cflags libdw 2>/dev/null))
libs=($(pkg-config --libs libdw 2>/dev/null || echo -ldw) -lelf -lstdc++ -lm -lz)

# The sources each target needs, as the tree has them now.
lib_sources() {
    ls "$src"/src/base/*.c "$src"/src/record/*.c
    case $1 in
    recording)
        ls "$src"/src/analyze/*.c "$src"/src/symbolize/*.c "$src"/src/render/*.c \
            "$src"/src/watch/*.c 2>/dev/null ;;
    options)
        ls "$src"/src/analyze/*.c "$src"/src/symbolize/*.c "$src"/src/render/*.c \
            "$src"/src/cli/*.c "$src"/src/watch/*.c 2>/dev/null |
            grep -v -e '/cli/main\.c$' -e '/cli/cmd_run\.c$' -e '/cli/cmd_check\.c$'
        ls "$src"/tests/fuzz/fuzz_options_run.c "$src"/tests/fuzz/fuzz_options_check.c ;;
    procfs) ls "$src"/src/agent/sys.c "$src"/src/agent/task.c "$src"/src/agent/options.c ;;
    elf) ls "$src"/src/analyze/*.c "$src"/src/symbolize/*.c ;;
    esac
}

build_target() {
    local t=$1 exe="$build/fuzz_$1"
    local newest
    newest=$( (lib_sources "$t"; echo "$src/tests/fuzz/fuzz_$t.c") | xargs ls -t | head -1)
    if [ -x "$exe" ] && [ "$exe" -nt "$newest" ] && [ "$exe" -nt "$0" ]; then
        return 0
    fi
    echo "fuzz: building fuzz_$t" >&2
    "$CLANG" "${flags[@]}" -o "$exe" "$src/tests/fuzz/fuzz_$t.c" $(lib_sources "$t") "${libs[@]}" \
        2>"$build/fuzz_$t.log" || { cat "$build/fuzz_$t.log" >&2; return 1; }
}

rc=0
for t in "${targets[@]}"; do
    build_target "$t" || { rc=1; continue; }
    corpus="$src/tests/fuzz/corpus/$t"
    mkdir -p "$build/artifacts" "$build/new/$t"
    opts=(-rss_limit_mb=2048 -timeout=20 -artifact_prefix="$build/artifacts/$t-" -print_final_stats=0)
    [ -f "$src/tests/fuzz/$t.dict" ] && opts+=(-dict="$src/tests/fuzz/$t.dict")
    if [ $replay = 1 ]; then
        n=$(ls "$corpus" | wc -l)
        if ASAN_OPTIONS=detect_leaks=1 "$build/fuzz_$t" "${opts[@]}" "$corpus"/* >"$build/replay_$t.log" 2>&1; then
            echo "fuzz: $t: $n corpus inputs replayed, no crash"
        else
            echo "fuzz: $t: a corpus input crashes:" >&2
            grep -E 'ERROR|SUMMARY|Running:|runtime error' "$build/replay_$t.log" | tail -8 >&2
            rc=1
        fi
        continue
    fi
    echo "fuzz: $t for ${time}s (corpus $(ls "$corpus" | wc -l) inputs)" >&2
    if ! "$build/fuzz_$t" "${opts[@]}" -max_total_time="$time" "$build/new/$t" "$corpus" \
        >"$build/fuzz_$t.out" 2>&1; then
        echo "fuzz: $t: crash; input in $(ls -t "$build"/artifacts/$t-* 2>/dev/null | head -1)" >&2
        grep -E 'ERROR|SUMMARY|runtime error' "$build/fuzz_$t.out" | head -5 >&2
        rc=1
        continue
    fi
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$build/fuzz_$t.out" | tail -1)
    echo "fuzz: $t: no crash; ${stats:-no stats}"
    if [ $merge = 1 ]; then
        "$build/fuzz_$t" -merge=1 "$corpus" "$build/new/$t" >/dev/null 2>&1
        echo "fuzz: $t: corpus now $(ls "$corpus" | wc -l) inputs"
    fi
done
exit $rc
