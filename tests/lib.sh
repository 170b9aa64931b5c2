# Shared helpers for the shell tests (sourced). The build's paths come from
# the environment that tests/CMakeLists.txt sets: LEAKSCOPE, LK_AGENT,
# LK_PROGS, LK_SRC, LK_BUILD.
set -u
: "${LEAKSCOPE:?run through ctest (make test)}"
T=$(mktemp -d /tmp/lktest.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

ok() {
    echo "ok: $*"
}

# run_same NAME CMD...: runs CMD plainly and under `leakscope run`; stdout and
# exit status must be identical, the recording must exist and `report` must
# read it. Extra stderr from the program is compared too, less our lines.
run_same() {
    local name=$1
    shift
    local rc_plain rc_lk
    (cd "$T/work" && "$@") >"$T/$name.out.plain" 2>"$T/$name.err.plain"
    rc_plain=$?
    (cd "$T/work" && timeout 300 "$LEAKSCOPE" run --quiet --no-report -o "$T/$name.lsr" -- "$@") \
        >"$T/$name.out.lk" 2>"$T/$name.err.lk"
    rc_lk=$?
    if [ "$rc_plain" != "$rc_lk" ]; then
        fail "$name: exit status $rc_lk under leakscope, $rc_plain without"
        sed 's/^/    /' "$T/$name.err.lk" | tail -5 >&2
        return
    fi
    if ! cmp -s "$T/$name.out.plain" "$T/$name.out.lk"; then
        fail "$name: stdout differs under leakscope"
        diff "$T/$name.out.plain" "$T/$name.out.lk" | head -5 >&2
        return
    fi
    grep -v '^leakscope' "$T/$name.err.lk" >"$T/$name.err.lk.host" || true
    if ! cmp -s "$T/$name.err.plain" "$T/$name.err.lk.host"; then
        fail "$name: stderr differs under leakscope"
        diff "$T/$name.err.plain" "$T/$name.err.lk.host" | head -5 >&2
        return
    fi
    if ! "$LEAKSCOPE" report "$T/$name.lsr" >"$T/$name.report" 2>&1; then
        fail "$name: report failed: $(head -3 "$T/$name.report")"
        return
    fi
    ok "$name (exit $rc_plain, recording $(stat -c %s "$T/$name.lsr") bytes)"
}

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    exit 0
}
mkdir -p "$T/work"
