# dlopen/dlclose: a plugin that leaks (plugin_grow) is loaded, used and
# unloaded before the run ends, then loaded and unloaded 50 more times. The
# recording has a MODULE_GONE record for it, and the report still names the
# plugin's function and library in the leaking site's stack.
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
finish
