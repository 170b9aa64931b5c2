#!/bin/bash
# `leakscope scan PID`: its refusals (no such process, a process without the
# agent, a recording that is not one, bad arguments), a real agent that does
# not answer (until the agent's scans land: the request is withdrawn after
# --timeout), and the whole request -> SCAN record -> report path against a
# stand-in agent: a small program built here with the recording writer that
# keeps a recording open, takes RECORDING.scan when it appears and appends
# a SCAN record, as the agent's contract says (docs/FORMAT.md 6.8).
. "$(dirname "$0")/../lib.sh"

expect_fail() { # NAME PATTERN CMD...: exit status 2 and PATTERN on stderr
    local name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc != 2 ]; then
        fail "$name: exit status $rc, want 2 ($(head -2 "$T/err"))"
    elif ! grep -q "$pat" "$T/err"; then
        fail "$name: stderr lacks '$pat': $(cat "$T/err")"
    else
        ok "$name: $(head -1 "$T/err")"
    fi
}

expect_fail "no pid" "no process given" "$LEAKSCOPE" scan
expect_fail "not a pid" "is not a process id" "$LEAKSCOPE" scan abc
expect_fail "bad timeout" "expected seconds" "$LEAKSCOPE" scan --timeout 0 1

# The scan options of run and check are checked before anything runs.
expect_fail "run --content=0" "expected a number of bytes from 1 to 256" \
    "$LEAKSCOPE" run --content=0 -- true
expect_fail "check --content=300" "expected a number of bytes from 1 to 256" \
    "$LEAKSCOPE" check --content=300 -- true
expect_fail "run --scan-every x" "expected a number of periods" \
    "$LEAKSCOPE" run --scan-every x -- true

# ... and reach the agent as its environment (LEAKSCOPE_SCAN_*).
(cd "$T/work" && "$LEAKSCOPE" run --quiet --no-report --scan-every 2 --content --no-exit-scan \
    -o "$T/env.lsr" -- env) >"$T/env.out" 2>/dev/null
if grep -qx LEAKSCOPE_SCAN_EVERY=2 "$T/env.out" && grep -qx LEAKSCOPE_SCAN_CONTENT=64 "$T/env.out" &&
    grep -qx LEAKSCOPE_SCAN_AT_EXIT=0 "$T/env.out"; then
    ok "run's scan options set LEAKSCOPE_SCAN_EVERY, _CONTENT and _AT_EXIT"
else
    fail "run's scan options: $(grep LEAKSCOPE_SCAN "$T/env.out" | tr '\n' ' ')"
fi

# A pid that is gone: a child we reaped.
true &
gone=$!
wait $gone
expect_fail "no such process" "no process with pid $gone" "$LEAKSCOPE" scan "$gone"

# A process without the agent, holding a regular file open for writing.
sleep 60 >"$T/plain.txt" &
plain=$!
expect_fail "without the agent" "runs without the leakscope agent" "$LEAKSCOPE" scan "$plain"
expect_fail "-f not a recording" "not a leakscope recording" \
    "$LEAKSCOPE" scan -f "$T/plain.txt" "$plain"
kill $plain 2>/dev/null
wait $plain 2>/dev/null

# Someone else's process (only meaningful when we are not root).
if [ "$(id -u)" != 0 ] && [ -d /proc/1/fd ]; then
    expect_fail "not ours" "is not yours" "$LEAKSCOPE" scan 1
fi

# A real agent: either it scans (exit 0 or 1 with a result) or, before the
# agent side of scans exists, the request times out, is withdrawn, and the
# program is unharmed.
LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/real.lsr" LEAKSCOPE_PERIOD_MS=100 LEAKSCOPE_QUIET=1 \
    "$LK_PROGS/steady" 8 >/dev/null &
real=$!
for _ in $(seq 50); do [ -s "$T/real.lsr" ] && break; sleep 0.1; done
"$LEAKSCOPE" scan --timeout 2 "$real" >"$T/real.out" 2>"$T/real.err"
rc=$?
case $rc in
0 | 1) grep -q "scan [0-9]* of pid $real" "$T/real.out" && ok "real agent scanned (exit $rc)" ||
    fail "real agent: exit $rc without a result: $(cat "$T/real.out")" ;;
2) if grep -q "did not take the request" "$T/real.err" && [ ! -e "$T/real.lsr.scan" ]; then
    ok "real agent without scans: $(tail -1 "$T/real.err")"
else
    fail "real agent: $(cat "$T/real.err"); request left: $(ls "$T"/real.lsr.scan 2>&1)"
fi ;;
*) fail "real agent: exit status $rc" ;;
esac
wait $real || fail "the program under the agent failed after the scan request"

