# Thinning of older snapshots (LEAKSCOPE_THIN, issue #4) on a simulated long
# run: a 10 ms period and a 1 s window make 20 s look like days at 1 s
# (2000 periods, 20 windows). Checks that thinning happened (snapshot seq
# numbers have gaps, the latest is kept), that the recording stays within
# the size bound, that `report` is fast and its verdicts unchanged (a steady
# program is not leaking, a leaking one still is, with the same top frame),
# that the file keeps mode 0600, and that SIGKILL at random moments (also
# during a thinning) leaves a readable recording.
. "$(dirname "$0")/../lib.sh"

# Snapshot count, highest seq and total SNAPSHOT payload bytes of a recording.
snap_stats() {
    "$LEAKSCOPE" dump "$1" 2>/dev/null |
        awk '/ SNAPSHOT /{n++; for (i = 1; i <= NF; i++) {
                 if ($i ~ /^seq=/) { s = substr($i, 5) + 0; if (s > max) max = s }
                 if ($i ~ /^len=/) b += substr($i, 5) + 9 } }
             END { print n + 0, max + 0, b + 0 }'
}

# 1. A steady program with 384 sites, thinned.
LEAKSCOPE_THIN=1s,16K LEAKSCOPE_PERIOD_MS=10 LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/m.lsr" \
    LEAKSCOPE_QUIET=1 "$LK_PROGS/many_sites" 20 >/dev/null || fail "many_sites failed under the agent"
read -r n maxseq bytes < <(snap_stats "$T/m.lsr")
echo "steady: $n snapshots kept of $((maxseq + 1)), $bytes bytes of snapshots, file $(stat -c %s "$T/m.lsr") bytes"
[ "$n" -gt 0 ] && [ $((maxseq + 1)) -ge 1000 ] || fail "only $((maxseq + 1)) snapshots were taken"
[ $((n * 2)) -lt $((maxseq + 1)) ] && ok "thinned: $n of $((maxseq + 1)) snapshots kept" ||
    fail "not thinned: $n of $((maxseq + 1)) snapshots kept"
"$LEAKSCOPE" dump "$T/m.lsr" | grep ' SNAPSHOT ' | tail -1 | grep -q " seq=$maxseq " ||
    fail "the latest snapshot (seq $maxseq) is not the last one in the file"
# Bytes per period: DESIGN.md's 1 MB/hour at 1 s is 291 bytes per period. The
# thinned file must do far better than that over this long "run".
per=$((bytes / (maxseq + 1)))
[ "$per" -lt 100 ] && ok "snapshots take $per bytes per period (< 100; budget 291)" ||
    fail "snapshots take $per bytes per period after thinning (expected < 100)"
