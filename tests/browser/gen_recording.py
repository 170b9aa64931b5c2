#!/usr/bin/env python3
"""Writes a synthetic leakscope recording (docs/FORMAT.md) of a long run with
many sites, to measure the HTML page's size and load time on the scale of a
day-long recording of a real server: by default 86,400 one-second snapshots,
3,000 sites with stacks 12-28 frames deep, 40 sites changing per snapshot,
five of them leaking. Frames point into a module whose file does not exist,
so they are shown as module+offset (symbolization is not what is measured).

    gen_recording.py OUT.lsr [--snapshots N] [--sites N] [--changed N] [--seed N]
"""
import argparse
import random
import struct
import zlib


def uvar(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def bstr(b):
    return uvar(len(b)) + b


def record(t, payload):
    head = struct.pack("<BI", t, len(payload))
    return head + payload + struct.pack("<I", zlib.crc32(head + payload) & 0xFFFFFFFF)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--snapshots", type=int, default=86400)
    ap.add_argument("--sites", type=int, default=3000)
    ap.add_argument("--changed", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    period_ms = 1000
    f = open(a.out, "wb")
    f.write(b"LKSCOPE\0" + struct.pack("<HHI", 1, 2, 0))
    info = b"".join(uvar(v) for v in (4242, 1, 1700000000 * 10**9, 4096, period_ms, 32, 0, 0, 8))
    info += bstr(b"x86_64") + bstr(b"/opt/fake/server") + bstr(b"/opt/fake/server\0--port\x008080\0") + bstr(b"0.1.0")
    f.write(record(1, info))
    base = 0x7F0000000000
    f.write(record(2, uvar(1) + uvar(base) + uvar(base) + uvar(base + 0x400000) + uvar(0) +
                   bstr(b"/opt/fake/libserver.so") + bstr(b"")))
    # Stacks from a fixed call tree so that prefixes are shared.
    fan = [rnd.randrange(0x1000, 0x3FF000) for _ in range(600)]
    for s in range(1, a.sites + 1):
        depth = rnd.randrange(12, 29)
        outer = [fan[i % 8] for i in range(4)]  # main loop frames shared by all
        mid = [fan[8 + rnd.randrange(40)] for _ in range(depth - 8)]
        inner = [fan[48 + rnd.randrange(550)] for _ in range(4)]
        frames = inner + mid + outer  # innermost first
        p = uvar(s) + uvar(0) + uvar(len(frames)) + b"".join(uvar(1) + uvar(o) for o in frames)
        f.write(record(4, p))
    leaking = set(rnd.sample(range(1, a.sites + 1), 5))
    live = {s: rnd.randrange(0, 200000) for s in range(1, a.sites + 1)}
    allocs = {s: 0 for s in live}
    frees = {s: 0 for s in live}
    born = {s: [0] * 24 for s in live}
    alive = {s: [0] * 24 for s in live}
    heap = sum(live.values())
    for i in range(a.snapshots):
        t = i * period_ms * 10**6
        k = (i + 1).bit_length() - 1
        changed = set(rnd.sample(range(1, a.sites + 1), a.changed)) | (leaking if i % 10 == 0 else set())
        if i == 0 or i == a.snapshots - 1:
            changed = set(live)
        entries = bytearray()
        for s in sorted(changed):
            if s in leaking:
                grow = 1000 * 10
                live[s] += grow
                allocs[s] += 10
                born[s][min(k, 23)] += 10
                alive[s][min(k, 23)] += 10
            else:
                d = rnd.randrange(-4000, 4001)
                live[s] = max(0, live[s] + d)
                allocs[s] += 20
                frees[s] += 20
                born[s][min(k, 23)] += 20
            nco = max(j for j in range(24) if born[s][j] or j == 0) + 1
            entries += uvar(s) + uvar(5) + b"".join(uvar(v) for v in (live[s], live[s] // 100 + 1, allocs[s], frees[s], allocs[s] * 100))
            entries += uvar(nco) + b"".join(uvar(born[s][j]) + uvar(alive[s][j]) + uvar(alive[s][j] * 1000) for j in range(nco))
            entries += uvar(0)
        heap = sum(live.values()) if i % 60 == 0 or i == a.snapshots - 1 else heap
        proc = [heap + (50 << 20), heap * 2 + (200 << 20), heap, heap // 100, sum(allocs.values()), sum(frees.values()),
                heap + (10 << 20), 0, heap, 8 << 20, 1 << 20, 0, heap + (30 << 20), 20 << 20, 0, 0, 0, 0, 0, 16 << 30, 12]
        head = uvar(i) + uvar(t) + uvar(i) + uvar(len(proc)) + b"".join(uvar(v) for v in proc)
        if i % 60 == 0 or i == a.snapshots - 1:
            cls = [(1000 + (i // 60 if c == 12 else 0) * 10, (1000 + i) * (1 << c)) for c in range(4, 16)]
            head += uvar(16) + b"".join(uvar(0) + uvar(0) for _ in range(4)) + b"".join(uvar(x) + uvar(y) for x, y in cls)
        else:
            head += uvar(0)
        f.write(record(5, head + bytes(entries) + uvar(0)))
    f.write(record(6, uvar(a.snapshots * period_ms * 10**6) + uvar(0) + uvar(0)))
    f.close()


if __name__ == "__main__":
    main()
