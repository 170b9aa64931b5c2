# A steady program with 384 active allocation sites and a high allocation
# rate, snapshotted every 20 ms: after warm-up the recording must grow by
# less than 291 bytes per snapshot, which is what DESIGN.md's budget (under
# 1 MB per hour) allows at the default 1 s period; and `report` on it must
# stay fast. This simulates a long run: 16 s at 20 ms is 800 periods, and
# the measured window of about 600 snapshots holds one refresh snapshot
# (every 600th lists every site that changed), as an hour at 1 s holds six.
. "$(dirname "$0")/../lib.sh"

LEAKSCOPE_PERIOD_MS=20 LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/m.lsr" LEAKSCOPE_QUIET=1 \
    "$LK_PROGS/many_sites" 16 >/dev/null &
pid=$!
sleep 2
s1=$(stat -c %s "$T/m.lsr")
n1=$("$LEAKSCOPE" dump "$T/m.lsr" 2>/dev/null | grep -c SNAPSHOT)
sleep 12
s2=$(stat -c %s "$T/m.lsr")
n2=$("$LEAKSCOPE" dump "$T/m.lsr" 2>/dev/null | grep -c SNAPSHOT)
wait $pid || fail "many_sites failed under the agent"
sites=$("$LEAKSCOPE" dump "$T/m.lsr" | grep -c ' STACK ')
[ "$sites" -ge 384 ] || fail "only $sites sites recorded, expected at least 384"
per=$(((s2 - s1) / (n2 - n1)))
echo "steady state: $((s2 - s1)) bytes over $((n2 - n1)) snapshots = $per bytes per snapshot ($sites sites)"
[ "$per" -lt 291 ] && ok "recording grows by $per bytes per snapshot (< 291: under 1 MB/hour at 1 s)" ||
    fail "recording grows by $per bytes per snapshot, over the 1 MB/hour budget at 1 s"
start=$(date +%s%N)
"$LEAKSCOPE" report "$T/m.lsr" >"$T/report.txt" 2>&1 || fail "report failed"
ms=$((($(date +%s%N) - start) / 1000000))
echo "report on $(grep -c SNAPSHOT <("$LEAKSCOPE" dump "$T/m.lsr")) snapshots, $sites sites: $ms ms"
[ "$ms" -lt 10000 ] || fail "report took $ms ms"
grep -qE '^(LEAK|GROWING)' "$T/report.txt" && fail "a steady program was reported as leaking: $(head -1 "$T/report.txt")"
finish
