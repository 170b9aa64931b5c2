# leakscope diff: a leaky build (leak_simple) and the fixed build of the same
# source (leak_fixed, whose debug info carries the same file name) are
# aligned by symbolized stack; the summary must name leak_request() as the
# LEAK that is gone, and, the other way round, as a site that now grows.
. "$(dirname "$0")/../lib.sh"

json_get() { # FILE PYTHON-EXPR (d is the document)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/leak.lsr" -- "$LK_PROGS/leak_simple" 5 >/dev/null ||
    fail "leak_simple under leakscope run failed"
"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/fixed.lsr" -- "$LK_PROGS/leak_fixed" 5 >/dev/null ||
    fail "leak_fixed under leakscope run failed"

"$LEAKSCOPE" diff "$T/leak.lsr" "$T/fixed.lsr" >"$T/diff.txt" || fail "diff failed"
grep -q '^the LEAK at leak_request() is gone' "$T/diff.txt" && ok "text: $(grep -m1 'is gone' "$T/diff.txt")" ||
    fail "text: no 'the LEAK at leak_request() is gone': $(head -5 "$T/diff.txt")"

"$LEAKSCOPE" diff --json "$T/leak.lsr" "$T/fixed.lsr" >"$T/diff.json" || fail "diff --json failed"
[ "$(json_get "$T/diff.json" '[s["change"] for s in d["sites"] if s["function"] == "leak_request"][0]')" = gone ] &&
    ok "json: leak_request change 'gone'" || fail "json: leak_request is not 'gone'"
# Aligned, not listed twice: leak_request is one row with both sides.
[ "$(json_get "$T/diff.json" 'sum(1 for s in d["sites"] if s["function"] == "leak_request" and s["a"] and s["b"])')" = 1 ] &&
    ok "json: leak_request aligned across the two builds" || fail "json: leak_request not aligned"
[ "$(json_get "$T/diff.json" 'd["b"]["verdict"]')" != LEAK ] || fail "json: the fixed build is LEAK"

"$LEAKSCOPE" diff --json "$T/fixed.lsr" "$T/leak.lsr" >"$T/rev.json" || fail "reverse diff failed"
json_get "$T/rev.json" 'd["summary"][0]' | grep -q '^leak_request() now grows' &&
    ok "reverse: $(json_get "$T/rev.json" 'd["summary"][0]')" || fail "reverse: $(json_get "$T/rev.json" 'd["summary"]')"

"$LEAKSCOPE" diff --html -o "$T/diff.html" "$T/leak.lsr" "$T/fixed.lsr" || fail "diff --html failed"
grep -q 'the LEAK at leak_request() is gone' "$T/diff.html" && ok "html: summary in the page" ||
    fail "html: summary missing"

"$LEAKSCOPE" diff "$T/leak.lsr" 2>"$T/err" && fail "diff with one recording succeeded"
grep -q 'two recordings' "$T/err" || fail "one-recording message: $(cat "$T/err")"
finish
