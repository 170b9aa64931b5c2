#!/usr/bin/env python3
"""Time any command uninstrumented and under leakscope, side by side.

    bench/macro/compare.py [-n ROUNDS] [--build DIR] [--heaptrack] -- CMD ARGS...

Runs CMD uninstrumented, with the agent preloaded in full tracking and in
sampled mode (LEAKSCOPE_SAMPLE=524288), and optionally under heaptrack,
ROUNDS times each in a fresh random order per round, and prints for each
variant the geometric mean of the paired ratios of CPU time (user + system
of the process and its children) and of wall time to the uninstrumented run
of the same round, with a 95% interval (t distribution over the rounds'
log ratios). CPU time is steadier than wall time on a shared machine; the
agent's task runs beside the program, so it counts in CPU time and may not
in wall time. The agent is preloaded into CMD itself (the agent stays
dormant in the children of a process it records, so a shell wrapper would
measure the shell). For the method and its limits: docs/BENCHMARKS.md.
"""
import argparse
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

# two-sided 97.5% quantiles of Student's t, by degrees of freedom
T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
        10: 2.23, 12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04, 60: 2.00}


def t975(df):
    best = max(k for k in T975 if k <= df) if df >= 1 else 1
    return T975[best]


def run_once(cmd, env, out_dir):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = time.monotonic()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for f in os.listdir(out_dir):
        os.unlink(os.path.join(out_dir, f))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p.returncode, cpu, t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--rounds", type=int, default=8)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "build", "release"))
    ap.add_argument("--heaptrack", action="store_true", help="also run under heaptrack")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given (put it after --)")
    if a.rounds < 2:
        ap.error("at least 2 rounds are needed for an interval")
    lib = os.path.abspath(os.path.join(a.build, "libleakscope.so"))
    if not os.path.exists(lib):
        sys.exit("compare.py: %s does not exist: run make first" % lib)
    if shutil.which(cmd[0]) is None and not os.path.exists(cmd[0]):
        sys.exit("compare.py: %s: command not found" % cmd[0])
    out_dir = tempfile.mkdtemp(prefix="lk-compare-")
    base_env = dict(os.environ)
    base_env.pop("LD_PRELOAD", None)
    agent_env = dict(base_env, LD_PRELOAD=lib, LEAKSCOPE_QUIET="1",
                     LEAKSCOPE_OUT=os.path.join(out_dir, "r.%p.lsr"))
    variants = [("base", cmd, base_env), ("full", cmd, agent_env),
                ("sampled", cmd, dict(agent_env, LEAKSCOPE_SAMPLE="524288"))]
    if a.heaptrack:
        if shutil.which("heaptrack") is None:
            sys.exit("compare.py: heaptrack is not installed")
        variants.append(("heaptrack", ["heaptrack", "-o", os.path.join(out_dir, "ht")] + cmd,
                         base_env))
    res = {name: [] for name, _, _ in variants}
    try:
        for r in range(a.rounds):
            order = variants[:]
            random.shuffle(order)
            for name, c, env in order:
                rc, cpu, wall = run_once(c, env, out_dir)
                res[name].append((cpu, wall, rc))
            print("round %d/%d done" % (r + 1, a.rounds), file=sys.stderr)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    base = res["base"]
    base_rc = {x[2] for x in base}
    print("command: %s" % " ".join(cmd))
    print("base: CPU median %.3f s, wall median %.3f s, exit status %s" % (
        sorted(x[0] for x in base)[len(base) // 2], sorted(x[1] for x in base)[len(base) // 2],
        ",".join(str(s) for s in sorted(base_rc))))
    print("%-10s %-24s %-24s %s" % ("variant", "CPU (95% interval)", "wall (95% interval)", "notes"))
    for name, _, _ in variants[1:]:
        cols = []
        for k in (0, 1):
            lr = [math.log(res[name][i][k] / base[i][k]) for i in range(a.rounds)
                  if base[i][k] > 0 and res[name][i][k] > 0]
            if len(lr) < 2:
                cols.append("n/a")
                continue
            m = sum(lr) / len(lr)
            sd = math.sqrt(sum((x - m) ** 2 for x in lr) / (len(lr) - 1))
            h = t975(len(lr) - 1) * sd / math.sqrt(len(lr))
            cols.append("%.3fx (%.3f-%.3f)" % (math.exp(m), math.exp(m - h), math.exp(m + h)))
        rcs = {x[2] for x in res[name]}
        note = "" if rcs == base_rc else "exit status differs: %s" % sorted(rcs)
        print("%-10s %-24s %-24s %s" % (name, cols[0], cols[1], note))


if __name__ == "__main__":
    main()
