# SIGTERM, SIGINT and SIGHUP while snapshots are being written: with a 10 ms
# period the agent is nearly always writing, and each signal is sent at a
# different moment of the run, from right after start-up (the agent may not
# be initialised yet) to well into it. Every time the program must die of
# that signal, as without the agent, within the time the agent allows
# itself (2 s), and leave a recording that dump reads.
. "$(dirname "$0")/../lib.sh"
cd "$T/work"
rounds=${LK_STORM_ROUNDS:-10}
n=0
hit=0
for sig in TERM INT HUP; do
    num=$(kill -l $sig)
    for i in $(seq "$rounds"); do
        out="$T/work/s$sig$i.lsr"
        setsid env --default-signal LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$out" LEAKSCOPE_QUIET=1 \
            LEAKSCOPE_PERIOD_MS=10 "$LK_PROGS/threads_stress" 2000000 4 16 >/dev/null 2>&1 &
        pid=$!
        sleep "0.0$((i * 7 % 10))$i"
        kill -s $sig $pid 2>/dev/null
        start=$(date +%s%N)
        wait $pid
        rc=$?
        took=$((($(date +%s%N) - start) / 1000000))
        n=$((n + 1))
        if [ $rc = 0 ]; then
            continue # it finished before the signal: nothing to check
        fi
        hit=$((hit + 1))
        [ $rc = $((128 + num)) ] || fail "SIG$sig round $i: status $rc, expected $((128 + num))"
        [ $took -lt 3000 ] || fail "SIG$sig round $i: took $took ms to die"
        if [ -e "$out" ]; then
            "$LEAKSCOPE" dump "$out" >"$T/d.out" 2>"$T/d.err"
            drc=$?
            # An empty file: the signal came before the header was written.
            [ $drc = 0 ] || [ ! -s "$out" ] || fail "SIG$sig round $i: recording unreadable: $(cat "$T/d.err")"
        fi
    done
done
[ $hit -ge $((n / 2)) ] || fail "only $hit of $n signals arrived before the program ended"
ok "$hit of $n signals landed during snapshots: each program died of its signal, recordings readable"
finish
