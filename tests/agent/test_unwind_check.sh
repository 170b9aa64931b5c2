# The stack walker against libunwind on real programs: with
# LEAKSCOPE_CHECK_UNWIND=1 the agent walks every stack it did not copy from
# the previous allocation a second time with libunwind from the top and
# notes how many differed (frames past code without unwind information,
# where libunwind guesses, are not compared). Optimized programs that use
# rbp as a plain register (cc1, perl, python3), a JIT (node) and a
# frame-pointer-free library stack (sqlite3): every walk the same. And two
# small programs a review wrote against the walker: frames that realign
# their stack (CFA = *(rbp - 8), tests/progs/drap.c) and allocations in a
# signal handler behind the signal trampoline (tests/progs/signal_frames.c,
# run several times: the old walker's error there depended on addresses).
# Stacks taken from a guess instead of walked (docs/UNWIND.md, section 19)
# are compared the same way; cc1 must have many.
. "$(dirname "$0")/../lib.sh"

need() { command -v "$1" >/dev/null 2>&1; }

# check NAME MIN CMD...: the recording's unwind-check NOTE says 0 of at
# least MIN walks differed (and, when $guessed_min is set, that at least
# that many stacks were taken from a guess instead of walked, each then
# compared too).
guessed_min=
check() {
    local name=$1 min=$2
    shift 2
    (cd "$T/work" && timeout 300 env LEAKSCOPE_CHECK_UNWIND=1 LD_PRELOAD="$LK_AGENT" \
        LEAKSCOPE_QUIET=1 LEAKSCOPE_OUT="$T/$name.lsr" "$@") >/dev/null 2>"$T/$name.err"
    local line
    line=$("$LEAKSCOPE" dump "$T/$name.lsr" 2>&1 | grep -o 'unwind check: .*')
    if [ -z "$line" ]; then
        fail "$name: no unwind-check note in the recording"
        return
    fi
    local n d g
    n=$(echo "$line" | sed -n 's/^unwind check: \([0-9]*\) walks.*/\1/p')
    d=$(echo "$line" | sed -n 's/.*, \([0-9]*\) differed.*/\1/p')
    g=$(echo "$line" | sed -n 's/.*differed; \([0-9]*\) stacks were guessed.*/\1/p')
    if [ "${d:-x}" != 0 ]; then
        fail "$name: $line"
    elif [ "${n:-0}" -lt "$min" ]; then
        fail "$name: only ${n:-0} walks compared (at least $min expected): $line"
    elif [ -n "$guessed_min" ] && [ "${g:-0}" -lt "$guessed_min" ]; then
        fail "$name: only ${g:-0} stacks guessed (at least $guessed_min expected): $line"
    else
        ok "$name: $line"
    fi
}

cc1=$(gcc -print-prog-name=cc1 2>/dev/null)
if [ -x "$cc1" ]; then
    gcc -E -D_GNU_SOURCE -DLK_VERSION='"t"' -I"$LK_SRC/include" -I"$LK_SRC/src" \
        -I"$LK_SRC/src/agent" "$LK_SRC/src/agent/agent.c" -o "$T/work/agent.i"
    guessed_min=20000 check cc1 50000 "$cc1" -quiet -O2 agent.i -o agent.s
else
    fail "gcc's cc1 is not installed"
fi
if need perl; then
    check perl 1000 perl -e 'my %h; for my $i (1..100000) { $h{$i} = [$i, "x" x ($i % 50)] } print scalar(keys %h), "\n"'
else
    fail "perl is not installed"
fi
if need python3; then
    check python3 10000 env PYTHONMALLOC=malloc python3 -c 'import json; print(len([json.dumps({"a": i, "b": (i, str(i))}) for i in range(30000)]))'
else
    fail "python3 is not installed"
fi
if need node; then
    check node 10000 node -e 'const a = []; for (let i = 0; i < 100000; i++) a.push({x: i, s: "a" + i}); console.log(require("zlib").gzipSync(Buffer.alloc(100000)).length)'
else
    fail "node is not installed"
fi
check drap 5 "$LK_PROGS/drap"
for i in 1 2 3 4; do
    check "signal_frames_$i" 20 "$LK_PROGS/signal_frames"
done
if need sqlite3; then
    check sqlite3 100 sqlite3 :memory: "CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) INSERT INTO t SELECT x, 'n' || x FROM c; CREATE INDEX i ON t(b);"
else
    fail "sqlite3 is not installed"
fi
finish
