# Hostile recordings fed to every subcommand that reads one (report, report
# --json, dump -v, html, export in each format, diff on either side; the
# list comes from `leakscope --help`, so new verbs are covered when they
# read a FILE): a small real recording cut at every byte, with a bit flipped
# at every byte, with another version, byte-swapped, with absurd lengths and
# counts, empty, a directory, random bytes. Each run must end with status 0
# (a torn last record is a warning) or 2 with one clear sentence on stderr
# -- never a crash, a sanitizer report or a hang (20 s each) -- within a
# bounded address space (ulimit -v 2 GiB; not under ASan, whose shadow
# needs far more). Which bytes each verb tries: wanted() below
# (LK_HOSTILE_FULL=1: every byte with every verb, minutes).
. "$(dirname "$0")/../lib.sh"
cd "$T/work"

"$LEAKSCOPE" run --quiet --no-report --period 50 --depth 4 -o "$T/good.lsr" -- \
    "$LK_PROGS/steady" 0.3 >/dev/null 2>"$T/run.err" || { fail "cannot record: $(cat "$T/run.err")"; finish; }
"$LEAKSCOPE" --help >"$T/help.txt" 2>&1
limit=2097152
ldd "$LEAKSCOPE" 2>/dev/null | grep -q -e libasan -e libubsan && limit=unlimited

python3 - "$LEAKSCOPE" "$T/good.lsr" "$T" "$limit" "$T/help.txt" <<'PY' || failures=$((failures + 1))
import concurrent.futures as cf, os, struct, subprocess, sys, zlib
exe, good, tmp, limit, helpf = sys.argv[1:6]
data = open(good, "rb").read()
verbs = set(l.split()[0] for l in open(helpf) if l.startswith("  ") and l.split())

def rec(t, p):
    h = bytes([t]) + struct.pack("<I", len(p))
    return h + p + struct.pack("<I", zlib.crc32(h + p) & 0xFFFFFFFF)

# Record boundaries, to know where the first snapshot starts.
offs, off = [], 16
while off + 9 <= len(data):
    offs.append(off)
    off += 9 + struct.unpack("<I", data[off + 1:off + 5])[0]
first_snap = next((o for o in offs if data[o] == 5), len(data))

cases = {}
for n in range(len(data) + 1):
    cases["cut%05d" % n] = data[:n]
for i in range(len(data)):
    b = bytearray(data)
    b[i] ^= 1 << (i % 8)
    cases["flip%05d" % i] = bytes(b)
hdr = data[:16]
big = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"  # 2^64 - 1 as a varint
cases.update({
    "version2": data[:8] + b"\x02\x00" + data[10:],
    "version0": data[:8] + b"\x00\x00" + data[10:],
    "minor999": data[:10] + b"\xe7\x03" + data[12:],
    "byteswapped": data[:8] + b"\x00\x01\x00\x01" + data[12:],
    "empty": b"",
    "magic-only": b"LKSCOPE\0",
    "random": os.urandom(4096),
    "text": b"this is not a recording\n" * 10,
    "len-max": hdr + b"\x05" + struct.pack("<I", 0xFFFFFFFF) + b"\0" * 32,
    "len-256M": hdr + b"\x05" + struct.pack("<I", 0x10000000) + b"\0" * 32,
    "type0": hdr + rec(0, b"\0"),
    "snap-nproc-huge": data[:first_snap] + rec(5, b"\x00\x01\x01" + big + b"\x01" * 20),
    "snap-sites-huge": data[:first_snap] + rec(5, b"\x00\x01\x01\x00\x00" + b"\x01" + big + b"\x00"),
    "snap-cohorts-huge": data[:first_snap] + rec(5, b"\x00\x01\x01\x00\x00\x01\x00\x00" + big),
    "stack-frames-huge": data[:first_snap] + rec(4, b"\x01\x00" + big + b"\x01\x01") + data[first_snap:],
    "stack-site-huge": data[:first_snap] + rec(4, big + b"\x00\x01\x00\x00") + data[first_snap:],
    "module-id-huge": data[:first_snap] + rec(2, big + b"\x00\x00\x00\x00\x00\x00") + data[first_snap:],
    "module-str-huge": data[:first_snap] + rec(2, b"\x09\x00\x00\x01\x00" + big) + data[first_snap:],
    "note-huge": data[:first_snap] + rec(7, b"\x01\x00" + big) + data[first_snap:],
    "info-twice": data[:first_snap] + data[16:offs[1]] + data[first_snap:],
    "snap-seq-backwards": data + data[first_snap:],
    "many-sites": data[:first_snap] + b"".join(rec(4, bytes([0x80 | (i & 0x7f), i >> 7, 0, 1, 0, 0])) for i in range(1, 3000)) + data[first_snap:],
})
files = {}
for name, b in cases.items():
    p = os.path.join(tmp, "h", name + ".lsr")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(b)
    files[name] = p
