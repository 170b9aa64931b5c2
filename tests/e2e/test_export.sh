# leakscope export: folded stacks, the JSON document and pprof's gzipped
# profile.proto, each read back by an independent reader: python's json,
# protoc + python3-protobuf compiling pprof's schema (tests/pprof), and
# `go tool pprof` when Debian's golang-go is installed. Decoders that are
# missing are reported, not failed: tools/deps.sh installs them.
. "$(dirname "$0")/../lib.sh"

"$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/leak.lsr" -- "$LK_PROGS/leak_simple" 4 >/dev/null ||
    fail "leak_simple under leakscope run failed"
"$LEAKSCOPE" report --json "$T/leak.lsr" >"$T/report.json" || fail "report --json failed"
live=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sites"][0]["live_bytes_end"])' "$T/report.json")

# Folded: "outer;...;inner VALUE", outermost first, leak_request the largest.
"$LEAKSCOPE" export --format folded "$T/leak.lsr" >"$T/leak.folded" || fail "export --format folded failed"
bad=$(grep -cvE '^[^;]+(;[^;]+)* [0-9]+$' "$T/leak.folded")
[ "$bad" = 0 ] && ok "folded: $(wc -l <"$T/leak.folded") well-formed lines" || fail "folded: $bad malformed lines"
top=$(sort -t' ' -k2 -n -r "$T/leak.folded" | head -1)
case "$top" in
*main\;leak_request\ "$live") ok "folded: largest stack ends main;leak_request with $live bytes" ;;
*) fail "folded: largest line is '$top', expected ...;main;leak_request $live" ;;
esac
"$LEAKSCOPE" export --format folded --growth "$T/leak.lsr" | grep -q ';leak_request [0-9]' ||
    fail "folded --growth lacks leak_request"

# JSON: the report's document with every site, plus the time series.
"$LEAKSCOPE" export --format json -o "$T/leak.json" "$T/leak.lsr" || fail "export --format json failed"
python3 - "$T/leak.json" <<'EOF' || fail "export json: checks failed"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["verdict"] == "LEAK", d["verdict"]
assert len(d["sites"]) == d["recording"]["sites"], "not every site"
s = d["series"]
assert len(s["t"]) == d["recording"]["snapshots"] and len(s["t"]) <= 600
assert all(len(p["v"]) == len(s["t"]) for p in s["mem"])
assert s["sites"][0]["frames"][0][0] == "leak_request", s["sites"][0]["frames"][0]
print("ok: export json: %d sites, %d time points, series %s" % (len(d["sites"]), len(s["t"]), ", ".join(sorted(s))))
EOF

# pprof: gzip, then decoded by protoc-generated code and by go tool pprof.
"$LEAKSCOPE" export --format pprof -o "$T/leak.pb.gz" "$T/leak.lsr" || fail "export --format pprof failed"
"$LEAKSCOPE" export --format pprof --growth -o "$T/growth.pb.gz" "$T/leak.lsr" || fail "export --growth failed"
gzip -t "$T/leak.pb.gz" && ok "pprof: valid gzip ($(stat -c %s "$T/leak.pb.gz") bytes)" || fail "pprof: not gzip"
PY=/usr/bin/python3
if command -v protoc >/dev/null && $PY -c 'import google.protobuf' 2>/dev/null; then
    protoc -I "$LK_SRC/tests/pprof" --python_out="$T" "$LK_SRC/tests/pprof/profile.proto" ||
        fail "protoc could not compile profile.proto"
    PYTHONPATH="$T" $PY - "$T/leak.pb.gz" "$T/growth.pb.gz" "$live" <<'EOF' || fail "pprof: protobuf checks failed"
import gzip, sys
import profile_pb2
def load(path):
    p = profile_pb2.Profile()
    p.ParseFromString(gzip.open(path).read())
    return p
p = load(sys.argv[1])
S = p.string_table
assert S[0] == "", "string_table[0] must be empty"
types = [(S[t.type], S[t.unit]) for t in p.sample_type]
assert types == [("inuse_space", "bytes"), ("inuse_objects", "count"), ("alloc_space", "bytes"),
                 ("alloc_objects", "count")], types
assert S[p.default_sample_type] == "inuse_space"
locs = {l.id: l for l in p.location}
funcs = {f.id: f for f in p.function}
maps = {m.id: m for m in p.mapping}
assert p.sample and locs and funcs and maps
for s in p.sample:
    assert len(s.value) == 4
    for lid in s.location_id:
        l = locs[lid]
        assert l.mapping_id == 0 or l.mapping_id in maps
        assert l.mapping_id == 0 or maps[l.mapping_id].memory_start <= l.address < maps[l.mapping_id].memory_limit
        for ln in l.line:
            assert ln.function_id in funcs
def leaf(s):
    return S[funcs[locs[s.location_id[0]].line[0].function_id].name]
leak = [s for s in p.sample if leaf(s) == "leak_request"]
assert len(leak) == 1, [leaf(s) for s in p.sample]
assert leak[0].value[0] == int(sys.argv[3]), (leak[0].value[0], sys.argv[3])
exe = [m for m in p.mapping if S[m.filename].endswith("/leak_simple")]
assert exe and len(S[exe[0].build_id]) == 40, "executable mapping without a build-id"
labels = {S[l.key]: (S[l.str] if l.str else l.num) for l in leak[0].label}
assert labels.get("verdict") == "LEAK", labels
g = load(sys.argv[2])
gt = [g.string_table[t.type] for t in g.sample_type]
assert gt == ["growth_space", "growth_objects"], gt
print("ok: pprof decoded by protoc/python: %d samples, %d locations, %d functions, %d mappings; "
      "leak_request inuse_space %d" % (len(p.sample), len(locs), len(funcs), len(maps), leak[0].value[0]))
EOF
else
    echo "note: protoc or python3-protobuf missing: protobuf decoding not checked (make deps installs them)"
fi
if command -v go >/dev/null && GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$T/gocache" timeout 120 go tool pprof -h >/dev/null 2>&1; then
    GOPROXY=off GOCACHE="$T/gocache" timeout 120 go tool pprof -top -sample_index=inuse_space "$T/leak.pb.gz" \
        >"$T/pprof.top" 2>&1 || fail "go tool pprof could not read the profile: $(head -3 "$T/pprof.top")"
    first=$(awk '/flat%/ {getline; print $NF; exit}' "$T/pprof.top")
    [ "$first" = leak_request ] && ok "go tool pprof -top: leak_request first" ||
        fail "go tool pprof -top: first is '$first'"
    GOPROXY=off GOCACHE="$T/gocache" timeout 120 go tool pprof -raw "$T/growth.pb.gz" >/dev/null 2>&1 ||
        fail "go tool pprof could not read the growth profile"
else
    echo "note: go tool pprof not available: not checked (Debian's golang-go provides it)"
fi

# Errors: one sentence, exit 2.
"$LEAKSCOPE" export --format nope "$T/leak.lsr" 2>"$T/err" && fail "a bad format was accepted"
grep -q 'format must be' "$T/err" || fail "bad format message: $(cat "$T/err")"
finish
