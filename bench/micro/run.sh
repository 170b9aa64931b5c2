#!/usr/bin/env bash
# Micro benchmarks: the cost of one malloc+free pair as the host sees it,
# plainly and under the agent, at stack depths 8/32/64 with 1 and 2 threads
# (bench_hook_cost), then the agent's parts one at a time (bench_tables).
# usage: bench/micro/run.sh [--quick] [BUILD_DIR]   (default build/release)
set -euo pipefail
quick=
if [ "${1:-}" = --quick ]; then
    quick=--quick
    shift
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build/release}" && pwd)
hook=$build/bench/bench_hook_cost
tables=$build/bench/bench_tables
agent=$build/libleakscope.so
for f in "$hook" "$tables" "$agent"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        echo "bench: $f is missing: build first (make build), with add_subdirectory(bench) in CMakeLists.txt" >&2
        exit 2
    fi
done
pairs=${PAIRS:-$([ -n "$quick" ] && echo 500000 || echo 4000000)}
tmp=$(mktemp -d /tmp/lkmicro.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ns/op printed by hook_cost (first field); 3 runs, the median.
ns() {
    local a b c
    a=$("$@" | awk '{print $1}')
    b=$("$@" | awk '{print $1}')
    c=$("$@" | awk '{print $1}')
    printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -g | sed -n 2p
}

n=0
echo "hook cost: malloc(64)+free in a tight loop, $pairs pairs, median of 3 runs"
echo "(the agent captures LEAKSCOPE_DEPTH frames, default 32, so depth 64 is cut at 32)"
printf '  %-7s %-8s %12s %12s %12s %8s\n' depth threads "plain ns" "agent ns" "added ns" ratio
for threads in 1 2; do
    for depth in 8 32 64; do
        plain=$(ns "$hook" "$pairs" "$depth" "$threads")
        n=$((n + 1))
        under=$(ns env LD_PRELOAD="$agent" LEAKSCOPE_QUIET=1 LEAKSCOPE_OUT="$tmp/h.$n.%p.lsr" \
            "$hook" "$pairs" "$depth" "$threads")
        awk -v d="$depth" -v t="$threads" -v p="$plain" -v u="$under" 'BEGIN {
            printf "  %-7s %-8s %12.1f %12.1f %12.1f %7.2fx\n", d, t, p, u, u - p, u / p }'
        rm -f "$tmp"/h.*.lsr
    done
done
echo
"$tables" $quick
