#!/usr/bin/env bash
# `leakscope run` as a user meets it: refusals with one sentence and exit 2,
# the child's exit status and signals passed through, its stdout untouched,
# its environment, the recording's mode, and signals sent to run forwarded.
# Runs with --no-report so that it tests run alone, not the report.
set -uo pipefail
L=${LEAKSCOPE:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# expect NAME STATUS PATTERN -- ARGS...: run's exit status and a stderr line.
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    local rc=0
    timeout 60 "$L" run "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want; stderr: $(cat "$T/err")"
    elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$T/err"; then
        fail "$name: stderr lacks '$pattern': $(cat "$T/err")"
    fi
}

cd "$T"
expect missing 2 'leakscope: nosuchcmd-lk: command not found' -- -- nosuchcmd-lk
expect nodir 2 'leakscope: /nonexistent/x.lsr: cannot create the recording: no such file or directory' \
    -- -o /nonexistent/x.lsr -- true
touch "$T/exists.lsr"
expect exists 2 'already exists' -- -o "$T/exists.lsr" -- true
expect force 0 'recording kept in' -- -q --no-report -o "$T/exists.lsr" --force -- true
printf "data\n" >"$T/plain"
chmod 644 "$T/plain"
expect notexec 2 "not an executable" -- -o "$T/a.lsr" -- "$T/plain"
expect badopt 2 'unknown option' -- --frobnicate -- true
expect nocmd 2 'no command given' -- -o "$T/a.lsr"

if printf 'int main(void){return 0;}\n' >"$T/s.c" && cc -static "$T/s.c" -o "$T/static" 2>/dev/null; then
    expect static 2 'is statically linked: the agent cannot be preloaded into it' -- -o "$T/b.lsr" -- "$T/static"
fi
cp "$(type -P true)" "$T/suid_true" && chmod u+s "$T/suid_true"
expect setuid 2 'set-uid' -- -o "$T/c.lsr" -- "$T/suid_true"

# Exit status and signals of the child become ours.
expect status 7 '' -- -q --no-report -o "$T/d.lsr" -- sh -c 'exit 7'
expect signal 143 'killed by signal 15' -- -q --no-report -o "$T/e.lsr" -- sh -c 'kill -TERM $$'

# stdout is the child's alone; the recording is 0600 and starts with the magic.
timeout 60 "$L" run --no-report -o "$T/f.lsr" -- printf 'hello\n' >"$T/out" 2>"$T/err" || fail "printf: exit $?"
[ "$(cat "$T/out")" = hello ] || fail "stdout changed: $(od -c "$T/out" | head -3)"
if [ -f "$T/f.lsr" ]; then
    [ "$(stat -c %a "$T/f.lsr")" = 600 ] || fail "recording mode $(stat -c %a "$T/f.lsr"), expected 600"
    [ "$(head -c 7 "$T/f.lsr")" = LKSCOPE ] || fail "recording lacks the LKSCOPE magic"
else
    fail "no recording at $T/f.lsr: $(cat "$T/err")"
fi

# The default name is leakscope.<cmd>.<pid>.lsr in the current directory.
timeout 60 "$L" run -q --no-report -- true 2>"$T/err" || fail "default name: exit $?"
ls "$T"/leakscope.true.*.lsr >/dev/null 2>&1 || fail "no leakscope.true.<pid>.lsr in the cwd: $(cat "$T/err")"

# The agent's environment, prepended to an existing LD_PRELOAD.
LD_PRELOAD=libm.so.6 timeout 60 "$L" run -q --no-report --period 250 --depth 8 -o "$T/g.lsr" -- \
    sh -c 'echo "$LD_PRELOAD|$LEAKSCOPE_OUT|$LEAKSCOPE_PERIOD_MS|$LEAKSCOPE_DEPTH|$LEAKSCOPE_QUIET"' \
    >"$T/out" 2>"$T/err"
case $(cat "$T/out") in
*libleakscope.so:libm.so.6\|"$T"/g.lsr\|250\|8\|1) ;;
*) fail "child environment: $(cat "$T/out")" ;;
esac

# A SIGTERM sent to run reaches the child once; run exits as the child did.
cat >"$T/trap.sh" <<'SH'
#!/bin/sh
trap 'echo TERM; exit 9' TERM
i=0
while [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo timeout
SH
chmod +x "$T/trap.sh"
"$L" run -q --no-report -o "$T/h.lsr" -- "$T/trap.sh" >"$T/out" 2>"$T/err" &
pid=$!
sleep 1
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 9 ] || fail "forwarded SIGTERM: exit $rc, expected 9"
[ "$(cat "$T/out")" = TERM ] || fail "forwarded SIGTERM: child printed $(cat "$T/out")"

# A recording of a shell says that the programs it started were not tracked.
"$L" run -q --no-report -o "$T/sh.lsr" -- sh -c 'true; true' >/dev/null 2>"$T/err" ||
    fail "run -- sh -c failed"
grep -q "records the shell .*were not tracked" "$T/err" || fail "no hint that a shell was recorded"

if [ $fails -ne 0 ]; then
    echo "test_run: $fails failure(s)" >&2
    exit 1
fi
echo "test_run: ok"
