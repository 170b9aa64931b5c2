# Reachability scans (docs/SCAN.md): exact per-site states for known leaks
# (a dropped struct, a dropped list = 1 unreachable + 4 indirect, a lost
# cycle, TLS buffers of exited threads), reachable growth, a block held only
# by a thread blocked in read() (reachable: the stop-the-world's registers
# and stack), the exit scan in place with one thread and stopped with two,
# every trigger (leakscope_scan_now, exit, the request file,
# the signal, SCAN_EVERY), content samples off by default and redacted when
# on, the host unchanged (output, status, no SIGCHLD, no visible child), and
# a process under strace -f (ptrace refused) scanning without registers.
. "$(dirname "$0")/../lib.sh"

# under NAME ENV... -- CMD...: runs CMD plainly and with the agent preloaded
# (recording $T/NAME.lsr); stdout, stderr and the status must be the same.
under() {
    local name=$1
    shift
    local envs=()
    while [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    (cd "$T/work" && "$@") >"$T/$name.out.plain" 2>"$T/$name.err.plain"
    local rc_plain=$?
    # env execs the program in the same process (the agent in env itself
    # hands the recording over quietly); WRAP (strace) runs around it.
    (cd "$T/work" && timeout 120 ${WRAP:-} env "${envs[@]}" LEAKSCOPE_QUIET=2 \
        LEAKSCOPE_OUT="$T/$name.lsr" LD_PRELOAD="$LK_AGENT" "$@") >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    if [ "$rc" != "$rc_plain" ]; then
        fail "$name: exit status $rc with the agent, $rc_plain without"
        head -5 "$T/$name.err" >&2
        return 1
    fi
    if ! cmp -s "$T/$name.out.plain" "$T/$name.out" || ! cmp -s "$T/$name.err.plain" "$T/$name.err"; then
        fail "$name: output differs with the agent"
        diff "$T/$name.out.plain" "$T/$name.out" | head -5 >&2
        diff "$T/$name.err.plain" "$T/$name.err" | head -5 >&2
        return 1
    fi
    "$LEAKSCOPE" dump "$T/$name.lsr" >"$T/$name.dump" 2>&1 || fail "$name: dump failed"
    "$LEAKSCOPE" report --json --all "$T/$name.lsr" >"$T/$name.json" 2>/dev/null ||
        fail "$name: report failed"
    return 0
}

# check NAME 'python expression over scans'... : scans is a list, in file
# order, of {"trigger", "flags", "sites": {function: [uc, ub, ic, ib, rc, rb]},
# "samples": [(function, state, text)], "ret": {function: [(kind, id, n)]}},
# functions being each site's innermost frame in the program.
check() {
    local name=$1
    shift
    python3 - "$T/$name.dump" "$T/$name.json" "$name" "$@" <<'PY' || failures=$((failures + 1))
import json, re, sys
dump, js, name, exprs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
fn = {}
for s in json.load(open(js))["sites"]:
    f = s["frames"][0]["function"] if s["frames"] else "?"
    fn[s["site"]] = f
scans, cur, sample = [], None, None
for line in open(dump):
    m = re.match(r"#\d+ @\S+ SCAN .*trigger=(\w+) flags=(0x[0-9a-f]+)", line)
    if m:
        cur = {"trigger": m.group(1), "flags": int(m.group(2), 16), "sites": {}, "samples": [],
               "ret": {}, "line": line.strip()}
        scans.append(cur)
        continue
    if line.startswith("#"):
        cur = None
        continue
    if cur is None:
        continue
    m = re.match(r"\s+site (\d+): unreachable (\d+)/(\d+) B, indirect (\d+)/(\d+) B, "
                 r"reachable (\d+)/(\d+) B(?:; held by (.*))?", line)
    if m:
        f = fn.get(int(m.group(1)), "?")
        v = cur["sites"].setdefault(f, [0] * 6)
        for k in range(6):
            v[k] += int(m.group(k + 2))
        for r in (m.group(8) or "").split(", "):
            if r:
                kind, rid, n = r.split()
                cur["ret"].setdefault(f, []).append((kind, int(rid), int(n[1:])))
        continue
    m = re.match(r"\s+sample site (\d+) (\w+)", line)
    if m:
        sample = [fn.get(int(m.group(1)), "?"), m.group(2), ""]
        cur["samples"].append(sample)
        continue
    m = re.match(r"\s+[0-9a-f]{4} .*\|(.*)\|$", line)
    if m and sample:
        sample[2] += m.group(1)
bad = 0
for e in exprs:
    try:
        ok = eval(e)
    except Exception as ex:
        ok = False
        e += " (%r)" % ex
    if not ok:
        print("FAIL: %s: %s" % (name, e))
        for s in scans:
            print("   ", s["line"])
            for f, v in sorted(s["sites"].items()):
                print("      ", f, v, s["ret"].get(f, ""))
        bad = 1
    else:
        print("ok: %s: %s" % (name, e))
sys.exit(bad)
PY
}

# Known leaks, with a scan from leakscope_scan_now() while a thread holds a
# block only in a local and sits in read(), and one at exit.
if under leaks -- "$LK_PROGS/scan_leaks" now; then
    check leaks \
        'len(scans) == 2 and [s["trigger"] for s in scans] == ["request", "exit"]' \
        'all(s["flags"] & 3 == 3 for s in scans)' \
        'scans[0]["flags"] & 16 == 0 and scans[1]["flags"] & 16 == 16' \
        'all(s["sites"]["parse_config"] == [1, 48, 0, 0, 0, 0] for s in scans)' \
        'all(s["sites"]["list_node"] == [1, 64, 4, 256, 0, 0] for s in scans)' \
        'all(sum(v[0] for f, v in s["sites"].items() if f == "cycle_node") == 1 and sum(v[2] for f, v in s["sites"].items() if f == "cycle_node") == 2 for s in scans)' \
        'all(s["sites"]["kept_node"] == [0, 0, 0, 0, 7, 448] for s in scans)' \
        '("module", 1, 1) in scans[0]["ret"]["kept_node"] and ("site", ) != ()' \
        'all(s["sites"]["tls_alloc"] == [4, 384, 0, 0, 0, 0] for s in scans)' \
        'scans[0]["sites"]["reg_alloc"] == [0, 0, 0, 0, 1, 200] and scans[0]["ret"]["reg_alloc"][0][0] == "stack"' \
        'all(not s["samples"] for s in scans)'
fi

# Nothing tracked at exit: the exit scan is recorded (no blocks, nothing
# lost) without stopping the threads or copying the process, and the report
# says the latest scan was at exit.
if under free_all -- "$LK_PROGS/free_all"; then
    check free_all \
        '[s["trigger"] for s in scans] == ["exit"] and not scans[0]["sites"]' \
        '" blocks=0" in scans[0]["line"] and " scan_ns=0 " in scans[0]["line"]' \
        'int(re.search(r"pause_ns=(\d+)", scans[0]["line"]).group(1)) < 50000000'
    "$LEAKSCOPE" report "$T/free_all.lsr" 2>/dev/null | grep -q 'the latest scan was at exit' ||
        fail "free_all: the report does not say the latest scan was at exit"
fi

# An exit while another thread runs (blocked in read()): stopped and copied,
# not in place; its block is reachable through that thread's stack.
if under live -- "$LK_PROGS/scan_leaks" live; then
    check live '[s["trigger"] for s in scans] == ["exit"] and scans[0]["flags"] & 0x13 == 3' \
        'scans[0]["sites"]["reg_alloc"] == [0, 0, 0, 0, 1, 200] and scans[0]["ret"]["reg_alloc"][0][0] == "stack"' \
        'scans[0]["sites"]["list_node"] == [1, 64, 4, 256, 0, 0]' \
        'scans[0]["sites"]["tls_alloc"] == [4, 384, 0, 0, 0, 0]'
fi

# Start-only pointers: the same, with LEAKSCOPE_SCAN_INTERIOR=0.
if under leaks_start LEAKSCOPE_SCAN_INTERIOR=0 -- "$LK_PROGS/scan_leaks"; then
    check leaks_start 'len(scans) == 1 and scans[0]["flags"] & 2 == 0' \
        'scans[0]["sites"]["list_node"] == [1, 64, 4, 256, 0, 0]'
fi

# Reachable growth, the scan_now trigger, content samples with redaction,
# and the host's view: no SIGCHLD, wait() finds no child.
if under grow LEAKSCOPE_SCAN_CONTENT=128 -- "$LK_PROGS/scan_grow" 600 now; then
    check grow '[s["trigger"] for s in scans] == ["request", "exit"]' \
        'all(s["sites"]["cache_add"][0] == 0 and s["sites"]["cache_add"][4] >= 10 for s in scans)' \
        'all(s["sites"]["secret_block"][:2] == [1, 160] for s in scans)' \
        'any(f == "secret_block" and t.startswith("user=bob password=*******") for s in scans for f, st, t in s["samples"])' \
        'all("hunter2" not in t and "9fQ2xL7vK0pZ" not in t for s in scans for f, st, t in s["samples"])' \
        'any(f == "secret_block" and "key ****************************************" in t for s in scans for f, st, t in s["samples"])' \
        'all(len(t) <= 128 for s in scans for f, st, t in s["samples"])'
fi

# Every N periods, and no content by default.
if under every LEAKSCOPE_PERIOD_MS=50 LEAKSCOPE_SCAN_EVERY=4 -- "$LK_PROGS/scan_grow" 800; then
    check every 'sum(s["trigger"] == "period" for s in scans) >= 2' \
        'scans[-1]["trigger"] == "exit"' 'all(not s["samples"] for s in scans)'
    grep -q 'password' "$T/every.lsr" && fail "every: content in a recording without LEAKSCOPE_SCAN_CONTENT"
fi

# Off at exit.
if under noexit LEAKSCOPE_SCAN_AT_EXIT=0 -- "$LK_PROGS/scan_leaks"; then
    check noexit 'len(scans) == 0'
fi

# The request file (what `leakscope scan PID` creates) and the signal.
(cd "$T/work" && LEAKSCOPE_QUIET=2 LEAKSCOPE_OUT="$T/req.lsr" LEAKSCOPE_PERIOD_MS=50 \
    LEAKSCOPE_SCAN_SIGNAL=USR2 LD_PRELOAD="$LK_AGENT" "$LK_PROGS/scan_grow" 3000) \
    >"$T/req.out" 2>"$T/req.err" &
pid=$!
for i in $(seq 100); do [ -s "$T/req.lsr" ] && break; sleep 0.05; done
sleep 0.3
: >"$T/req.lsr.scan"
for i in $(seq 100); do [ -e "$T/req.lsr.scan" ] || break; sleep 0.05; done
[ -e "$T/req.lsr.scan" ] && fail "request: the request file was not taken"
# The same through the CLI, end to end: it finds the recording among the
# process's files, asks, waits for the SCAN record and exits 1 (lost blocks).
"$LEAKSCOPE" scan --json --timeout 20 $pid >"$T/cli.json" 2>"$T/cli.err"
src=$?
[ "$src" = 1 ] || fail "leakscope scan PID: exit $src, want 1 ($(head -3 "$T/cli.err"))"
grep -q '"secret_block"' "$T/cli.json" && ok "leakscope scan PID names secret_block as lost" ||
    fail "leakscope scan PID: secret_block not in its JSON"
sleep 0.3
kill -USR2 $pid
sleep 0.5
wait $pid
rc=$?
[ "$rc" = 0 ] || fail "request: exit status $rc ($(cat "$T/req.out" "$T/req.err"))"
"$LEAKSCOPE" dump "$T/req.lsr" >"$T/req.dump" 2>&1
"$LEAKSCOPE" report --json --all "$T/req.lsr" >"$T/req.json" 2>/dev/null
check req '[s["trigger"] for s in scans] == ["request", "request", "signal", "exit"]' \
    'all(s["sites"]["secret_block"][:2] == [1, 160] for s in scans)'

# Under strace -f ptrace is refused: the program runs as usual and the scan
# while its threads run is made without registers, with a NOTE saying so;
# the one at exit, in place, needs no ptrace and has them.
if command -v strace >/dev/null; then
    if WRAP="strace -f -o /dev/null" under strace -- "$LK_PROGS/scan_leaks" now; then
        check strace '[s["trigger"] for s in scans] == ["request", "exit"]' \
            'scans[0]["flags"] & 0x11 == 0 and scans[1]["flags"] & 0x11 == 0x11' \
            'all(s["sites"]["list_node"] == [1, 64, 4, 256, 0, 0] for s in scans)' \
            'all(s["sites"]["parse_config"] == [1, 48, 0, 0, 0, 0] for s in scans)'
        grep -q 'NOTE.*without registers' "$T/strace.dump" || fail "strace: no NOTE about registers"
    fi
else
    echo "skip: strace not installed"
fi

# Sampled mode: no scan, a NOTE instead (when asked for explicitly).
if under sampled LEAKSCOPE_SAMPLE=64K LEAKSCOPE_SCAN_AT_EXIT=1 -- "$LK_PROGS/scan_leaks"; then
    check sampled 'len(scans) == 0'
    grep -q 'NOTE.*full tracking' "$T/sampled.dump" || fail "sampled: no NOTE"
fi
finish
