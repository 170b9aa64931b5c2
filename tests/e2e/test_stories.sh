# End to end: the four leak stories of issue 3 and three controls, as
# programs in tests/progs/ (story_*.c, control_*.c), run under
# `leakscope run` side by side and judged from the JSON report. Each leak
# must be LEAK with the leaking function as the first suspect's first
# frame; the controls must not be called LEAK or GROWING, and the spike
# must be reported as allocator retention. Classes and function names
# only, never timing text.
. "$(dirname "$0")/../lib.sh"

PERIOD=250
# name:seconds. All start together: about 17 s of wall time on two cores.
RUNS="story_keepalive:14 story_noexpiry:14 story_slab:14 story_close_handler:16
control_spike:12 control_lru:14 control_churn:12"

for r in $RUNS; do
    name=${r%%:*}
    secs=${r##*:}
    (timeout 120 "$LEAKSCOPE" run --quiet --no-report --period "$PERIOD" -o "$T/$name.lsr" -- \
        "$LK_PROGS/$name" "$secs" >"$T/$name.out" 2>"$T/$name.err"
     echo $? >"$T/$name.rc") &
done
wait

# check NAME PYTHON-ASSERTIONS: d is the report; each assertion is a
# (condition, message) pair; every failed one is reported.
check() {
    local name=$1 code=$2
    if [ "$(cat "$T/$name.rc" 2>/dev/null)" != 0 ]; then
        fail "$name: leakscope run failed: $(tail -3 "$T/$name.err")"
        return
    fi
    if ! "$LEAKSCOPE" report --json "$T/$name.lsr" >"$T/$name.json" 2>"$T/$name.rerr"; then
        fail "$name: report --json failed: $(head -3 "$T/$name.rerr")"
        return
    fi
    if python3 - "$T/$name.json" "$name" <<PY; then ok "$name"; else fail "$name"; fi
import json, sys
d = json.load(open(sys.argv[1]))
name = sys.argv[2]
sites = d["sites"]
top = sites[0] if sites else {"verdict": None, "frames": []}
def fn(s, i=0):
    return s["frames"][i]["function"] if len(s["frames"]) > i else None
def fns(s):
    return [f["function"] for f in s["frames"]]
flagged = [(s["verdict"], fn(s)) for s in sites if s["verdict"] in ("LEAK", "GROWING")]
checks = $code
bad = [msg for cond, msg in checks if not cond]
for msg in bad:
    print("  %s: %s" % (name, msg), file=sys.stderr)
print("  %s: verdict %s after %s s; #1 %s %s; process %s" % (name, d["verdict"],
      d["verdict_time_s"], top["verdict"], fn(top), d["process"]["verdict"]))
sys.exit(1 if bad else 0)
PY
}

# 1. keep-alive: the request detached from its connection leaks.
check story_keepalive '[
    (d["verdict"] == "LEAK", "run verdict %s, want LEAK" % d["verdict"]),
    (top["verdict"] == "LEAK", "first suspect %s, want LEAK" % top["verdict"]),
    (fn(top) == "request_new", "first suspect allocated in %s, want request_new" % fn(top)),
    (len(flagged) == 1, "flagged sites: %s" % flagged),
]'
# 2. no expiry: organic results are never freed while the purge frees the
# populator's: LEAK (docs/VERDICTS.md, "Story classes"), on the organic path.
check story_noexpiry '[
    (d["verdict"] == "LEAK", "run verdict %s, want LEAK" % d["verdict"]),
    (top["verdict"] == "LEAK", "first suspect %s, want LEAK" % top["verdict"]),
    (fn(top) == "search_run", "first suspect allocated in %s, want search_run" % fn(top)),
    ("handle_search" in fns(top), "first suspect is not on the organic path: %s" % fns(top)),
    (not any(s["verdict"] in ("LEAK", "GROWING") and "populate" in fns(s) for s in sites),
     "entries of the populator, which expire, were flagged"),
]'
# 3. slab: 4 KiB extension blocks kept under a rare condition, amid churn.
check story_slab '[
    (d["verdict"] == "LEAK", "run verdict %s, want LEAK" % d["verdict"]),
    (top["verdict"] == "LEAK", "first suspect %s, want LEAK" % top["verdict"]),
    (fn(top) == "slab_extend", "first suspect allocated in %s, want slab_extend" % fn(top)),
    (len(flagged) == 1, "flagged sites: %s" % flagged),
]'
# 4. close handler overridden without calling the base: native struct leaks.
check story_close_handler '[
    (d["verdict"] == "LEAK", "run verdict %s, want LEAK" % d["verdict"]),
    (top["verdict"] == "LEAK", "first suspect %s, want LEAK" % top["verdict"]),
    (fn(top) == "http_conn_new", "first suspect allocated in %s, want http_conn_new" % fn(top)),
    (len(flagged) == 1, "flagged sites: %s" % flagged),
]'
# 5. spike, all freed but the last block: allocator retention, not a leak.
check control_spike '[
    (d["verdict"] == "STABLE", "run verdict %s, want STABLE" % d["verdict"]),
    (not flagged, "flagged sites: %s" % flagged),
    (d["process"]["verdict"] == "ALLOCATOR_RETENTION",
     "process verdict %s, want ALLOCATOR_RETENTION" % d["process"]["verdict"]),
    (any(s["verdict"] == "TEMPORARY" and fn(s) == "spike_fill" for s in sites),
     "the spike is not TEMPORARY in spike_fill"),
    (any("malloc_trim" in a for a in d["process"]["advice"]), "no malloc_trim advice"),
]'
# 6. LRU that fills in the first third, then stays full: BOUNDED.
check control_lru '[
    (d["verdict"] == "BOUNDED", "run verdict %s, want BOUNDED" % d["verdict"]),
    (not flagged, "flagged sites: %s" % flagged),
    (top["verdict"] == "BOUNDED" and fn(top) == "lru_insert",
     "first suspect %s in %s, want BOUNDED in lru_insert" % (top["verdict"], fn(top))),
]'
# 7. steady churn over a stable live set: STABLE.
check control_churn '[
    (d["verdict"] == "STABLE", "run verdict %s, want STABLE" % d["verdict"]),
    (not flagged, "flagged sites: %s" % flagged),
    (d["process"]["verdict"] != "ALLOCATOR_RETENTION", "churn called allocator retention"),
]'
finish
