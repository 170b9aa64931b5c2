#!/usr/bin/env python3
"""leakscope's macro benchmark: real malloc-heavy programs, side by side.

Each workload runs uninstrumented (base), under leakscope with full tracking
(full), under leakscope sampling every 512 KiB on average (sampled) and under
heaptrack, in alternating order (base full sampled heaptrack, base full ...)
so that drift in the machine's load hits every variant alike. Per workload it
prints the median of the paired slowdown ratios (variant / base of the same
round), the peak RSS ratio, the agent's bytes per live allocation (estimated
from RSS), and the recording's bytes per hour; for redis the throughput ratio
from redis-benchmark and the recording's growth at steady state. --check
exits 1 when a budget of docs/DESIGN.md ("Performance budgets") is broken.

Python 3 standard library only. Installs missing workloads with apt-get when
run as root. Every run has a time limit; redis listens on 127.0.0.1 only.
The method is described in docs/BENCHMARKS.md.
"""
import argparse
import datetime
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = ["base", "full", "sampled", "heaptrack"]
SAMPLE_BYTES = 524288
RUN_TIMEOUT_S = 900  # one run of one variant, whatever happens

# Command -> Debian package that provides it.
PACKAGES = {
    "sqlite3": "sqlite3",
    "jq": "jq",
    "perl": "perl",
    "redis-server": "redis-server",
    "redis-benchmark": "redis-tools",
    "redis-cli": "redis-tools",
    "heaptrack": "heaptrack",
}

# DESIGN.md, "Performance budgets".
BUDGET_FULL = 1.5  # full tracking: slowdown at most this
BUDGET_FULL_VS_HEAPTRACK = 1 / 3  # full adds less than this part of heaptrack's added time
BUDGET_SAMPLED = 1.05  # sampling: slowdown at most this
BUDGET_RECORDING_PER_HOUR = 1 << 20  # bytes per hour at steady state


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- set-up --------------------------------------------------------------


def ensure_tools(install):
    """Installs the workloads' packages that are missing (as root, with
    apt-get); returns the set of commands available afterwards."""
    missing = sorted({PACKAGES[c] for c in PACKAGES if not shutil.which(c)})
    if missing and install:
        if os.geteuid() != 0:
            log("bench: not root, so not installing %s; those workloads are skipped" %
                " ".join(missing))
        else:
            log("bench: installing %s" % " ".join(missing))
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
            if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL, timeout=900) != 0:
                subprocess.call(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                                timeout=900)
                subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL, timeout=900)
    return {c for c in PACKAGES if shutil.which(c)}


def gen_sqlite(d, quick):
    rows = 800000 if quick else 1600000  # ~2.5M / ~5M allocations
    path = os.path.join(d, "build.sql")
    with open(path, "w") as f:
        f.write("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c INTEGER);\n"
                "WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM cnt WHERE x<%d)\n"
                "INSERT INTO t SELECT x, hex(randomblob(12)), abs(random()) %% 100000 FROM cnt;\n"
                "CREATE INDEX tb ON t(b);\nCREATE INDEX tc ON t(c);\n"
                "SELECT count(*), sum(length(b)) FROM t WHERE c < 500;\n" % rows)
    return path


def gen_json(d, quick):
    """~25 MB of JSON objects (12 MB with --quick), deterministic."""
    import json
    import random
    n = 95000 if quick else 190000
    r = random.Random(42)
    path = os.path.join(d, "in.json")
    with open(path, "w") as f:
        f.write("[")
        for i in range(n):
            if i:
                f.write(",")
            json.dump({"id": i, "name": "user%d" % i, "score": r.random() * 1000,
                       "tags": ["t%d" % r.randrange(50) for _ in range(4)],
                       "addr": {"city": "c%d" % r.randrange(1000),
                                "zip": "%05d" % r.randrange(99999)}}, f)
        f.write("]")
    return path