files["directory"] = os.path.join(tmp, "h")
files["missing"] = os.path.join(tmp, "h", "no-such.lsr")

out = os.path.join(tmp, "out")
cmds = [("report", ["report"]), ("report-json", ["report", "--json", "--all"]), ("dump", ["dump", "-v"])]
if "html" in verbs: cmds.append(("html", ["html", "-o", out + ".html"]))
if "export" in verbs:
    for f in ("pprof", "folded", "json"):
        cmds.append(("export-" + f, ["export", "--format", f, "-o", out + "." + f]))
if "diff" in verbs:
    cmds.append(("diff-a", ["diff", "-o", out + ".diff", "@", good]))
    cmds.append(("diff-b", ["diff", "--json", "-o", out + ".diffj", good, "@"]))

# Every byte for every verb takes minutes: by default dump gets the bytes
# around each record boundary, every 3rd cut and every 8th flip, the other
# verbs the boundaries and every 29th byte (the reader's unit test cuts and
# flips every byte in-process); LK_HOSTILE_FULL=1 (make soak) tries them all.
full = os.environ.get("LK_HOSTILE_FULL") == "1"
near = set(o + d for o in offs + [len(data)] for d in (-1, 0, 1, 5, 9))
def wanted(cmd, name):
    if full or not name[:3] in ("cut", "fli"):
        return True
    n = int(name[4:])
    if cmd == "dump":
        return n in near or n % (3 if name[:3] == "cut" else 8) == 0
    return n in near or n % 29 == 0

jobs = [(c, argv, n, p) for c, argv in cmds for n, p in files.items() if wanted(c, n)]
ulimit = "" if limit == "unlimited" else "ulimit -v %s; " % limit

def run(job):
    c, tmpl, n, p = job
    argv = [p if a == "@" else a for a in tmpl]
    if "@" not in tmpl:
        argv.append(p)
    sh = ulimit + 'exec timeout 20 "$@"'
    r = subprocess.run(["sh", "-c", sh, "sh", exe] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    err = r.stderr.decode("utf-8", "replace")
    bad = None
    if r.returncode == 124: bad = "hung (killed after 20 s)"
    elif r.returncode not in (0, 2): bad = "exit %d" % r.returncode
    elif "Sanitizer" in err or "runtime error" in err: bad = "sanitizer report"
    elif r.returncode == 2:
        lines = [l for l in err.splitlines() if l.strip()]
        if not lines or not lines[-1].startswith("leakscope: ") or len(lines) > 3:
            bad = "exit 2 without one clear sentence"
    return (c, n, bad, err.strip().splitlines()[-3:] if bad else None, r.returncode)

fails, counts = [], {}
with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
    for c, n, bad, err, rc in ex.map(run, jobs):
        counts.setdefault(c, [0, 0])
        counts[c][0 if rc == 0 else 1] += 1
        if bad: fails.append((c, n, bad, err))
for c, (z, t) in sorted(counts.items()):
    print("%-12s %5d files: %5d read (status 0), %5d refused (status 2)" % (c, z + t, z, t))
for c, n, bad, err in fails[:15]:
    print("FAIL: %s on %s: %s: %s" % (c, n, bad, " | ".join(err or [])))
if fails:
    print("FAIL: %d runs crashed, hung or gave no clear error (%d shown)" % (len(fails), min(15, len(fails))))
    sys.exit(1)
print("ok: %d runs over %d hostile files, no crash, hang or unclear error" % (len(jobs), len(files)))
PY
finish