# The stand-in agent.
cat >"$T/fake.c" <<'C'
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "record/writer.h"
static int grow(struct lk_writer *w, size_t need) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p) return -1;
    w->buf = p; w->cap = cap; return 0;
}
static void flush(struct lk_writer *w, int fd) {
    if (write(fd, w->buf, w->len) != (ssize_t)w->len) exit(3);
    lk_writer_reset(w);
}
int main(int argc, char **argv) {
    const char *path = argv[1];
    int lost = atoi(argv[2]);
    char req[4096];
    snprintf(req, sizeof req, "%s.scan", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600);
    if (fd < 0) return 2;
    struct lk_writer w;
    lk_writer_init(&w, NULL, 0, grow, NULL);
    lk_writer_file_header(&w);
    struct lk_info in;
    memset(&in, 0, sizeof in);
    in.pid = (uint64_t)getpid();
    in.period_ms = 100;
    lk_write_info(&w, &in);
    struct lk_frame fr = {0, 0x1234};
    lk_write_stack(&w, 1, LK_KIND_HEAP, &fr, 1);
    flush(&w, fd);
    uint64_t seq = 0;
    for (uint64_t i = 0; i < 300; i++) {
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        uint64_t f[LK_SITE_NFIELDS] = {6400, 100, 100, 0, 6400};
        lk_write_snapshot_begin(&w, i, i * 100000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
        lk_write_snapshot_site(&w, 1, f, NULL, NULL, NULL, 0, NULL, 0);
        lk_write_snapshot_end(&w);
        struct stat st;
        if (lstat(req, &st) == 0 && unlink(req) == 0) {
            struct lk_scan h;
            memset(&h, 0, sizeof h);
            h.seq = seq++;
            h.time_ns = i * 100000000ull + 1000;
            h.period = i;
            h.trigger = LK_SCAN_BY_REQUEST;
            h.flags = LK_SCAN_REGISTERS;
            h.pause_ns = 800000;
            h.threads = 1;
            h.blocks = 100;
            lk_write_scan_begin(&w, &h);
            struct lk_scan_site e;
            memset(&e, 0, sizeof e);
            e.site = 1;
            e.count[LK_BLOCK_UNREACHABLE] = (uint64_t)lost;
            e.bytes[LK_BLOCK_UNREACHABLE] = 64 * (uint64_t)lost;
            e.count[LK_BLOCK_REACHABLE] = 100 - (uint64_t)lost;
            e.bytes[LK_BLOCK_REACHABLE] = 64 * (100 - (uint64_t)lost);
            lk_write_scan_site(&w, &e);
            lk_write_scan_sites_end(&w);
            /* written in two pieces: the CLI must wait for the whole record */
            size_t half = w.len / 2;
            lk_write_scan_end(&w);
            if (write(fd, w.buf, half) != (ssize_t)half) return 3;
            usleep(150000);
            if (write(fd, w.buf + half, w.len - half) != (ssize_t)(w.len - half)) return 3;
            lk_writer_reset(&w);
        }
        flush(&w, fd);
        usleep(100000);
    }
    return 0;
}
C
if ! gcc -std=gnu17 -O1 -I"$LK_SRC/src" -o "$T/fake" "$T/fake.c" "$LK_BUILD/liblk_base.a" -lz \
    2>"$T/fake.cc"; then
    fail "cannot build the stand-in agent: $(head -3 "$T/fake.cc")"
    finish
fi
for lost in 3 0; do
    rm -f "$T/fake$lost.lsr"
    "$T/fake" "$T/fake$lost.lsr" $lost &
    fake=$!
    for _ in $(seq 50); do [ -s "$T/fake$lost.lsr" ] && break; sleep 0.1; done
    "$LEAKSCOPE" scan --timeout 10 "$fake" >"$T/fake$lost.out" 2>"$T/fake$lost.err"
    rc=$?
    want=$([ $lost = 0 ] && echo 0 || echo 1)
    if [ $rc != "$want" ]; then
        fail "stand-in agent, $lost lost: exit $rc, want $want: $(cat "$T/fake$lost.err")"
    elif [ $lost != 0 ] && ! grep -q "LOST: 3 blocks (192 B) in 1 site nothing points to" "$T/fake$lost.out"; then
        fail "stand-in agent: result lacks the summary: $(cat "$T/fake$lost.out")"
    elif [ $lost = 0 ] && ! grep -q "Nothing lost" "$T/fake$lost.out"; then
        fail "stand-in agent, nothing lost: $(cat "$T/fake$lost.out")"
    else
        ok "stand-in agent, $lost lost: exit $rc: $(head -1 "$T/fake$lost.out")"
    fi
    [ -e "$T/fake$lost.lsr.scan" ] && fail "the request file was left behind"
    if [ $lost != 0 ]; then
        "$LEAKSCOPE" scan --json -f "$T/fake$lost.lsr" "$fake" >"$T/fake.json" 2>"$T/fake.jerr"
        rc=$?
        if [ $rc = 1 ] && python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
assert d['lost_count']==3 and d['lost_sites']==1, d
assert d['scan'][0]['trigger']=='request' and d['scan'][0]['seq']==1, d['scan']
assert d['sites'][0]['scan']['states']['unreachable']['count']==3
" "$T/fake.json"; then
            ok "scan --json -f: a second scan, 3 lost"
        else
            fail "scan --json: exit $rc: $(cat "$T/fake.jerr") $(head -c 400 "$T/fake.json")"
        fi
        "$LEAKSCOPE" report "$T/fake$lost.lsr" >"$T/fake.report" 2>&1
        grep -q "^LEAK: 1 site holds 3 blocks (192 B) nothing points to" "$T/fake.report" &&
            ok "report: lost blocks make the verdict" ||
            fail "report of the stand-in's recording: $(head -3 "$T/fake.report")"
    fi
    kill $fake 2>/dev/null
    wait $fake 2>/dev/null
done
finish
