#!/bin/bash
# The reachability scan's lost blocks against valgrind --leak-check=full and
# LeakSanitizer on the project's leaky test programs (docs/SCAN-COMPARE.md):
# per allocating function (the first frame after the allocator's), blocks
# definitely lost (leakscope: unreachable) and indirectly lost (indirect)
# must be the same in all three. valgrind and LeakSanitizer are compared
# with each other first; the leakscope column needs an agent that writes
# SCAN records at exit, and the test exits 77 (skipped) while the agent's
# recordings hold none.
. "$(dirname "$0")/../lib.sh"

# Programs and their arguments: the lost_* ones lose blocks on purpose;
# leak_simple's leak is reachable (a chain in a global): nothing is lost.
progs=("lost_error_path" "lost_list_head" "lost_tls" "leak_simple 1")

have_vg=0
command -v valgrind >/dev/null 2>&1 && have_vg=1
have_lsan=0
if echo 'int main(void){return 0;}' | gcc -fsanitize=leak -x c - -o "$T/lsan_probe" 2>/dev/null &&
    "$T/lsan_probe" 2>/dev/null; then
    have_lsan=1
fi

# Normalizes each tool's output to lines "FUNCTION DEFINITE INDIRECT".
parse_vg() { # valgrind's text output
    python3 - "$1" <<'PY'
import re, sys, collections
acc = collections.defaultdict(lambda: [0, 0])
kind = None
alloc = re.compile(r'(malloc|calloc|realloc|memalign|posix_memalign|aligned_alloc|operator new)')
for line in open(sys.argv[1], errors='replace'):
    m = re.search(r'bytes in ([\d,]+) blocks are (definitely|indirectly) lost', line)
    if m:
        kind = (m.group(2), int(m.group(1).replace(',', '')))
        continue
    m = re.search(r'(?:at|by) 0x[0-9A-F]+: (\S+)', line)
    if m and kind:
        fn = m.group(1)
        if alloc.search(fn):
            continue
        acc[fn][0 if kind[0] == 'definitely' else 1] += kind[1]
        kind = None
for fn in sorted(acc):
    print(fn, acc[fn][0], acc[fn][1])
PY
}
parse_lsan() { # LeakSanitizer's report
    python3 - "$1" <<'PY'
import re, sys, collections
acc = collections.defaultdict(lambda: [0, 0])
kind = None
for line in open(sys.argv[1], errors='replace'):
    m = re.search(r'(Direct|Indirect) leak of \d+ byte\(s\) in (\d+) object', line)
    if m:
        kind = (m.group(1), int(m.group(2)))
        continue
    m = re.search(r'#\d+ 0x[0-9a-f]+ in (\S+)', line)
    if m and kind:
        fn = m.group(1)
        if 'interceptor' in fn or fn in ('malloc', 'calloc', 'realloc'):
            continue
        acc[fn][0 if kind[0] == 'Direct' else 1] += kind[1]
        kind = None
for fn in sorted(acc):
    print(fn, acc[fn][0], acc[fn][1])
PY
}
parse_lk() { # leakscope report --json --all: sites[].scan.states, by first frame
    python3 - "$1" <<'PY'
import json, sys, collections
d = json.load(open(sys.argv[1]))
if not d.get('scans'):
    print('NO-SCANS')
    sys.exit(0)
acc = collections.defaultdict(lambda: [0, 0])
for s in d['sites']:
    sc = s.get('scan')
    if not sc:
        continue
    fn = s['frames'][0]['function'] if s['frames'] and s['frames'][0]['function'] else 'site%d' % s['site']
    acc[fn][0] += sc['states']['unreachable']['count']
    acc[fn][1] += sc['states']['indirect']['count']
for fn in sorted(acc):
    if acc[fn][0] or acc[fn][1]:
        print(fn, acc[fn][0], acc[fn][1])
PY
}

no_scans=0
for entry in "${progs[@]}"; do
    read -r p args <<<"$entry"
    src="$LK_SRC/tests/progs/$p.c"
    bin="$LK_PROGS/$p"
    [ -x "$bin" ] || { fail "$p: $bin not built"; continue; }
    if [ $have_vg = 1 ]; then
        # shellcheck disable=SC2086
        timeout 300 valgrind --leak-check=full --show-leak-kinds=definite,indirect "$bin" $args \
            >/dev/null 2>"$T/$p.vg.txt"
        parse_vg "$T/$p.vg.txt" >"$T/$p.vg"
    fi
    if [ $have_lsan = 1 ]; then
        gcc -g -O1 -fno-inline -fno-omit-frame-pointer -fno-optimize-sibling-calls \
            -fsanitize=leak -pthread -o "$T/$p.lsan.bin" "$src"
        # shellcheck disable=SC2086
        LSAN_OPTIONS=exitcode=0 timeout 300 "$T/$p.lsan.bin" $args >/dev/null 2>"$T/$p.lsan.txt"
        parse_lsan "$T/$p.lsan.txt" >"$T/$p.lsan"
    fi
    if [ $have_vg = 1 ] && [ $have_lsan = 1 ]; then
        if cmp -s "$T/$p.vg" "$T/$p.lsan"; then
            ok "$p: valgrind and LeakSanitizer agree: $(tr '\n' ';' <"$T/$p.vg")"
        else
            fail "$p: valgrind and LeakSanitizer differ"
            diff "$T/$p.vg" "$T/$p.lsan" >&2
        fi
    fi
    # shellcheck disable=SC2086
    (cd "$T/work" && timeout 300 "$LEAKSCOPE" run --quiet --no-report -o "$T/$p.lsr" -- \
        "$bin" $args >/dev/null 2>"$T/$p.run.err")
    if ! "$LEAKSCOPE" report --json --all "$T/$p.lsr" >"$T/$p.json" 2>"$T/$p.report.err"; then
        fail "$p: report failed: $(head -2 "$T/$p.report.err")"
        continue
    fi
    parse_lk "$T/$p.json" >"$T/$p.lk"
    # The only scan is the exit scan: its lost blocks are evidence, and the
    # text report says where they were found (not "without registers").
    if [ "$p" = lost_error_path ]; then
        "$LEAKSCOPE" report --all "$T/$p.lsr" 2>/dev/null >"$T/$p.txt"
        grep -q 'nothing pointed to in a scan that was made at exit' "$T/$p.txt" ||
            fail "$p: the text report does not say the lost blocks come from the exit scan"
        grep -q "could not read every thread's registers" "$T/$p.txt" &&
            fail "$p: the text report blames registers for an exit scan that read them"
    fi
    if grep -q NO-SCANS "$T/$p.lk"; then
        no_scans=1
        continue
    fi
    ref="$T/$p.vg"
    [ $have_vg = 1 ] || ref="$T/$p.lsan"
    if [ -f "$ref" ]; then
        if cmp -s "$ref" "$T/$p.lk"; then
            ok "$p: leakscope's exit scan finds the same lost blocks: $(tr '\n' ';' <"$T/$p.lk")"
        else
            fail "$p: leakscope's exit scan differs from $(basename "$ref" | cut -d. -f2) (<)"
            diff "$ref" "$T/$p.lk" >&2
        fi
    fi
done
if [ $no_scans = 1 ] && [ $failures = 0 ]; then
    echo "skip: the agent wrote no SCAN record (reachability scans not in this agent yet)"
    exit 77
fi
finish
