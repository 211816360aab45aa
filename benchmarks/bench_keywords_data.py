"""How long the eSpeak NG keyword data set takes to make, and where the time goes.

    .venv/bin/python benchmarks/bench_keywords_data.py [--per-class 300 40 100] [--jobs 2] [--seed 0]

Generates the set for the given clips per class (train, val, test) with ``jobs`` parallel
espeak-ng processes, never from the cache (``keywords_data.generate``), and prints: clips, wall
seconds, clips per second, CPU seconds of this process and of the espeak-ng children (user +
system, from ``resource.getrusage``), and the load average before and after (the machine may be
shared: wall time then says more about the neighbours than about the code; CPU seconds do not).
Then a second, cached ``load`` of the same set in a temporary directory: its wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from picoml.tasks import keywords_data as K


def _cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, nargs=3, default=list(K.KeywordsConfig().per_class))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = K.KeywordsConfig(seed=a.seed, per_class=tuple(a.per_class))
    load0 = os.getloadavg()[0]
    (c0, k0), t0 = _cpu(), time.perf_counter()
    data = K.generate(cfg, jobs=a.jobs)
    wall = time.perf_counter() - t0
    c1, k1 = _cpu()
    n = len(data.x)
    print(f"{n} clips ({cfg.per_class} a class, 12 classes), jobs {a.jobs}, {data.espeak_version}")
    print(f"wall {wall:.1f} s ({n / wall:.0f} clips/s); CPU: python {c1 - c0:.1f} s, espeak-ng {k1 - k0:.1f} s")
    print(f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    with tempfile.TemporaryDirectory() as d:
        K.save(data, K.cache_file(d, data.digest))
        t0 = time.perf_counter()
        hit = K.load(cfg, cache_dir=d)
        print(f"cached load: {time.perf_counter() - t0:.2f} s (from cache: {hit.from_cache})")


if __name__ == "__main__":
    main()
