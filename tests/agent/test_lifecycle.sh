# How a process starts and ends, and how it misbehaves, under the agent:
# allocations before the agent is initialised (another library's
# constructor), after its final snapshot (destructors, atexit); exit() from
# a thread other than main; _exit; abort; a double free and frees of
# pointers malloc never returned (glibc must abort exactly as without the
# agent, with its own message); a signal handler that calls malloc, hit tens
# of thousands of times (no deadlock, bounded by a timeout). Each time:
# same stdout, stderr and status as a plain run, and a readable recording.
. "$(dirname "$0")/../lib.sh"
cd "$T/work"

# same NAME ARGS...: lifecycle ARGS plainly and with the agent preloaded
# (directly: a `timeout` in between would be the recorded process and
# lifecycle its untracked child). Sets $status to the common exit status.
same() {
    local name=$1
    shift
    local a b
    { timeout 60 env --default-signal "$@" >"$T/$name.p.out" 2>"$T/$name.p.err"; } 2>/dev/null
    a=$?
    { timeout 60 env --default-signal LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/$name.lsr" \
        LEAKSCOPE_QUIET=1 LEAKSCOPE_PERIOD_MS=50 "$@" >"$T/$name.a.out" 2>"$T/$name.a.err"; } 2>/dev/null
    b=$?
    status=$b
    if [ "$a" = 124 ] || [ "$b" = 124 ]; then
        fail "$name: timed out (plain $a, agent $b)"
        return 1
    fi
    [ "$a" = "$b" ] || { fail "$name: status $b under the agent, $a without"; return 1; }
    cmp -s "$T/$name.p.out" "$T/$name.a.out" || { fail "$name: stdout differs"; return 1; }
    cmp -s "$T/$name.p.err" "$T/$name.a.err" || {
        fail "$name: stderr differs: '$(head -c 200 "$T/$name.a.err")' vs '$(head -c 200 "$T/$name.p.err")'"
        return 1
    }
    "$LEAKSCOPE" dump "$T/$name.lsr" >"$T/$name.dump" 2>"$T/$name.dump.err" || {
        fail "$name: recording unreadable: $(head -2 "$T/$name.dump.err")"
        return 1
    }
    ok "$name: status $a, output unchanged, recording readable ($(grep -c SNAPSHOT "$T/$name.dump") snapshots)"
}

lc="$LK_PROGS/lifecycle"
if same exit_thread "$lc" exit-thread 300; then
    [ "$status" = 7 ] || fail "exit-thread: status $status"
    grep -q 'END len=.* reason=0 code=7$' "$T/exit_thread.dump" || fail "exit-thread: no END code=7"
fi
if same _exit "$lc" _exit 300; then
    grep -q ' END ' "$T/_exit.dump" && fail "_exit: an END record (exit handlers cannot run)"
    [ "$(grep -c SNAPSHOT "$T/_exit.dump")" -ge 3 ] || fail "_exit: fewer than 3 snapshots"
fi
if same abort "$lc" abort 300; then
    [ "$status" = 134 ] || fail "abort: status $status"
    [ "$(grep -c SNAPSHOT "$T/abort.dump")" -ge 3 ] || fail "abort: fewer than 3 snapshots"
    "$LEAKSCOPE" report "$T/abort.lsr" >/dev/null 2>"$T/abort.rep.err" ||
        fail "abort: report failed: $(head -2 "$T/abort.rep.err")"
fi
for m in double-free foreign-free interior-free; do
    if same "$m" "$lc" "$m" 200; then
        [ "$status" = 134 ] || fail "$m: status $status, expected glibc's abort (134)"
        grep -q . "$T/$m.a.err" || fail "$m: no glibc message"
    fi
done
same signal_malloc "$lc" signal-malloc 30000

# Another library's constructor allocates before the agent starts; the
# program measures, reallocates and frees those blocks; destructors and an
# atexit handler allocate after the final snapshot.
run_same init_order "$LK_PROGS/init_order"
grep -q 'early blocks with a short usable size: 0' "$T/init_order.out.lk" ||
    fail "init_order: malloc_usable_size wrong on blocks from before the agent"
grep -q 'ctorlib destructor ran' "$T/init_order.out.lk" || fail "init_order: destructor output missing"
"$LEAKSCOPE" dump "$T/init_order.lsr" | grep -q 'END len=.* reason=0 code=3$' ||
    fail "init_order: no END code=3"

# A program that sets a signal handler must get it whether the agent records
# or stays dormant: disabled, or in a child exec'd by a recorded process.
prog='import signal; signal.signal(signal.SIGUSR1, lambda *a: None); print("handler set")'
py=$(command -v python3)
for how in disabled child; do
    if [ $how = disabled ]; then
        out=$(LD_PRELOAD="$LK_AGENT" LEAKSCOPE_DISABLE=1 "$py" -c "$prog" 2>&1)
    else
        out=$(LD_PRELOAD="$LK_AGENT" LEAKSCOPE_QUIET=1 LEAKSCOPE_OUT="$T/dormant.lsr" \
            sh -c "\"$py\" -c '$prog'; true" 2>&1)
    fi
    [ "$out" = "handler set" ] && ok "sigaction works in a dormant agent ($how)" ||
        fail "sigaction fails when the agent is dormant ($how): $(echo "$out" | tail -1)"
done
finish
