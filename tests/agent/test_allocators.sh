# Programs linked with another allocator, and a static program. With
# jemalloc or tcmalloc linked dynamically the agent takes malloc over (its
# blocks come from glibc while tracked): the program's output and status are
# unchanged, `run` says so in one warning line, the recording carries a note
# and tracks the program's blocks. A statically linked program cannot take
# LD_PRELOAD: `run` refuses it in one sentence with exit status 2.
# The allocators are Debian's libjemalloc2 and libtcmalloc-minimal4 (linked
# by soname, so their -dev packages are not needed); when one is missing its
# part is skipped and the test exits 77 (skipped) if nothing was checked.
. "$(dirname "$0")/../lib.sh"
cd "$T/work"

src="$LK_SRC/tests/progs/alloc/other_alloc.c"
cc="${CC:-cc}"
checked=0
libdir=$("$cc" -print-multiarch 2>/dev/null)
for a in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
    name=${a%%:*} so=${a#*:}
    if ! ls "/usr/lib/$libdir/$so" /usr/lib64/"$so" /usr/lib/"$so" 2>/dev/null | grep -q .; then
        echo "skip: $so is not installed (make deps installs it)"
        continue
    fi
    if ! "$cc" -O1 -g -o "$T/with_$name" "$src" -l:"$so" 2>"$T/cc.err"; then
        fail "$name: cannot link with $so: $(head -2 "$T/cc.err")"
        continue
    fi
    checked=$((checked + 1))
    before=$failures
    run_same "with_$name" "$T/with_$name"
    [ "$failures" = "$before" ] || continue
    "$LEAKSCOPE" run --no-report --quiet -o "$T/$name.2.lsr" -- "$T/with_$name" >/dev/null 2>"$T/$name.run.err"
    grep -q "warning: .*linked with lib$name" "$T/$name.run.err" &&
        ok "$name: run warns in one line" || fail "$name: run gives no warning: $(cat "$T/$name.run.err")"
    "$LEAKSCOPE" dump "$T/with_$name.lsr" | grep -q "NOTE .*linked with .*lib$name" ||
        fail "$name: the recording has no note about $name"
    "$LEAKSCOPE" report --json --all "$T/with_$name.lsr" >"$T/$name.json" || fail "$name: report failed"
    python3 - "$T/$name.json" "$name" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1]))
k = [s for s in d["sites"] if any(f.get("function") == "keep" for f in s["frames"][:2])]
n = sum(s["live_count_end"] for s in k)
if n != 100:
    print("FAIL: %s: keep() ends with %d tracked live blocks, expected 100" % (sys.argv[2], n)); sys.exit(1)
print("ok: %s: the program's blocks are tracked (keep: 100 live)" % sys.argv[2])
PY
done

# Statically linked: refused before anything runs.
if "$cc" -static -O1 -o "$T/static_prog" "$src" 2>"$T/cc.err"; then
    checked=$((checked + 1))
    "$LEAKSCOPE" run -o "$T/static.lsr" -- "$T/static_prog" >"$T/static.out" 2>"$T/static.err"
    rc=$?
    [ "$rc" = 2 ] || fail "static: run exited $rc, expected 2"
    [ "$(wc -l <"$T/static.err")" = 1 ] && grep -q 'statically linked' "$T/static.err" &&
        ok "static: refused in one sentence: $(cat "$T/static.err")" ||
        fail "static: expected one sentence naming static linking, got: $(cat "$T/static.err")"
    [ -s "$T/static.out" ] && fail "static: the program ran (stdout not empty)"
    [ -e "$T/static.lsr" ] && fail "static: a recording was left behind"
    # Preloading by hand does nothing at all (the loader ignores LD_PRELOAD).
    out=$(LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/static2.lsr" "$T/static_prog" 2>&1)
    [ "$out" = "kept 100 blocks, 0 short usable sizes" ] || fail "static with LD_PRELOAD: $out"
else
    echo "skip: no static libc to link with ($(head -1 "$T/cc.err"))"
fi
[ "$checked" -eq 0 ] && { echo "skipped: no other allocator and no static libc"; exit 77; }
finish
