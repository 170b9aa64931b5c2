# Threads: eight workers allocate, reallocate and free in a tight loop and
# free each other's blocks through a shared ring, while 64 short-lived
# threads start, allocate and exit meanwhile. Under the agent the output and
# status are unchanged, and the recording's accounting is exact: the sites
# of keep_block() end with exactly the 720 blocks of 96 bytes the program
# kept, whatever thread freed what.
. "$(dirname "$0")/../lib.sh"

run_same threads_stress "$LK_PROGS/threads_stress" 20000 8 64
"$LEAKSCOPE" report --json --all "$T/threads_stress.lsr" >"$T/t.json" 2>"$T/t.err" ||
    fail "report --json failed: $(head -2 "$T/t.err")"
python3 - "$T/t.json" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1]))
keep = [s for s in d["sites"] if any(f.get("function") == "keep_block" for f in s["frames"][:3])]
live = sum(s["live_bytes_end"] for s in keep)
count = sum(s["live_count_end"] for s in keep)
if (live, count) != (720 * 96, 720):
    print("FAIL: keep_block sites end with %d blocks, %d bytes; expected 720 blocks, %d bytes"
          % (count, live, 720 * 96)); sys.exit(1)
allocs = d["process"]["allocs"]
if allocs < 8 * 20000:
    print("FAIL: only %d allocations recorded" % allocs); sys.exit(1)
print("ok: keep_block ends with exactly 720 blocks of 96 bytes; %d allocations recorded" % allocs)
PY

# The same with sampling on, which takes another path through free.
LEAKSCOPE_SAMPLE=64K run_same threads_sampled "$LK_PROGS/threads_stress" 20000 8 64

# The threaded C++ program with many more threads than cores, several times.
for i in 1 2 3; do
    run_same "threads_cpp_$i" "$LK_PROGS/threads_cpp"
done
finish
