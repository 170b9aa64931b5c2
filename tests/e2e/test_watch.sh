# leakscope watch: no agent, /proc only. A Node.js process whose JS array
# grows and a Python process whose list grows must be GROWING with the
# growth in anonymous (or, for Python's small objects, brk heap) mappings
# and a positive lower bound on the rate; a sleeping process must not be
# GROWING. report, html and diff must read the recordings. Runtimes that
# are missing are reported and skipped.
. "$(dirname "$0")/../lib.sh"

json_get() { # FILE PYTHON-EXPR (d is the document)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

check_growing() { # NAME
    local n=$1 v kind lo
    v=$(json_get "$T/$n.json" 'd["verdict"]')
    kind=$(json_get "$T/$n.json" 'd["grows_most"]')
    lo=$(json_get "$T/$n.json" 'd["rss"]["rate_ci"][0] > 0')
    [ "$v" = GROWING ] && ok "$n: GROWING ($(json_get "$T/$n.json" 'd["summary"]'))" ||
        fail "$n: verdict $v: $(json_get "$T/$n.json" 'd["summary"]')"
    case "$kind" in anonymous | heap) ok "$n: growth in $kind mappings" ;; *) fail "$n: growth in '$kind'" ;; esac
    [ "$lo" = True ] || fail "$n: the rate's 95% interval reaches 0"
}

if command -v node >/dev/null; then
    timeout 60 "$LEAKSCOPE" watch --quiet --json --period 200 --duration 5 -o "$T/node.lsr" --cmd node -e '
        const a = [];
        setInterval(() => { for (let i = 0; i < 4000; i++) a.push({i, s: "x".repeat(40) + i}); }, 50);
        setTimeout(() => process.exit(0), 30000);' >"$T/node.json" || fail "watch --cmd node failed"
    check_growing node
else
    echo "note: node not installed: the Node.js case is not checked"
fi

timeout 60 "$LEAKSCOPE" watch --quiet --json --period 200 --duration 5 -o "$T/py.lsr" --cmd python3 -c '
import time
a = []
end = time.time() + 30
while time.time() < end:
    a.extend("%d-%s" % (i, "y" * 60) for i in range(5000))
    time.sleep(0.05)
' >"$T/py.json" || fail "watch --cmd python3 failed"
check_growing py

# A process that does not grow; watched by PID this time, until it exits.
sleep 4 &
pid=$!
timeout 60 "$LEAKSCOPE" watch --quiet --json --period 100 -o "$T/sleep.lsr" "$pid" >"$T/sleep.json" ||
    fail "watch PID failed"
wait "$pid" 2>/dev/null
v=$(json_get "$T/sleep.json" 'd["verdict"]')
[ "$v" != GROWING ] && ok "sleep: $v" || fail "sleep: GROWING"

# The recordings are ordinary recordings.
"$LEAKSCOPE" report "$T/py.lsr" >"$T/py.report" 2>&1 || fail "report on a watch recording failed"
"$LEAKSCOPE" report --json "$T/py.lsr" >"$T/py.report.json" || fail "report --json on a watch recording failed"
# report gives the watch verdict on a watch recording, the same as watch itself
[ "$(json_get "$T/py.report.json" 'd["watch"], d["verdict"], d["grows_most"]')" = "True GROWING anonymous" ] ||
    fail "report --json on the watch recording: $(head -c 300 "$T/py.report.json")"
"$LEAKSCOPE" html -o "$T/py.html" "$T/py.lsr" 2>/dev/null || fail "html on a watch recording failed"
grep -q '"watch":{"summary":"GROWING' "$T/py.html" && ok "html: watch verdict in the page" ||
    fail "html: no watch verdict in the page"
"$LEAKSCOPE" diff "$T/sleep.lsr" "$T/py.lsr" >"$T/diff.txt" || fail "diff of two watch recordings failed"
grep -q '^RSS: ' "$T/diff.txt" || fail "diff of watch recordings: no RSS line"

# Errors: one sentence, exit 2.
"$LEAKSCOPE" watch 999999999 2>"$T/err" && fail "a bad pid was accepted"
grep -q 'leakscope: watch:' "$T/err" || fail "bad pid message: $(cat "$T/err")"
"$LEAKSCOPE" watch --quiet -o "$T/py.lsr" --cmd true 2>"$T/err" && fail "an existing recording was overwritten"
grep -q 'force' "$T/err" || fail "existing file message: $(cat "$T/err")"
finish
