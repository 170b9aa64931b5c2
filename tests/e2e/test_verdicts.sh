# End to end: small leaky and non-leaky programs under `leakscope run`,
# judged from the JSON report. The leaking function must be the first
# suspect, by name and file; nothing in the non-leaking program may be
# called LEAK or GROWING.
. "$(dirname "$0")/../lib.sh"

json_get() { # FILE PYTHON-EXPR (d is the report)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/leak.lsr" -- "$LK_PROGS/leak_simple" 5 >/dev/null ||
    fail "leak_simple under leakscope run failed"
"$LEAKSCOPE" report --json "$T/leak.lsr" >"$T/leak.json" || fail "report --json failed on leak.lsr"
fn=$(json_get "$T/leak.json" 'd["sites"][0]["frames"][0]["function"]')
file=$(json_get "$T/leak.json" 'd["sites"][0]["frames"][0]["file"]')
verdict=$(json_get "$T/leak.json" 'd["sites"][0]["verdict"]')
[ "$fn" = leak_request ] && ok "leak_simple: first suspect is leak_request ($file)" ||
    fail "leak_simple: first suspect is '$fn', expected leak_request"
case "$file" in *leak_simple.c) ;; *) fail "leak_simple: first frame's file is '$file'" ;; esac
[ "$verdict" = LEAK ] && ok "leak_simple: verdict LEAK" || fail "leak_simple: verdict '$verdict'"
n=$(json_get "$T/leak.json" 'sum(1 for s in d["sites"] if s["verdict"] in ("LEAK","GROWING"))')
[ "$n" = 1 ] && ok "leak_simple: exactly one growing site" || fail "leak_simple: $n growing sites"

"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/churn.lsr" -- "$LK_PROGS/churn_only" 5 >/dev/null ||
    fail "churn_only under leakscope run failed"
"$LEAKSCOPE" report --json "$T/churn.lsr" >"$T/churn.json" || fail "report --json failed on churn.lsr"
bad=$(json_get "$T/churn.json" '" ".join(s["frames"][0]["function"] if s["frames"] else "?" for s in d["sites"] if s["verdict"] in ("LEAK","GROWING"))')
[ -z "$bad" ] && ok "churn_only: no site called LEAK or GROWING" || fail "churn_only: flagged: $bad"
[ "$(json_get "$T/churn.json" 'd["verdict"]')" != LEAK ] || fail "churn_only: process verdict LEAK"

# The text report names the leak first too (what a person reads).
"$LEAKSCOPE" report "$T/leak.lsr" >"$T/leak.txt" 2>&1
head -1 "$T/leak.txt" | grep -q '^LEAK' || fail "text report does not open with the LEAK verdict"
grep -m1 -A8 '^#1 ' "$T/leak.txt" | grep -q 'leak_request' || fail "text report: #1 is not leak_request"
finish
