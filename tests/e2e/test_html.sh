# leakscope html: the page of a leaky program's recording is one
# self-contained file (no external script, style or URL), carries the
# verdict and the data, and its embedded renderer is up to date with
# src/render/assets. Then Debian's headless Chromium opens it
# (tests/browser/html_check.js, playwright-core): no console error, no
# network request, charts with data, a flame-graph click zooms, search and
# hover work; a screenshot is saved and its path printed. A synthetic long
# recording (tests/browser/gen_recording.py) measures size and load time.
# Exit status 77 (skipped) when chromium, node or playwright-core is
# missing: `make deps` installs them.
. "$(dirname "$0")/../lib.sh"

"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/leak.lsr" -- "$LK_PROGS/leak_simple" 5 >/dev/null ||
    fail "leak_simple under leakscope run failed"
"$LEAKSCOPE" html -o "$T/leak.html" "$T/leak.lsr" 2>/dev/null || fail "html failed"
"$LEAKSCOPE" html "$T/leak.lsr" 2>/dev/null && [ -s "$T/leak.html" ] || fail "html without -o failed"
size=$(stat -c %s "$T/leak.html")
ok "page: $size bytes"
grep -q '<h1 class="verdict">LEAK: 1 site grows' "$T/leak.html" && ok "verdict readable without scripts" ||
    fail "no verdict in the page's HTML"
# (The SVG namespace name is an identifier, never fetched.)
sed 's|http://www.w3.org/2000/svg||g' "$T/leak.html" >"$T/leak.nons"
if grep -Eiq '<(script|link|img|iframe)[^>]+(src|href)=|https?://' "$T/leak.nons"; then
    fail "the page refers to something outside itself: $(grep -Eio '(src|href)=[^ >]+|https?://[^ "]+' "$T/leak.nons" | head -3)"
else
    ok "self-contained: no src, href or URL"
fi
python3 - "$T/leak.html" <<'EOF2' || fail "page data: checks failed"
import json, re, sys
html = open(sys.argv[1]).read()
m = re.search(r'<script id="lk-data" type="application/json">(.*?)</script>', html, re.S)
d = json.loads(m.group(1))
assert d["verdict"]["verdict"] == "LEAK"
assert d["sites"][0]["frames"][0][0] == "leak_request", d["sites"][0]["frames"][0]
assert len(d["t"]) >= 8 and all(len(p["v"]) == len(d["t"]) for p in d["mem"])
assert d["flame_live"][1] > 0 and d["flame_growth"][1] > 0
assert d["sites"][0]["cohorts"], "no cohorts for the leak"
print("ok: page data: %d sites drawn, %d time points, %d flame labels" % (len(d["sites"]), len(d["t"]), len(d["labels"])))
EOF2

# The generated C file must match its sources.
cp "$LK_SRC/src/render/html_assets.c" "$T/assets.before"
mkdir -p "$T/assets/assets" && cp "$LK_SRC/src/render/assets/"* "$T/assets/assets/"
(cd "$T/assets/assets" && sh ./embed.sh) && cmp -s "$T/assets/html_assets.c" "$T/assets.before" &&
    ok "html_assets.c is up to date with assets/" ||
    fail "src/render/html_assets.c is stale: run src/render/assets/embed.sh"

"$LEAKSCOPE" html -o "$T/x.html" "$T/missing.lsr" 2>"$T/err" && fail "html of a missing file succeeded"
grep -q '^leakscope: ' "$T/err" || fail "missing-file message: $(cat "$T/err")"

# The browser.
chromium=${LK_CHROMIUM:-/usr/bin/chromium}
browser_dir="$LK_SRC/tests/browser"
if [ "$failures" -ne 0 ]; then
    finish
fi
if [ ! -x "$chromium" ] || ! command -v node >/dev/null || [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
    echo "SKIPPED: browser check needs $chromium, node and playwright-core in tests/browser/node_modules" \
        "(make deps: apt-get install chromium nodejs; npm ci --prefix tests/browser)"
    exit 77
fi
timeout 180 node "$browser_dir/html_check.js" "$T/leak.html" "$T/leak.png" --search leak_request ||
    fail "browser check failed on the leak's page"
# Keep the screenshot where a person can look at it after the run.
mkdir -p "$LK_BUILD/test-artifacts" && cp "$T/leak.png" "$LK_BUILD/test-artifacts/html_leak.png" &&
    echo "screenshot kept: $LK_BUILD/test-artifacts/html_leak.png"

# Scale: a long run with thousands of sites (a quarter of a day here, to
# keep the test short; docs/HTML.md has the full day's numbers).
python3 "$browser_dir/gen_recording.py" "$T/long.lsr" --snapshots 21600 --sites 3000 --changed 10 ||
    fail "gen_recording.py failed"
start=$(date +%s.%N)
"$LEAKSCOPE" html -o "$T/long.html" "$T/long.lsr" 2>/dev/null || fail "html of the long recording failed"
secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
lsize=$(stat -c %s "$T/long.html")
[ "$lsize" -lt 2000000 ] && ok "long recording: $lsize-byte page from $(stat -c %s "$T/long.lsr") bytes in ${secs}s" ||
    fail "long recording: page of $lsize bytes"
timeout 180 node "$browser_dir/html_check.js" "$T/long.html" "$T/long.png" ||
    fail "browser check failed on the long recording's page"
finish
