"""Memory over a long run: a benchmark's ``main()`` called again and again
under the JIT, the process RSS printed after each group of calls, so that
growth after the warm-up shows (issue 10: no leaks).

    python bench/long_run.py [--bench richards] [--groups 10] [--calls 20]
                             [--backend tiered]

``--backend none`` runs plain CPython for comparison.  Prints one JSON line
per group (calls so far, seconds, RSS in MB) and a summary line.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="richards")
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--backend", default="tiered", help="a backend, 'tiered', or 'none'")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    bench = importlib.import_module(args.bench)
    if args.backend != "none":
        import tracejit

        if args.backend != "tiered":
            tracejit.set_param(backend=args.backend)
        tracejit.enable()
    rows = []
    t0 = time.perf_counter()
    for g in range(args.groups):
        for _ in range(args.calls):
            bench.main()
        rows.append({"calls": (g + 1) * args.calls, "seconds": round(time.perf_counter() - t0, 2),
                     "rss_mb": round(rss_mb(), 1), "gc_objects": len(gc.get_objects())})
        print(json.dumps(rows[-1]), flush=True)
    warm = rows[min(1, len(rows) - 1)]
    print(json.dumps({"bench": args.bench, "backend": args.backend,
                      "rss_after_warmup_mb": warm["rss_mb"], "rss_end_mb": rows[-1]["rss_mb"],
                      "growth_after_warmup_mb": round(rows[-1]["rss_mb"] - warm["rss_mb"], 1),
                      "gc_objects_after_warmup": warm["gc_objects"],
                      "gc_objects_end": rows[-1]["gc_objects"]}))


if __name__ == "__main__":
    main()
