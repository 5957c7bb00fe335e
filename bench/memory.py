"""Memory and compile time over many distinct hot functions.

Creates ``--count`` functions from distinct source (exec of compiled text,
each in its own namespace), runs each until its loop is compiled, checks its
result, and drops it.  Prints the process RSS and the mean compile time per
loop over the first and the last ``--window`` functions, and how many of the
functions' code objects are still alive at the end (after ``gc.collect()``).

    python bench/memory.py --backend llvm --count 2000
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import weakref

import tracejit

SOURCE = '''
def f{k}(n, xs):
    s = 0
    for i in range(n):
        s += xs[i % 4] * {k} + i % {m}
    return s
'''


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * 4096 / 1e6
    except OSError:  # it has just exited
        return 0.0


def llvm_helper() -> object:
    """The LLVM backend's helper process handle, if it has one (never
    loading the backend to find out)."""
    engines = sys.modules.get("tracejit_llvm.engines")
    return getattr(engines.Machine, "worker", None) if engines is not None else None


def run(backend: str, count: int, window: int) -> dict:
    tracejit.set_param(backend=backend, threshold=50, background_compile=0)
    tracejit.enable()
    xs = [1, 2, 3, 4]
    refs = []
    rows = []  # (rss after function k, compile seconds of function k)
    start_rss = rss_mb()
    helper_rss = 0.0  # the LLVM helper process's largest RSS seen
    t0 = time.perf_counter()
    for k in range(count):
        ns: dict = {}
        exec(compile(SOURCE.format(k=k, m=k % 7 + 2), f"<memory f{k}>", "exec"), ns)
        f = ns[f"f{k}"]
        before = tracejit.stats()["compile_time"]
        got = f(400, xs)
        want = sum(xs[i % 4] * k + i % (k % 7 + 2) for i in range(400))
        assert got == want, (k, got, want)
        rows.append((rss_mb(), tracejit.stats()["compile_time"] - before))
        helper = llvm_helper()
        if helper is not None and helper.proc is not None:
            helper_rss = max(helper_rss, rss_mb(helper.proc.pid))
        refs.append(weakref.ref(f.__code__))
        del f, ns
    seconds = time.perf_counter() - t0
    gc.collect()
    alive = sum(r() is not None for r in refs)
    first, last = rows[:window], rows[-window:]
    try:
        from tracejit.lifetime import stats as life
    except ImportError:  # a tracejit from before tracejit.lifetime
        life = {"freed": None, "sweeps": None, "sweep_seconds": 0.0}
    return {
        "backend": backend, "functions": count, "seconds": round(seconds, 2),
        "loops_compiled": tracejit.stats()["loops_compiled"],
        "rss_start_mb": round(start_rss, 1),
        "rss_after_first_window_mb": round(first[-1][0], 1),
        "rss_end_mb": round(rows[-1][0], 1),
        "compile_ms_first_window": round(1000 * sum(r[1] for r in first) / len(first), 2),
        "compile_ms_last_window": round(1000 * sum(r[1] for r in last) / len(last), 2),
        "code_objects_alive_at_end": alive,
        "records_freed": life["freed"], "sweeps": life["sweeps"],
        "sweep_ms_total": round(1000 * life["sweep_seconds"], 1),
        "llvm_helper_rss_max_mb": round(helper_rss, 1),
        "llvm_helpers_started": getattr(llvm_helper(), "started", 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--window", type=int, default=100)
    args = ap.parse_args()
    print(json.dumps(run(args.backend, args.count, args.window), indent=1))


if __name__ == "__main__":
    main()