def workloads(d, quick, have):
    """name -> dict(cmd, stdin, needs)."""
    w = {}
    if "sqlite3" in have:
        w["sqlite3"] = dict(cmd=["sqlite3", ":memory:"], stdin=gen_sqlite(d, quick))
    if "jq" in have:
        js = gen_json(d, quick)
        w["jq"] = dict(cmd=["jq", "[.[] | select(.score > 500) | {id, city: .addr.city, "
                            "n: (.tags | length)}] | length", js], stdin=None)
    if "perl" in have:
        rounds = 80 if quick else 160  # 100k small objects each: ~4M / ~8M allocations
        w["perl"] = dict(cmd=["perl", "-e", "my $s = 0; for my $r (1..%d) { my @a = map "
                              "{ {id => $_, s => \"x$_\"} } 1..25000; $s += @a } print \"$s\\n\""
                              % rounds], stdin=None)
    if {"redis-server", "redis-benchmark", "redis-cli"} <= have:
        w["redis"] = dict(server=True, requests=50000 if quick else 200000)
    return w


# ---- running one variant -------------------------------------------------


def variant_cmd(variant, cmd, agent, outdir, tag):
    """(argv, env, recording path or heaptrack prefix) for a variant."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LEAKSCOPE_") or k == "LD_PRELOAD":
            del env[k]
    rec = None
    if variant in ("full", "sampled"):
        rec = os.path.join(outdir, "%s.%s.lsr" % (tag, variant))
        env.update(LD_PRELOAD=agent, LEAKSCOPE_OUT=rec, LEAKSCOPE_QUIET="1")
        if variant == "sampled":
            env["LEAKSCOPE_SAMPLE"] = str(SAMPLE_BYTES)
    elif variant == "heaptrack":
        rec = os.path.join(outdir, "%s.heaptrack" % tag)
        cmd = ["heaptrack", "-o", rec] + cmd
    return cmd, env, rec


def output_size(variant, rec):
    if not rec:
        return None
    if variant == "heaptrack":
        files = [os.path.join(os.path.dirname(rec), f) for f in os.listdir(os.path.dirname(rec))
                 if f.startswith(os.path.basename(rec))]
        return sum(os.path.getsize(f) for f in files) if files else None
    return os.path.getsize(rec) if os.path.exists(rec) else None


def remove_output(variant, rec):
    if not rec:
        return
    d = os.path.dirname(rec)
    for f in os.listdir(d):
        if f.startswith(os.path.basename(rec)):
            os.unlink(os.path.join(d, f))


def spawn(argv, env, stdin=None, log_path=None):
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    ferr = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, env=env, stdin=fin, stdout=subprocess.DEVNULL,
                                stderr=ferr, start_new_session=True)
    finally:
        if stdin:
            fin.close()
        if log_path:
            ferr.close()


def reap(p, timeout):
    """Waits for p, killing its session after timeout seconds; returns
    (wait status, rusage, timed out)."""
    timer_fired = []

    def kill():
        timer_fired.append(1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    t = threading.Timer(timeout, kill)
    t.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        t.cancel()
    p.returncode = 0  # reaped here; keep Popen from waiting again
    return status, ru, bool(timer_fired)


def leakscope_stats(leakscope, rec):
    """(peak live blocks, allocations, sample bytes) from the recording."""
    if not rec or not os.path.exists(rec):
        return None, None, None
    try:
        out = subprocess.run([leakscope, "dump", rec], capture_output=True, text=True,
                             timeout=300).stdout
    except subprocess.TimeoutExpired:
        return None, None, None
    peak = max((int(m) for m in re.findall(r"heap_count=(\d+)", out)), default=None)
    allocs = [int(m) for m in re.findall(r" allocs=(\d+)", out)]
    sample = re.search(r"sample=(\d+)", out)
    return peak, allocs[-1] if allocs else None, int(sample.group(1)) if sample else 0


def run_batch(w, variant, agent, outdir, tag):
    argv, env, rec = variant_cmd(variant, w["cmd"], agent, outdir, tag)
    t0 = time.perf_counter()
    p = spawn(argv, env, w["stdin"], os.path.join(outdir, "stderr.log"))
    status, ru, timed_out = reap(p, RUN_TIMEOUT_S)
    wall = time.perf_counter() - t0
    r = dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, maxrss=ru.ru_maxrss * 1024,
             ok=status == 0 and not timed_out,
             out_bytes=output_size(variant, rec), rec=rec)
    if timed_out:
        r["why"] = "killed after %d s" % RUN_TIMEOUT_S
    elif os.WIFSIGNALED(status):
        r["why"] = "died of %s" % signal.Signals(os.WTERMSIG(status)).name
    elif status:
        r["why"] = "exited with status %d" % os.WEXITSTATUS(status)
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_cli(port, *args, timeout=10):
    try:
        return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args),
                              capture_output=True, text=True, timeout=timeout).stdout.strip()
    except subprocess.TimeoutExpired:
        return ""


def run_redis(w, variant, agent, outdir, tag):
    """redis-server under the variant, loaded by redis-benchmark (not
    instrumented) with a bounded request count."""
    port = free_port()
    server = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--protected-mode", "yes", "--dir", outdir, "--logfile", ""]
    argv, env, rec = variant_cmd(variant, server, agent, outdir, tag)
    p = spawn(argv, env, None, os.path.join(outdir, "stderr.log"))
    res = dict(ok=False, wall=None, maxrss=None, rps=None, out_bytes=None, steady=None, rec=rec)
    deadline = time.time() + 60
    while time.time() < deadline and redis_cli(port, "ping", timeout=2) != "PONG":
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:  # died while starting
            p.returncode = 0
            res["why"] = ("redis-server died of %s" % signal.Signals(os.WTERMSIG(status)).name
                          if os.WIFSIGNALED(status) else
                          "redis-server exited with status %d" % os.WEXITSTATUS(status))
            log("bench: %s (%s)" % (res["why"], variant))
            return res
        time.sleep(0.1)
    try:
        if redis_cli(port, "ping") != "PONG":
            res["why"] = "redis-server did not answer within 60 s"
            log("bench: redis-server (%s) did not answer on 127.0.0.1:%d" % (variant, port))
            return res
        bench = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(w["requests"]),
                 "-c", "20", "-r", "10000", "-t", "set,get,incr,lpush,lpop,hset", "--csv", "-q"]
        # A warm-up pass first (a quarter of the requests, untimed): the server
        # meets its allocation sites there, so the timed pass measures the
        # steady state -- the recording's growth then is what the 1 MB/hour
        # budget is about, not the one-time cost of describing new stacks.
        warm = list(bench)
        warm[warm.index("-n") + 1] = str(max(1, w["requests"] // 4))
        subprocess.run(warm, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        size0, t0 = output_size(variant, rec) or 0, time.perf_counter()
        out = subprocess.run(bench, capture_output=True, text=True, timeout=RUN_TIMEOUT_S).stdout
        res["wall"] = time.perf_counter() - t0
        size1 = output_size(variant, rec) or 0
        rps = []
        for line in out.splitlines():
            cols = [c.strip('"') for c in line.split(",")]
            if len(cols) >= 2 and re.match(r"^[0-9.]+$", cols[1]):
                rps.append(float(cols[1]))
        if rps:
            res["rps"] = statistics.geometric_mean(rps)
        if variant in ("full", "sampled") and res["wall"] > 0:
            res["steady"] = (size1 - size0) / res["wall"] * 3600  # bytes per hour under load
    finally:
        if "why" not in res:
            redis_cli(port, "shutdown", "nosave")
        else:
            os.killpg(p.pid, signal.SIGTERM)
        status, ru, timed_out = reap(p, 60)
    res["maxrss"] = ru.ru_maxrss * 1024
    res["cpu"] = ru.ru_utime + ru.ru_stime
    res["ok"] = res["rps"] is not None and not timed_out
    if res["rps"] is None and "why" not in res:
        res["why"] = "redis-benchmark reported no throughput"
    res["out_bytes"] = output_size(variant, rec)
    return res


# ---- summary -------------------------------------------------------------


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def median_interval(xs):
    """A distribution-free interval for the median of xs: the order
    statistics x(k) and x(n-k+1) for the largest k whose coverage, from the
    binomial distribution, is at least 93% (n=5: min and max, 93.75%).
    (lo, hi, coverage), or None for fewer than 5 values."""
    xs = sorted(x for x in xs if x is not None)
    n = len(xs)
    if n < 5:
        return None
    best = None
    for k in range(1, n // 2 + 1):
        tail = sum(math.comb(n, i) for i in range(k)) / 2 ** n
        cover = 1 - 2 * tail
        if cover < 0.93:
            break
        best = (xs[k - 1], xs[n - k], cover)
    return best


def fmt_interval(iv):
    return "%.2f-%.2f" % (iv[0], iv[1]) if iv else "n/a"


def fmt_ratio(x):
    return "%.2fx" % x if x is not None else "n/a"


def fmt_bytes(x):
    if x is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(x) < 1024 or unit == "GiB":
            return ("%.0f %s" if unit == "B" else "%.1f %s") % (x, unit)
        x /= 1024


def summarise(name, runs, leakscope):
    """runs: variant -> list of results, one per round, in round order."""
    base = runs["base"]
    s = {}
    for v in VARIANTS:
        if v not in runs:
            continue
        rs = runs[v]
        ok = [r for r in rs if r["ok"]]
        row = dict(n=len(ok), failed=len(rs) - len(ok),
                   why=sorted({r["why"] for r in rs if not r["ok"] and r.get("why")}))
        if name == "redis":
            # Slowdown is the throughput ratio, paired by round.
            pairs = [b["rps"] / r["rps"] for b, r in zip(base, rs)
                     if b["ok"] and r["ok"] and r["rps"]]
            row["rps"] = med([r["rps"] for r in ok])
        else:
            pairs = [r["wall"] / b["wall"] for b, r in zip(base, rs) if b["ok"] and r["ok"]]
        row["slowdown"] = med(pairs)
        row["interval"] = median_interval(pairs)
        # The fastest run against the fastest base run: on a shared machine
        # other tenants only ever add time, so the minimum is the steadiest
        # estimate of what the variant itself costs (redis: the best
        # throughput).
        if name == "redis":
            best = [r["rps"] for r in ok if r["rps"]]
            best_base = [b["rps"] for b in base if b["ok"] and b["rps"]]
            row["fastest"] = max(best_base) / max(best) if best and best_base else None
        else:
            best = [r["wall"] for r in ok]
            best_base = [b["wall"] for b in base if b["ok"]]
            row["fastest"] = min(best) / min(best_base) if best and best_base else None
        # CPU time of the process tree (all threads, user + system), paired
        # the same way: what the run cost the machine, where wall time on an
        # idle core can hide a background thread. For redis it is per
        # request: the server's CPU time / requests served.
        if name == "redis":
            cpu = [(r["cpu"] / r["rps"]) / (b["cpu"] / b["rps"]) for b, r in zip(base, rs)
                   if b["ok"] and r["ok"] and r.get("cpu") and b.get("cpu") and r["rps"]
                   and b["rps"]]
        else:
            cpu = [r["cpu"] / b["cpu"] for b, r in zip(base, rs)
                   if b["ok"] and r["ok"] and r.get("cpu") and b.get("cpu")]
        row["cpu_ratio"] = med(cpu)
        row["wall"] = med([r["wall"] for r in ok])
        row["maxrss"] = med([r["maxrss"] for r in ok])
        base_rss = med([r["maxrss"] for r in base if r["ok"]])
        row["rss_ratio"] = row["maxrss"] / base_rss if row["maxrss"] and base_rss else None
        row["out_bytes"] = med([r["out_bytes"] for r in ok])
        if row["out_bytes"] is not None and row["wall"]:
            row["per_hour"] = row["out_bytes"] / row["wall"] * 3600
        row["steady"] = med([r.get("steady") for r in ok])
        if v in ("full", "sampled") and ok:
            peak, allocs, sample = leakscope_stats(leakscope, ok[-1]["rec"])
            row["peak_live"], row["allocs"], row["sample"] = peak, allocs, sample
            # RSS added by the agent per live block: an upper bound (it also
            # counts the site table, stacks and libunwind's caches), and only
            # meaningful when many blocks are live at the peak.
            if v == "full" and peak and peak >= 50000 and row["maxrss"] and base_rss:
                row["bytes_per_live"] = (row["maxrss"] - base_rss) / peak
        s[v] = row
    return s


def table(results):
    lines = []
    hdr = "%-9s %-10s %9s %9s %11s %8s %9s %9s %10s %12s %14s  %s" % (
        "workload", "variant", "median s", "slowdown", "interval", "fastest", "CPU", "peak RSS",
        "RSS ratio", "B/live blk", "output/hour", "notes")
    lines += [hdr, "-" * len(hdr)]
    for name, s in results.items():
        for v in VARIANTS:
            if v not in s:
                continue
            r = s[v]
            notes = []
            if r["failed"]:
                notes.append("%d run(s) failed%s" % (r["failed"], (": " + ", ".join(r["why"]))
                                                     if r["why"] else ""))
            if name == "redis" and r.get("rps"):
                notes.append("%.0f req/s" % r["rps"])
            if r.get("steady") is not None:
                notes.append("steady %s/h" % fmt_bytes(r["steady"]))
            if v in ("full", "sampled") and r.get("allocs"):
                notes.append("%.1fM allocs tracked" % (r["allocs"] / 1e6))
            if v == "sampled" and r.get("sample") == 0:
                notes.append("agent ignored LEAKSCOPE_SAMPLE (full tracking)")
            if v == "heaptrack" and "full" in s and s["full"]["slowdown"] and r["slowdown"] \
                    and r["slowdown"] > 1:
                notes.append("full adds %.0f%% of heaptrack's added time" %
                             (100 * max(s["full"]["slowdown"] - 1, 0) / (r["slowdown"] - 1)))
            lines.append("%-9s %-10s %9s %9s %11s %8s %9s %9s %10s %12s %14s  %s" % (
                name, v, "%.2f" % r["wall"] if r["wall"] else "n/a",
                fmt_ratio(r["slowdown"]) if v != "base" else "1.00x",
                fmt_interval(r.get("interval")) if v != "base" else "-",
                fmt_ratio(r.get("fastest")) if v != "base" else "1.00x",
                fmt_ratio(r.get("cpu_ratio")) if v != "base" else "1.00x", fmt_bytes(r["maxrss"]),
                fmt_ratio(r["rss_ratio"]) if v != "base" else "1.00x",
                "%.0f" % r["bytes_per_live"] if r.get("bytes_per_live") else "n/a",
                fmt_bytes(r.get("per_hour")) if v != "base" else "-", "; ".join(notes)))
    return lines


def spans(row, budget):
    """A note when the median's interval holds the budget: this run cannot
    tell which side of it the variant is on."""
    iv = row.get("interval")
    if iv and iv[0] <= budget <= iv[1]:
        return " (interval %s holds the budget: more rounds or a quieter machine decide)" % \
            fmt_interval(iv)
    return ""


def budgets(results, hour=None):
    """[(ok or None for not measured, text)]"""
    out = []
    for name, s in results.items():
        full, samp, ht = s.get("full"), s.get("sampled"), s.get("heaptrack")
        if full and full["slowdown"]:
            out.append((full["slowdown"] <= BUDGET_FULL, "%s: full %.2fx <= %.2fx%s" %
                        (name, full["slowdown"], BUDGET_FULL, spans(full, BUDGET_FULL))))
        if full and ht and full["slowdown"] and ht["slowdown"]:
            added, ht_added = max(full["slowdown"] - 1, 0), ht["slowdown"] - 1
            if ht_added < 0.05:  # within the noise: a third of it says nothing
                out.append((None, "%s: full adds %.2f; heaptrack adds %.2f, too little to take "
                            "a third of (see the CPU column)" % (name, added, max(ht_added, 0))))
            else:
                out.append((added < ht_added * BUDGET_FULL_VS_HEAPTRACK,
                            "%s: full adds %.2f, less than 1/3 of heaptrack's %.2f" %
                            (name, added, ht_added)))
        if samp and samp["slowdown"]:
            note = " (agent ignored LEAKSCOPE_SAMPLE)" if samp.get("sample") == 0 else ""
            out.append((samp["slowdown"] <= BUDGET_SAMPLED, "%s: sampled %.2fx <= %.2fx%s%s" %
                        (name, samp["slowdown"], BUDGET_SAMPLED, note,
                         spans(samp, BUDGET_SAMPLED))))
        if name == "redis" and full and full.get("steady") is not None and hour is None:
            out.append((full["steady"] < BUDGET_RECORDING_PER_HOUR,
                        "redis: recording grows %s/hour at steady state under load, < 1 MiB "
                        "(the timed pass's growth times 3600/s, before any thinning; --hour "
                        "measures a real hour)" % fmt_bytes(full["steady"])))
    if hour is not None:
        if hour.get("bytes") is not None and hour.get("seconds", 0) >= 3600:
            out.append((hour["bytes"] < BUDGET_RECORDING_PER_HOUR,
                        "redis: recording after %d s of real time under load is %s, < 1 MiB" %
                        (hour["seconds"], fmt_bytes(hour["bytes"]))))
        else:
            out.append((False, "redis: the one-hour recording run failed (%s)" %
                        hour.get("why", "no size")))
    if not any(t.startswith("redis: recording") for _, t in out):
        out.append((None, "recording size at steady state: not measured (needs redis)"))
    return out


def recording_hour(build, tmp):
    """bench/recording_hour.sh for an hour: redis-server under `leakscope
    run` (full tracking, default period and thinning) with redis-benchmark
    bursts every 2 s. {"seconds", "bytes"} at the end, or {"why"}."""
    script = os.path.join(REPO, "bench", "recording_hour.sh")
    log("bench: one hour of redis-server under leakscope (--hour)")
    try:
        r = subprocess.run(["bash", script, build, os.path.join(tmp, "hour"), "3600", "20000"],
                           capture_output=True, text=True, timeout=3600 + 600)
    except subprocess.TimeoutExpired:
        return dict(why="did not finish within 70 minutes")
    for line in r.stdout.splitlines():
        log("bench:   " + line)
    m = re.search(r"^end (\d+) s: (\d+) bytes", r.stdout, re.M)
    if not m:
        return dict(why="no final size in its output")
    return dict(seconds=int(m.group(1)), bytes=int(m.group(2)), lines=r.stdout.splitlines())


# ---- machine description -------------------------------------------------


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def machine(leakscope, note):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    git = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    lines = [
        "host:       %s" % socket.gethostname(),
        "cpu:        %s, nproc %d, load average %s" % (
            cpu, os.cpu_count() or 0, " ".join("%.2f" % x for x in os.getloadavg())),
        "memory:     %s" % mem,
        "kernel:     %s %s" % (platform.system(), platform.release()),
        "leakscope:  %s (git %s)" % (first_line([leakscope, "--version"]), git),
        "sqlite3:    %s" % first_line(["sqlite3", "--version"]),
        "jq:         %s" % first_line(["jq", "--version"]),
        "perl:       %s" % first_line(["perl", "-e", "print $^V"]),
        "redis:      %s" % first_line(["redis-server", "--version"]),
        "heaptrack:  %s" % first_line(["heaptrack", "--version"]),
    ]
    if note:
        lines.append("note:       %s" % note)
    return lines


# ---- main ----------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds, smaller inputs")
    ap.add_argument("-n", "--rounds", type=int, help="rounds of alternating runs (default 5)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a budget is broken")
    ap.add_argument("--build", default=os.environ.get("LK_BUILD",
                                                      os.path.join(REPO, "build", "release")),
                    help="build directory holding leakscope and libleakscope.so")
    ap.add_argument("--only", help="comma-separated workloads (sqlite3,jq,perl,redis)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of %s" % ",".join(VARIANTS))
    ap.add_argument("--no-install", action="store_true", help="never run apt-get")
    ap.add_argument("--results", help="results file (default bench/results/DATE-HOST.txt)")
    ap.add_argument("--note", default="", help="a line about the machine for the results")
    ap.add_argument("--hour", action="store_true",
                    help="also run redis-server under leakscope for one real hour "
                         "(bench/recording_hour.sh) and check the recording budget on it")
    a = ap.parse_args()
    rounds = a.rounds or (2 if a.quick else 5)
    rounds = max(1, min(rounds, 50))
    build = os.path.abspath(a.build)
    agent = os.path.join(build, "libleakscope.so")
    leakscope = os.path.join(build, "leakscope")
    if not (os.path.exists(agent) and os.path.exists(leakscope)):
        log("bench: no leakscope build in %s (make build, or --build DIR)" % build)
        return 2
    variants = [v for v in VARIANTS if v in a.variants.split(",")]
    if "base" not in variants:
        variants.insert(0, "base")

    have = ensure_tools(not a.no_install)
    if "heaptrack" in variants and "heaptrack" not in have:
        log("bench: heaptrack is not installed; its column is skipped")
        variants.remove("heaptrack")
    tmp = tempfile.mkdtemp(prefix="lkbench.")
    try:
        ws = workloads(tmp, a.quick, have)
        if a.only:
            ws = {k: v for k, v in ws.items() if k in a.only.split(",")}
        if not ws:
            log("bench: no workload available")
            return 2
        raw = []
        results = {}
        started = time.time()
        for name, w in ws.items():
            runs = {v: [] for v in variants}
            for rnd in range(rounds):
                for v in variants:  # alternating: base full sampled heaptrack, again ...
                    tag = "%s.%d" % (name, rnd)
                    r = (run_redis if w.get("server") else run_batch)(w, v, agent, tmp, tag)
                    runs[v].append(r)
                    raw.append("%s round %d %-9s ok=%d wall=%s cpu=%s maxrss=%s out=%s rps=%s%s" % (
                        name, rnd, v, r["ok"], "%.3f" % r["wall"] if r["wall"] else "-",
                        "%.3f" % r["cpu"] if r.get("cpu") else "-",
                        r["maxrss"], r["out_bytes"], "%.0f" % r["rps"] if r.get("rps") else "-",
                        " (%s)" % r["why"] if r.get("why") else ""))
                    log("bench: " + raw[-1])
                    if v not in ("full", "sampled") or rnd != rounds - 1:
                        remove_output(v, r["rec"])
            results[name] = summarise(name, runs, leakscope)
            for v in ("full", "sampled"):
                for r in runs.get(v, []):
                    remove_output(v, r["rec"])
        elapsed = time.time() - started
        hour = None
        if a.hour:
            hour = recording_hour(build, tmp) if "redis" in ws else dict(why="redis not installed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    stamp = datetime.datetime.now()
    out = ["leakscope macro benchmark, %s, %d round(s) of alternating runs%s, %.0f s" % (
        stamp.strftime("%Y-%m-%d %H:%M"), rounds, " (--quick)" if a.quick else "", elapsed), ""]
    out += machine(leakscope, a.note) + [""]
    out += table(results) + [""]
    out += ["slowdown: median over rounds of (variant wall time / base wall time of the same "
            "round);",
            "  redis: median of (base requests/s / variant requests/s), geometric mean over "
            "redis-benchmark's tests.",
            "interval: of the paired slowdown ratios, the order statistics that hold the median "
            "with >= 93% confidence",
            "  whatever their distribution (5 rounds: the smallest and the largest ratio).",
            "fastest: the variant's fastest run / base's fastest run (redis: best throughputs); "
            "other tenants only add time,",
            "  so on a noisy machine this is the steadiest estimate; the budgets use the median.",
            "CPU: median over rounds of (variant CPU time / base CPU time of the same round), user + "
            "system of every",
            "  thread of the process tree (redis: the server's CPU time per request); the budgets use "
            "the wall-time slowdown.",
            "peak RSS: ru_maxrss of the process tree (heaptrack: its largest process).",
            "B/live blk: (full peak RSS - base peak RSS) / peak live blocks, an upper bound on "
            "agent bytes per live allocation;",
            "  n/a when fewer than 50k blocks are live at the peak.",
            "output/hour: recording (heaptrack: its data file) bytes / wall time * 3600; "
            "'steady' is the recording's",
            "  growth while redis-benchmark runs (before thinning, which a short run never "
            "reaches); --hour measures a real hour.", ""]
    if hour and hour.get("bytes") is not None:
        out += ["one hour of redis-server under leakscope (bench/recording_hour.sh): %s after %d s"
                % (fmt_bytes(hour["bytes"]), hour["seconds"])]
        out += ["  " + line for line in hour.get("lines", []) if line.strip()] + [""]
    checks = budgets(results, hour)
    out.append("budgets (DESIGN.md):")
    for ok, text in checks:
        out.append("  %-5s %s" % ({True: "ok", False: "FAIL", None: "--"}[ok], text))
    out += ["", "runs:"] + ["  " + r for r in raw]
    text = "\n".join(out) + "\n"
    print(text, end="")
    path = a.results or os.path.join(REPO, "bench", "results", "%s-%s.txt" % (
        stamp.strftime("%Y-%m-%d"), socket.gethostname()))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    log("bench: results written to %s" % path)
    if a.check and any(ok is False for ok, _ in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
