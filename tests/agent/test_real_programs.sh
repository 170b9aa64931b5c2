# Real programs nobody here wrote, run plainly and under `leakscope run`:
# same stdout, stderr and exit status, and a recording `report` can read.
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
run_same threads_cpp "$LK_PROGS/threads_cpp"
finish