[ "$(stat -c %a "$T/m.lsr")" = 600 ] || fail "thinned recording has mode $(stat -c %a "$T/m.lsr")"
ls "$T"/*.thin >/dev/null 2>&1 && fail "a temporary .thin file was left behind"
start=$(date +%s%N)
"$LEAKSCOPE" report "$T/m.lsr" >"$T/m.report" 2>&1 || fail "report failed: $(head -3 "$T/m.report")"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] && ok "report on the thinned recording: $ms ms" || fail "report took $ms ms"
grep -qE '^(LEAK|GROWING)' "$T/m.report" && fail "steady program reported as leaking: $(head -1 "$T/m.report")"

# 2. A leaking program: thinned or not, the same verdict and top frame.
for thin in off 1s,8K; do
    LEAKSCOPE_THIN=$thin LEAKSCOPE_PERIOD_MS=10 LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/leak.$thin.lsr" \
        LEAKSCOPE_QUIET=1 "$LK_PROGS/leak_simple" 12 >/dev/null || fail "leak_simple failed (THIN=$thin)"
    "$LEAKSCOPE" report --json "$T/leak.$thin.lsr" >"$T/leak.$thin.json" 2>/dev/null ||
        fail "report --json failed (THIN=$thin)"
done
read -r n maxseq bytes < <(snap_stats "$T/leak.1s,8K.lsr")
[ $((n * 2)) -lt $((maxseq + 1)) ] || fail "leak_simple not thinned: $n of $((maxseq + 1)) kept"
verdicts() {
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for s in r.get("sites", [])[:3]:
    fr = [f.get("function") for f in s.get("frames", []) if f.get("function")]
    print(s.get("verdict"), fr[0] if fr else "?")' "$1"
}
a=$(verdicts "$T/leak.off.json")
b=$(verdicts "$T/leak.1s,8K.json")
echo "unthinned: $(echo $a)"
echo "thinned:   $(echo $b)"
echo "$b" | head -1 | grep -q '^LEAK ' || fail "thinned leak_simple: top site is not a LEAK ($b)"
[ "$(echo "$a" | head -1)" = "$(echo "$b" | head -1)" ] && ok "same top verdict thinned and not" ||
    fail "top verdict differs: '$(echo "$a" | head -1)' vs '$(echo "$b" | head -1)'"

# 3. SIGKILL at random moments, thinning often (a small EVERY): the recording
# is always readable up to its last snapshot.
for i in 1 2 3 4 5 6; do
    rm -f "$T/k.lsr"
    LEAKSCOPE_THIN=1s,4K LEAKSCOPE_PERIOD_MS=10 LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/k.lsr" \
        LEAKSCOPE_QUIET=1 "$LK_PROGS/many_sites" 30 >/dev/null &
    pid=$!
    for _ in $(seq 300); do # a loaded machine can be slow to start: wait for a first snapshot
        "$LEAKSCOPE" dump "$T/k.lsr" 2>/dev/null | grep -q ' SNAPSHOT ' && break
        sleep 0.1
    done
    sleep "$(awk -v s="$RANDOM" 'BEGIN { printf "%.2f", (s % 300) / 100 }')"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    if ! "$LEAKSCOPE" report "$T/k.lsr" >"$T/k.report" 2>&1; then
        fail "recording killed mid-run ($i) is unreadable: $(head -2 "$T/k.report")"
        continue
    fi
    read -r n maxseq bytes < <(snap_stats "$T/k.lsr")
    [ "$n" -gt 0 ] || fail "recording killed mid-run ($i) holds no snapshot"
done
ok "6 recordings killed with SIGKILL mid-run are readable"
rm -f "$T"/*.thin

# 4. The thinned copy is on disk (fdatasync) before it is renamed over the
# recording: after a power cut the rename must not have outrun the data.
if command -v strace >/dev/null; then
    strace -f -qq -e trace=fdatasync,rename -o "$T/sync.trace" env LEAKSCOPE_THIN=1s,16K \
        LEAKSCOPE_PERIOD_MS=10 LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/s.lsr" LEAKSCOPE_QUIET=1 \
        "$LK_PROGS/many_sites" 4 >/dev/null 2>&1 || fail "many_sites failed under strace"
    python3 - "$T/sync.trace" <<'PY' && ok "every thinned copy was synced before its rename" ||
import re, sys
synced, renames, bad = set(), 0, 0
for line in open(sys.argv[1]):
    m = re.match(r"(\d+)\s+fdatasync\((\d+)\)\s+= 0", line)
    if m:
        synced.add(m.group(1))
        continue
    m = re.match(r'(\d+)\s+rename\("[^"]*\.thin", ', line)
    if m:
        renames += 1
        if m.group(1) not in synced:
            bad += 1
        synced.discard(m.group(1))
print("renames of a .thin copy: %d, without a sync first: %d" % (renames, bad))
sys.exit(0 if renames and not bad else 1)
PY
        fail "a thinned copy was renamed without fdatasync first (or no thinning ran)"
else
    ok "strace is not installed: the sync-before-rename check is skipped"
fi
finish
