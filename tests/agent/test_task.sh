# The agent's own task (src/agent/task.h) is a raw clone that glibc does not
# know: a single-threaded program stays single-threaded for glibc (whose
# malloc then skips its arena locks), its errno is never the task's, the
# task follows the program when it drops root, a fork child started from a
# thread that then exits keeps recording, and a main thread that ends with
# pthread_exit() ends the process. tests/progs/task_rules.c
# prints what must not change; the output with the agent, in both modes,
# must be the plain run's, and the recordings must show that the task ran.
. "$(dirname "$0")/../lib.sh"

prog="$LK_PROGS/task_rules"
# The child of the fork phase runs as nobody after the setuid phase: it
# must be able to create its recording next to the parent's.
chmod 711 "$T"
mkdir -m 1777 "$T/open"
export GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0 # an exited thread's stack is unmapped at once

"$prog" 400 "$T/plain.diag" >"$T/plain.out" 2>"$T/plain.err" || fail "plain run exited $?"
want="single 1
errno kept
creds every task
fork child exit 7
threads single 0"
[ "$(id -u)" = 0 ] || want=${want/creds every task/creds not root}
[ "$(cat "$T/plain.out")" = "$want" ] || fail "plain run printed: $(tr '\n' '|' <"$T/plain.out")"

for mode in full sampled; do
    sample=0
    [ "$mode" = sampled ] && sample=64K
    rec="$T/open/$mode.lsr"
    LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$rec" LEAKSCOPE_QUIET=1 LEAKSCOPE_PERIOD_MS=20 \
        LEAKSCOPE_SAMPLE=$sample LEAKSCOPE_FORK=follow "$prog" 400 "$T/$mode.diag" \
        >"$T/$mode.out" 2>"$T/$mode.err"
    rc=$?
    [ "$rc" = 0 ] || fail "$mode: exited $rc under the agent: $(head -3 "$T/$mode.err")"
    if cmp -s "$T/plain.out" "$T/$mode.out"; then
        ok "$mode: output unchanged ($(tr '\n' ',' <"$T/$mode.out"))"
    else
        fail "$mode: output differs"
        diff "$T/plain.out" "$T/$mode.out" >&2
    fi
    # the agent's task is there, beside the main thread, and not a pthread
    grep -qx 'tasks 2' "$T/$mode.diag" && ok "$mode: the agent's task runs beside the main thread" ||
        fail "$mode: tasks seen: $(tr '\n' ' ' <"$T/$mode.diag")"
    "$LEAKSCOPE" dump "$rec" >"$T/$mode.dump" 2>&1 || fail "$mode: dump failed: $(head -2 "$T/$mode.dump")"
    n=$(grep -c SNAPSHOT "$T/$mode.dump")
    [ "$n" -ge 20 ] && ok "$mode: $n snapshots" || fail "$mode: only $n snapshots in 1.6 s of 20 ms periods"
    grep -q 'END len=.* reason=0 code=0$' "$T/$mode.dump" || fail "$mode: parent recording has no END code=0"
    child=$(sed -n 's/^child //p' "$T/$mode.diag")
    if [ -f "$rec.$child" ]; then
        "$LEAKSCOPE" dump "$rec.$child" >"$T/$mode.child.dump" 2>&1 ||
            fail "$mode: child recording unreadable: $(head -2 "$T/$mode.child.dump")"
        c=$(grep -c SNAPSHOT "$T/$mode.child.dump")
        grep -q 'END len=.* reason=0 code=7$' "$T/$mode.child.dump" && [ "$c" -ge 5 ] &&
            ok "$mode: the fork child recorded $c snapshots after its forking thread exited, and its status 7" ||
            fail "$mode: child recording has $c snapshots, END: $(grep END "$T/$mode.child.dump")"
    else
        fail "$mode: no child recording $rec.$child (have: $(ls "$T/open"))"
    fi
done

# A single-threaded program whose main thread ends with pthread_exit() exits
# with status 0 through its atexit handlers, as without the agent, and the
# recording ends there.
"$LK_PROGS/main_thread_exit" >"$T/mte.plain" || fail "main_thread_exit exited $? without the agent"
timeout -k 5 30 env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/mte.lsr" LEAKSCOPE_QUIET=1 \
    "$LK_PROGS/main_thread_exit" >"$T/mte.lk"
rc=$?
if [ "$rc" = 0 ] && cmp -s "$T/mte.plain" "$T/mte.lk" &&
    "$LEAKSCOPE" dump "$T/mte.lsr" 2>&1 | grep -q 'END len=.* reason=0 code=0$'; then
    ok "main thread's pthread_exit: the process exits 0 through atexit, the recording has its END"
else
    fail "main thread's pthread_exit under the agent: exit $rc (124/137: it hung), output: $(tr '\n' '|' <"$T/mte.lk")"
fi
finish
