#!/usr/bin/env bash
# `leakscope check` as a CI job meets it: exit 1 on a leak with the leaking
# function named, 0 on churn without a leak, 2 when it cannot run or decide;
# --junit writes XML that parses, with <failure> iff a site fails the gate;
# --max-growth above the leak's rate passes; --duration stops a server.
# Asserts exit codes, XML structure and frame names, never timing text.
set -uo pipefail
L=${LEAKSCOPE:?}
P=${LK_PROGS:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# check NAME WANT ARGS...: runs `leakscope check ARGS`, stdout in $T/NAME.out.
check() {
    local name=$1 want=$2
    shift 2
    local rc=0
    timeout 120 "$L" check -q "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want"
        tail -n 5 "$T/$name.out" "$T/$name.err" | sed 's/^/    /' >&2
        return 1
    fi
    echo "ok: $name (exit $rc)"
}

# junit FILE FAILURES: FILE parses as JUnit with exactly FAILURES <failure>
# elements (and, with some, leak_request in their text).
junit() {
    python3 - "$1" "$2" <<'PY' || fail "junit $1 does not hold the expected JUnit XML"
import sys, xml.etree.ElementTree as ET
path, want = sys.argv[1], int(sys.argv[2])
root = ET.parse(path).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
assert root.tag in ("testsuites", "testsuite"), root.tag
assert len(suites) == 1, f"{len(suites)} testsuites"
cases = suites[0].findall("testcase")
assert cases, "no testcase"
failures = [f for c in cases for f in c.findall("failure")]
assert len(failures) == want, f"{len(failures)} failure elements, expected {want}"
assert int(suites[0].get("failures")) == want, suites[0].get("failures")
for f in failures:
    text = (f.get("message") or "") + (f.text or "")
    assert "leak_request" in text and "LEAK" in text, text
PY
}

# Leaky runs last 5 s at the default 250 ms period: about 20 snapshots, so the
# verdict does not hinge on the few snapshots a loaded CI machine can drop.
cd "$T"
export TMPDIR=$T/tmp
mkdir "$TMPDIR"
if check leak 1 --junit "$T/leak.xml" -- "$P/leak_simple" 5; then
    grep -q 'leakscope check: FAIL' "$T/leak.out" || fail "leak: no FAIL line"
    grep -A1 'FAIL' "$T/leak.out" | grep -q 'leak_request' || fail "leak: leak_request not named"
    grep -q '^ *leak_request .*leak_simple.c' "$T/leak.out" || fail "leak: no stack in the report"
    junit "$T/leak.xml" 1
fi

if check churn 0 --junit "$T/churn.xml" -- "$P/churn_only" 4; then
    grep -q 'leakscope check: PASS' "$T/churn.out" || fail "churn: no PASS line"
    junit "$T/churn.xml" 0
fi

# The leak grows about 0.5 MiB/s; a threshold above it passes, below it fails.
check above 0 --max-growth 20MiB/s --junit "$T/above.xml" -- "$P/leak_simple" 3 && junit "$T/above.xml" 0
check below 1 --max-growth 1KB/s -- "$P/leak_simple" 5
check badrate 2 --max-growth fast -- true

# Cannot run: a missing command, no command; cannot decide: too short a run.
check missing 2 --junit "$T/missing.xml" -- nosuchcmd-lk-check && {
    grep -q 'command not found' "$T/missing.err" || fail "missing: $(cat "$T/missing.err")"
    python3 -c 'import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); assert r.find(".//error") is not None' \
        "$T/missing.xml" || fail "missing: JUnit lacks an <error>"
}
check nocmd 2
check short 2 --period 1000 -- true
grep -q 'UNDECIDED' "$T/short.out" || fail "short: no UNDECIDED line: $(cat "$T/short.out")"
check failed 2 -- sh -c 'exit 3'

# --duration stops a program that would run for 100 s, and judges it.
start=$(date +%s)
check duration 1 --duration 6 -- "$P/leak_simple" 100
elapsed=$(($(date +%s) - start))
[ "$elapsed" -lt 30 ] || fail "duration: check took ${elapsed}s for --duration 6"

# -o keeps the recording; `report` reads it.
check keep 1 -o "$T/kept.lsr" -- "$P/leak_simple" 5
[ -s "$T/kept.lsr" ] && "$L" report "$T/kept.lsr" >/dev/null 2>&1 || fail "keep: no readable recording"
# Without -o the recording lived in $TMPDIR and is gone.
[ -z "$(ls -A "$TMPDIR")" ] || fail "left behind in TMPDIR: $(ls "$TMPDIR")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all check tests passed"
