# Fatal signals: SIGTERM/SIGINT/SIGHUP to a program under the agent end it
# with the same status as without the agent, after a final snapshot and an
# END record naming the signal; a program's own SIGINT handling (Python's
# KeyboardInterrupt) is unchanged; SIGKILL leaves a recording readable up to
# its last snapshot. The agent's sigprocmask (its walks block every signal
# once and leave libunwind's calls without effect) behaves as glibc's for
# the program, and leaves the mask as it was after walks interrupted by a
# SIGALRM storm.
. "$(dirname "$0")/../lib.sh"

# A background job of a non-interactive shell starts with SIGINT ignored:
# env --default-signal gives every program here the default dispositions.
plain() { echo env --default-signal; }
agent_env() {
    echo env --default-signal LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$1" LEAKSCOPE_QUIET=1 \
        LEAKSCOPE_PERIOD_MS=200
}

# status_after SIG DELAY CMD...: starts CMD in a session of its own, signals
# it after DELAY seconds, prints its exit status.
status_after() {
    local sig=$1 delay=$2
    shift 2
    setsid "$@" </dev/null >/dev/null 2>&1 &
    local pid=$!
    sleep "$delay"
    kill -s "$sig" "$pid"
    wait "$pid"
    echo $?
}

for sig in TERM INT HUP; do
    plain=$(status_after $sig 1 $(plain) "$LK_PROGS/leak_simple" 20)
    lk=$(status_after $sig 1 $(agent_env "$T/sig$sig.lsr") "$LK_PROGS/leak_simple" 20)
    [ "$plain" = "$lk" ] || fail "SIG$sig: status $lk under the agent, $plain without"
    num=$(kill -l $sig)
    if "$LEAKSCOPE" dump "$T/sig$sig.lsr" | grep -q "END len=.* reason=1 code=$num\$"; then
        ok "SIG$sig: status $plain, END records signal $num"
    else
        fail "SIG$sig: no END record naming signal $num"
        "$LEAKSCOPE" dump "$T/sig$sig.lsr" | tail -3 >&2
    fi
done

if command -v python3 >/dev/null; then
    py='import time
try:
    time.sleep(20)
except KeyboardInterrupt:
    print("caught")
    raise'
    plain=$(status_after INT 1.5 $(plain) python3 -c "$py")
    lk=$(status_after INT 1.5 $(agent_env "$T/py.lsr") python3 -c "$py")
    [ "$plain" = "$lk" ] || fail "python SIGINT: status $lk under the agent, $plain without"
    out=$(setsid $(agent_env "$T/py2.lsr") python3 -c 'import signal; print(signal.getsignal(signal.SIGINT))')
    case "$out" in
    *default_int_handler*) ok "python sees its own SIGINT handler" ;;
    *) fail "python's SIGINT handler changed under the agent: $out" ;;
    esac
    "$LEAKSCOPE" dump "$T/py.lsr" | grep -q 'END len=.* reason=1 code=2$' &&
        ok "python KeyboardInterrupt: status $plain, final snapshot written" ||
        fail "python SIGINT: no END record"
fi

# SIGKILL: no final snapshot, but every complete one is readable.
setsid $(agent_env "$T/kill.lsr") "$LK_PROGS/leak_simple" 20 >/dev/null &
pid=$!
sleep 1.5
kill -KILL $pid
wait $pid 2>/dev/null
n=$("$LEAKSCOPE" dump "$T/kill.lsr" | grep -c SNAPSHOT)
[ "$n" -ge 3 ] && ok "SIGKILL: $n snapshots readable" || fail "SIGKILL: only $n snapshots"
"$LEAKSCOPE" dump "$T/kill.lsr" | grep -q ' END ' && fail "SIGKILL: END record cannot exist"

run_same sigmask "$LK_PROGS/sigmask"
grep -q 'mask as at the start: yes' "$T/sigmask.out.lk" || fail "sigmask: the mask changed under the agent"
grep -q 'alarms delivered while allocating: yes' "$T/sigmask.out.lk" ||
    fail "sigmask: SIGALRM was not delivered under the agent"
LEAKSCOPE_CHECK_UNWIND=1 run_same sigmask_check "$LK_PROGS/sigmask"
finish
