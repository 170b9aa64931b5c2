# Sampled mode (LEAKSCOPE_SAMPLE): estimated live bytes per site converge to
# the truth on a workload whose live memory is known exactly (unbiased
# weighting, docs/SAMPLING.md), and the verdict still names a leak first.
. "$(dirname "$0")/../lib.sh"

LEAKSCOPE_SAMPLE=8K "$LEAKSCOPE" run --quiet --no-report --period 100 -o "$T/s.lsr" -- \
    "$LK_PROGS/sample_truth" >"$T/truth.txt" || fail "sample_truth under leakscope run failed"
"$LEAKSCOPE" report --json --all "$T/s.lsr" >"$T/s.json" || fail "report --json failed"
python3 - "$T/s.json" "$T/truth.txt" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1]))
words = open(sys.argv[2]).read().split()
truth = {words[i]: int(words[i + 1]) for i in (1, 3, 5)}
if d["recording"]["sample_bytes"] != 8192:
    print("FAIL: recording does not say it is sampled at 8 KiB"); sys.exit(1)
est = {}
for s in d["sites"]:
    if s["frames"]:
        # the keep_* frame is frames[1] (frames[0] is keep()); churn allocates itself
        for f in s["frames"][:2]:
            est[f["function"]] = est.get(f["function"], 0) + s["live_bytes_end"]
errors = []
for fn, want in truth.items():
    got = est.get(fn, 0)
    err = abs(got - want) / want
    print("%-10s truth %9d estimate %9d error %5.1f%%" % (fn, want, got, 100 * err))
    # ~600-2000 samples per site at 8 KiB: 15% is more than 3.5 standard deviations
    if err > 0.15: errors.append(fn)
if est.get("churn", 0) > 0.05 * truth["keep_small"]:
    errors.append("churn estimated %d live bytes" % est["churn"])
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
PY

LEAKSCOPE_SAMPLE=4K "$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/l.lsr" -- \
    "$LK_PROGS/leak_simple" 5 >/dev/null || fail "leak_simple sampled failed"
fn=$("$LEAKSCOPE" report --json "$T/l.lsr" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["sites"][0]["frames"][0]["function"], d["sites"][0]["verdict"])')
[ "$fn" = "leak_request LEAK" ] && ok "sampled: leak_request is the first suspect, LEAK" ||
    fail "sampled: first suspect is '$fn'"
finish
