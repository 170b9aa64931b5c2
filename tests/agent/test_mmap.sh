# Growth outside malloc: anonymous mappings the program makes are a second
# allocator with sites of their own. The leaking mapper (map_anon called by
# grab_region) is the first suspect,
# of kind mmap; mappings unmapped whole, in part, or after mremap are not.
. "$(dirname "$0")/../lib.sh"

"$LEAKSCOPE" run --quiet --no-report --period 200 -o "$T/m.lsr" -- "$LK_PROGS/mmap_leak" 3 >/dev/null ||
    fail "mmap_leak under leakscope run failed"
"$LEAKSCOPE" report --json "$T/m.lsr" >"$T/m.json" || fail "report --json failed"
python3 - "$T/m.json" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1]))
top = d["sites"][0]
fns = [f["function"] for f in top["frames"][:2]]
growing = [s for s in d["sites"] if s["verdict"] in ("LEAK", "GROWING")]
errors = []
if fns != ["map_anon", "grab_region"]: errors.append("first suspect's frames are %r, expected map_anon, grab_region" % fns)
if top.get("kind") != "mmap": errors.append("first suspect's kind is %r" % top.get("kind"))
if top["verdict"] != "LEAK": errors.append("verdict %s" % top["verdict"])
if len(growing) != 1: errors.append("%d growing sites, expected 1" % len(growing))
# 64 KiB per round, 10 rounds per second
if not 400e3 < top["rate_bytes_per_s"] < 900e3: errors.append("rate %.0f B/s" % top["rate_bytes_per_s"])
for e in errors: print("FAIL:", e)
if not errors: print("ok: map_anon <- grab_region is the only growing site, kind mmap, %.0f KiB/s" % (top["rate_bytes_per_s"] / 1024))
sys.exit(1 if errors else 0)
PY
"$LEAKSCOPE" dump "$T/m.lsr" | grep -q 'STACK .* kind=1' || fail "no STACK record of kind mmap"
finish
