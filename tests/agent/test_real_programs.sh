# Real programs nobody here wrote, run plainly and under `leakscope run`:
# same stdout, stderr and exit status, and a recording `report` can read:
# python3, perl, git, sqlite3, node, a threaded C++ program, and redis-server
# on loopback under redis-cli and redis-benchmark.
. "$(dirname "$0")/../lib.sh"

need() { command -v "$1" >/dev/null 2>&1; }

if need python3; then
    run_same python3 python3 -c 'import json; print(len([json.dumps(list(range(1000))) for _ in range(3000)]))'
    run_same python3_exit python3 -c 'import sys; d={i: str(i)*3 for i in range(50000)}; print(len(d)); sys.exit(3)'
else
    fail "python3 is not installed (make deps installs it)"
fi
if need perl; then
    run_same perl perl -e 'my %h; for my $i (1..200000) { $h{$i} = "v$i" x 3 } delete $h{$_} for (1..100000); print scalar(keys %h), "\n"'
else
    fail "perl is not installed"
fi
if need git; then
    (cd "$T/work" && git init -q repo && cd repo && for i in 1 2 3 4 5; do
        seq 1 2000 | sed "s/^/line $i /" >"f$i.txt"
        git add "f$i.txt" && git -c user.name=t -c user.email=t@t commit -qm "c$i"
    done) >/dev/null 2>&1
    run_same git_log git -C repo log --stat --format='%s'
    run_same git_grep git -C repo grep -c 'line 3'
else
    fail "git is not installed"
fi
if need sqlite3; then
    cat >"$T/work/load.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
INSERT INTO t SELECT x, 'name' || x, x * 1.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v) FROM t WHERE name LIKE 'name1%';
SQL
    run_same sqlite3 sqlite3 :memory: '.read load.sql'
else
    fail "sqlite3 is not installed (make deps installs it)"
fi
if need node; then
    run_same node node -e '
const m = new Map();
for (let i = 0; i < 200000; i++) m.set("k" + i, { v: i, s: "x".repeat(i % 50) });
const buf = [];
for (let i = 0; i < 2000; i++) buf.push(Buffer.alloc(4096, i % 256));
const z = require("zlib").gzipSync(Buffer.concat(buf));
console.log(m.size, buf.length, require("zlib").gunzipSync(z).length);
process.exitCode = 4;'
else
    fail "node is not installed (make deps installs nodejs)"
fi
run_same threads_cpp "$LK_PROGS/threads_cpp"

# A real server on loopback under a real client: redis-server under
# `leakscope run`, driven by redis-cli (deterministic answers, compared with
# a plain server's) and redis-benchmark (bounded -n), shut down by the
# client; status 0 and a readable recording.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
    return 1
}
redis_session() { # PORT: the same commands against either server
    {
        printf 'SET a 1\nINCRBY a 41\nGET a\nRPUSH l x y z\nLRANGE l 0 -1\nHSET h f v g w\nHGETALL h\n'
        for i in $(seq 500); do printf 'SET key:%d %s\n' "$i" "$(printf 'v%.0s' $(seq $((i % 40 + 1))))"; done
        printf 'DBSIZE\nDEL key:1 key:2\nDBSIZE\nSTRLEN key:39\n'
    } | redis-cli -h 127.0.0.1 -p "$1"
}
if need redis-server && need redis-cli && need redis-benchmark; then
    conf=(--bind 127.0.0.1 --protected-mode yes --save '' --appendonly no --daemonize no
          --dir "$T/work" --logfile '')
    p1=$(free_port)
    redis-server "${conf[@]}" --port "$p1" >"$T/redis.plain.log" 2>&1 &
    rp=$!
    if wait_port "$p1"; then
        redis_session "$p1" >"$T/redis.plain.out"
        redis-benchmark -h 127.0.0.1 -p "$p1" -n 20000 -c 8 -q -t set,get,lpush,lpop,incr >/dev/null 2>&1
        echo "benchmark $?" >>"$T/redis.plain.out"
        redis-cli -h 127.0.0.1 -p "$p1" shutdown nosave >/dev/null 2>&1
    fi
    wait $rp
    echo "exit $?" >>"$T/redis.plain.out"

    p2=$(free_port)
    "$LEAKSCOPE" run --quiet --no-report --period 250 -o "$T/redis.lsr" -- \
        redis-server "${conf[@]}" --port "$p2" >"$T/redis.lk.log" 2>&1 &
    rl=$!
    if wait_port "$p2"; then
        redis_session "$p2" >"$T/redis.lk.out"
        redis-benchmark -h 127.0.0.1 -p "$p2" -n 20000 -c 8 -q -t set,get,lpush,lpop,incr >/dev/null 2>&1
        echo "benchmark $?" >>"$T/redis.lk.out"
        redis-cli -h 127.0.0.1 -p "$p2" shutdown nosave >/dev/null 2>&1
    else
        fail "redis-server under leakscope never answered PING: $(tail -3 "$T/redis.lk.log")"
        kill $rl 2>/dev/null
    fi
    wait $rl
    echo "exit $?" >>"$T/redis.lk.out"
    if ! cmp -s "$T/redis.plain.out" "$T/redis.lk.out"; then
        fail "redis: answers or statuses differ under leakscope"
        diff "$T/redis.plain.out" "$T/redis.lk.out" | head -5 >&2
    elif ! "$LEAKSCOPE" report "$T/redis.lsr" >"$T/redis.report" 2>&1; then
        fail "redis: report failed: $(head -3 "$T/redis.report")"
    else
        ok "redis-server + redis-benchmark (-n 20000): same answers, exit 0, recording $(stat -c %s "$T/redis.lsr") bytes"
    fi
else
    fail "redis-server, redis-cli or redis-benchmark is not installed (make deps installs them)"
fi
finish
