#!/usr/bin/env bash
# The slow stress pass (make soak): for --minutes M (default 10), loops the
# agent's stress scripts with heavier settings until the time is up -- the
# signal storm with 100 rounds per signal, the threads test, dlopen with
# 2000 load/unload cycles, the fork tests, the agent task's rules, lifecycle
# cases -- and ends with the hostile-input test over every byte with every
# verb. Every loop is bounded in count and time; each script keeps its own
# 300 s limit (the full hostile-input pass 1200 s).
#   tests/stress/soak.sh [--minutes M] BUILD_DIR
set -uo pipefail
minutes=10
while [ $# -gt 1 ]; do
    case $1 in
    --minutes) minutes=$2; shift 2 ;;
    *) break ;;
    esac
done
build=$(cd "${1:-build/release}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
export LEAKSCOPE="$build/leakscope" LK_AGENT="$build/libleakscope.so" LK_PROGS="$build/progs"
export LK_SRC="$src" LK_BUILD="$build"
end=$(($(date +%s) + minutes * 60))
pass=0 fail=0 round=0
one() { # NAME CMD...: a script with a 300 s bound (LIMIT= to change it)
    if timeout -k 10 "${LIMIT:-300}" "$@" >"/tmp/lksoak.$$.log" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "soak: round $round: $1 failed:" >&2
        grep -E 'FAIL|Sanitizer|timed out' "/tmp/lksoak.$$.log" | head -5 >&2
    fi
}
while [ "$(date +%s)" -lt "$end" ]; do
    round=$((round + 1))
    LK_STORM_ROUNDS=100 one bash "$src/tests/agent/test_signal_storm.sh"
    one bash "$src/tests/agent/test_threads.sh"
    one bash "$src/tests/agent/test_lifecycle.sh"
    one bash "$src/tests/agent/test_fork.sh"
    one bash "$src/tests/agent/test_task.sh"
    one timeout 120 env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_QUIET=1 LEAKSCOPE_PERIOD_MS=10 \
        LEAKSCOPE_OUT="/tmp/lksoak.$$.dl.lsr" "$LK_PROGS/dlopener" "$LK_PROGS/libplugin.so" 100 100 2000
    rm -f /tmp/lksoak.$$.dl.lsr*
    echo "soak: round $round done ($pass passed, $fail failed)"
done
# every byte with every verb: over 5 minutes on a 2-vCPU EPYC VM
LIMIT=1200 LK_HOSTILE_FULL=1 one bash "$src/tests/agent/test_hostile_input.sh"
rm -f "/tmp/lksoak.$$.log"
echo "soak: $round rounds, $pass passed, $fail failed"
[ "$fail" -eq 0 ]
