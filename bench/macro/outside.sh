#!/usr/bin/env bash
# Programs the macro benchmark does not include, timed side by side with
# bench/macro/compare.py (uninstrumented, full tracking, sampled; CPU time,
# geometric mean of paired ratios with a 95% interval): gcc's cc1 and
# cc1plus, node, git, python3 with and without its own allocator, ld and
# /bin/true (a process's fixed cost). Makes its inputs in a temporary
# directory from files every Debian machine with the build dependencies
# has. docs/BENCHMARKS.md, "Programs outside the benchmark".
#
#   bash bench/macro/outside.sh [-n ROUNDS] [--build DIR] [--only NAME,...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
rounds=7
build="$src/build/release"
only=""
while [ $# -gt 0 ]; do
    case $1 in
    -n) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    *) echo "outside.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -f "$build/libleakscope.so" ] || { echo "outside.sh: no agent in $build (make first)" >&2; exit 2; }
w=$(mktemp -d /tmp/lkoutside.XXXXXX)
trap 'rm -rf "$w"' EXIT

want() { [ -z "$only" ] || [[ $only == *",$1,"* ]]; }
time_it() { # NAME CMD...
    local name=$1
    shift
    want "$name" || return 0
    echo "== $name: $*"
    (cd "$w" && python3 "$here/compare.py" -n "$rounds" --build "$build" -- "$@") 2>&1 | tail -4
}

# cc1: the agent's own agent.c, preprocessed (2,600 lines of C, ~330k allocations)
gcc -E -D_GNU_SOURCE -DLK_VERSION='"0"' -I"$src/include" -I"$src/src" -I"$src/src/agent" \
    "$src/src/agent/agent.c" -o "$w/agent.i"
time_it cc1 "$(gcc -print-prog-name=cc1)" -quiet -O2 agent.i -o agent.s
# cc1plus: a small threaded C++ program with <thread>, <map>, <string>, preprocessed
g++ -E "$src/tests/progs/threads_cpp.cc" -o "$w/t.ii"
time_it cc1plus "$(g++ -print-prog-name=cc1plus)" -quiet -O2 t.ii -o t.s
# node: 2M small objects, then 200 deflates
cat >"$w/n1.js" <<'JS'
let t = 0;
for (let r = 0; r < 40; r++) { const a = []; for (let i = 0; i < 50000; i++)
  a.push({id: i, s: "x" + i, m: new Map([[i, i]])}); t += a.length; }
const zlib = require('zlib'); let b = Buffer.alloc(0);
for (let i = 0; i < 200; i++) b = zlib.deflateSync(Buffer.from("hello world ".repeat(1000) + i));
console.log(t, b.length);
JS
command -v node >/dev/null && time_it node node n1.js
# git: log -p --stat -M over 31 commits: /usr/include/linux's headers, then
# 30 commits that each edit 20 of them and rename one
(cd "$w" && git init -q repo && cd repo && cp /usr/include/linux/*.h . &&
    git add -A && git -c user.name=b -c user.email=b@b commit -qm c0 &&
    for i in $(seq 1 30); do
        for f in $(ls *.h | awk -v i="$i" 'NR % 30 == i % 30' | head -20); do
            sed -i "1s/^/\/* edit $i *\/\n/" "$f"
        done
        f=$(ls *.h | sed -n "${i}p") && git mv "$f" "renamed_$i.h"
        git add -A && git -c user.name=b -c user.email=b@b commit -qm "c$i"
    done) >/dev/null 2>&1
time_it git git -C repo log -p --stat -M
# python3: 600k dicts and tuples, with pymalloc and with every object through malloc
py='a = [{"k": i, "t": (i, str(i)), "l": [i]} for i in range(600000)]; print(len(a))'
time_it python3 python3 -c "$py"
time_it python3_malloc env PYTHONMALLOC=malloc python3 -c "$py"
# ld -r of two objects, and /bin/true: what a short process pays
cp "$build/CMakeFiles/lk_agent_core.dir/src/agent/agent.c.o" "$w/a.o"
cp "$build/CMakeFiles/lk_agent_core.dir/src/agent/unwind.c.o" "$w/b.o"
time_it ld ld.bfd -r -o ab.o a.o b.o
time_it true /bin/true
