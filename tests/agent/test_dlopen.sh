# dlopen/dlclose: a plugin that leaks (plugin_grow) is loaded, used and
# unloaded before the run ends, then loaded and unloaded 50 more times. The
# recording has a MODULE_GONE record for it, and the report still names the
# plugin's function and library in the leaking site's stack. Then the same
# with a copy of the plugin that is deleted before the report: its frames
# resolve only from a symbol store found by build-id (LEAKSCOPE_DEBUG_PATH),
# and without one the report says the file is gone and still reads.
. "$(dirname "$0")/../lib.sh"

plugin="$LK_PROGS/libplugin.so"
run_same dlopen "$LK_PROGS/dlopener" "$plugin" 200 600 50
"$LEAKSCOPE" dump "$T/dlopen.lsr" | grep -q ' MODULE_GONE ' && ok "MODULE_GONE recorded" ||
    fail "no MODULE_GONE record after dlclose"
"$LEAKSCOPE" report --json --all "$T/dlopen.lsr" >"$T/d.json" || fail "report --json failed"
python3 - "$T/d.json" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1]))
hits = [s for s in d["sites"] for f in s["frames"][:2]
        if f.get("function") == "plugin_grow" and (f.get("module") or "").endswith("libplugin.so")]
if not hits:
    names = [[f.get("function") for f in s["frames"][:2]] for s in d["sites"][:8]]
    print("FAIL: no site names plugin_grow in libplugin.so; top frames: %r" % names); sys.exit(1)
s = hits[0]
if s["live_count_end"] != 200:
    print("FAIL: plugin_grow's site ends with %d live blocks, expected 200" % s["live_count_end"]); sys.exit(1)
fr = [f for f in s["frames"] if f.get("function") == "plugin_grow"][0]
if not fr.get("file", "").endswith("plugin.c") or not fr.get("line"):
    print("FAIL: plugin_grow has no source line: %r" % fr); sys.exit(1)
print("ok: unloaded plugin symbolized: plugin_grow %s:%d, 200 live blocks, %s" % (fr["file"], fr["line"], s["verdict"]))
PY

# A plugin deleted before the report.
mkdir -p "$T/gone"
cp "$plugin" "$T/gone/libplugin.so"
"$LEAKSCOPE" run --quiet --no-report -o "$T/gone.lsr" -- "$LK_PROGS/dlopener" "$T/gone/libplugin.so" 200 600 50 \
    >/dev/null 2>&1 || fail "dlopener with the copied plugin failed"
bid=$(readelf -n "$T/gone/libplugin.so" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
[ ${#bid} -ge 4 ] || fail "the plugin has no build-id (readelf -n)"
mkdir -p "$T/store/.build-id/${bid:0:2}"
mv "$T/gone/libplugin.so" "$T/store/.build-id/${bid:0:2}/${bid:2}"
check_plugin() { # $1: json file, $2: 1 when plugin_grow must be named, 0 when it must not
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); want = sys.argv[2] == "1"
named = [s for s in d["sites"] for f in s["frames"][:2] if f.get("function") == "plugin_grow"]
big = [s for s in d["sites"] if s["live_count_end"] == 200]
if want and not named:
    print("FAIL: plugin_grow not resolved from the symbol store"); sys.exit(1)
if not want and named:
    print("FAIL: plugin_grow resolved although the file is gone and no store was given"); sys.exit(1)
if not big:
    print("FAIL: no site with the plugin's 200 live blocks"); sys.exit(1)
print("ok: deleted plugin %s" % ("resolved by build-id" if want else "shown unresolved, 200 blocks still there"))
PY
}
HOME="$T" "$LEAKSCOPE" report --json --all "$T/gone.lsr" >"$T/gone0.json" 2>"$T/gone0.err" ||
    fail "report on a recording whose plugin was deleted failed"
grep -q "libplugin.so: file not found" "$T/gone0.json" && ok "the deleted plugin is named in a warning" ||
    fail "no 'file not found' warning for the deleted plugin in the report's warnings"
check_plugin "$T/gone0.json" 0 || failures=$((failures + 1))
HOME="$T" LEAKSCOPE_DEBUG_PATH="$T/nowhere:$T/store" "$LEAKSCOPE" report --json --all "$T/gone.lsr" \
    >"$T/gone1.json" 2>"$T/gone1.err" || fail "report with LEAKSCOPE_DEBUG_PATH failed"
check_plugin "$T/gone1.json" 1 || failures=$((failures + 1))
finish
