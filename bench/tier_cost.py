"""What tier-2 (LLVM) work costs the main thread, with the same machine code
running there in every mode.

    python bench/tier_cost.py window BENCH CALLS RUNS [modes]
        every compiled loop of BENCH promoted at once after two warm-up
        main() calls, then CALLS more main() calls timed, against the same
        calls without promotion.  modes (default none,preload,load,sync):
        none     no promotion
        preload  LLVM loaded before the clock starts, compiled on the compiler thread
        load     LLVM loaded inside the timed window (compiler thread)
        sync     LLVM loaded before, compiled on the main thread (tier_async=0)

    python bench/tier_cost.py whole BENCH[,BENCH...] RUNS TIER_UP_MS [modes]
        two main() calls in total; modes (default x86,bg,sync):
        x86   tiers=x86_64 only
        bg    tiers=x86_64,llvm, tier 2 compiled on the compiler thread and
              thrown away (the x86_64 code stays)
        sync  the same on the main thread
        tiered  the real thing (tier-2 code installed)

Medians over RUNS alternating fresh processes; full workloads.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_COMMON = r'''
import sys, time, json
sys.path.insert(0, %(here)r)
import tracejit
from tracejit import tiers
from tracejit import runtime as rt
from tracejit.params import stats
'''

WINDOW = _COMMON + r'''
name, mode, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
tracejit.set_param(tiers="x86_64,llvm", tier_up_ms=10**9, tier_async=int(mode != "sync"))
tracejit.enable()
m = __import__(name)
m.main("full"); m.main("full")
if mode in ("preload", "sync"):
    tiers.chain()[1].load()
    # and the LLVM helper process ready (it loads LLVM on its own core)
    engines = sys.modules.get("tracejit_llvm.engines")
    w = engines.Machine.worker if engines is not None else None
    while w is not None and not w.ready and w.proc is not None:
        with w.lock:
            w._is_ready(w._process())
        time.sleep(0.01)
t0 = time.perf_counter()
if mode != "none":
    for info in list(rt.runtime.loops.values()):
        if info.versions:
            tiers.promote(rt.runtime, info)
for _ in range(calls):
    m.main("full")
t1 = time.perf_counter()
tracejit.wait_for_compiler()
print(json.dumps({"seconds": t1 - t0, "ups": stats.tier_ups,
                  "llvm": stats.tier_compile_times.get("llvm", [])}))
'''

WHOLE = _COMMON + r'''
name, mode, up = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "x86":
    tracejit.set_param(tiers="x86_64")
else:
    tracejit.set_param(tiers="x86_64,llvm", tier_up_ms=up, tier_async=int(mode != "sync"))
if mode in ("bg", "sync"):
    original = rt.Runtime.backend_compile

    def compile_and_discard(self, traces, tier=None):
        if tier is None or tier.index == 0:
            return original(self, traces, tier)
        t0 = time.perf_counter()
        tier.backend.compile_many(traces)
        stats.tier_compile_times.setdefault("llvm", []).append(time.perf_counter() - t0)
        raise RuntimeError("thrown away (measurement)")

    rt.Runtime.backend_compile = compile_and_discard
tracejit.enable()
m = __import__(name)
t0 = time.perf_counter()
m.main("full"); m.main("full")
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "ups": stats.tier_ups,
                  "llvm": stats.tier_compile_times.get("llvm", [])}))
'''


def child(script: str, args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]))
    env.pop("TRACEJIT_BACKEND", None)
    p = subprocess.run([sys.executable, "-c", script % {"here": HERE}, *args],
                       capture_output=True, text=True, env=env, timeout=900)
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def report(label: str, modes: list[str], results: dict[str, list[dict]]) -> None:
    base = statistics.median(r["seconds"] for r in results[modes[0]])
    print(label)
    for mode in modes:
        rs = results[mode]
        t = statistics.median(r["seconds"] for r in rs)
        ups = statistics.median(r["ups"] for r in rs)
        wall = statistics.median(sum(r["llvm"]) for r in rs) * 1000
        lost = f"{1000 * (t - base):+6.0f} ms ({(t / base - 1) * 100:+5.1f}%)"
        print(f"  {mode:8s} {t:7.3f} s  {lost}  tier-ups {ups:.0f}  llvm compile wall "
              f"{wall:.0f} ms", flush=True)


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] not in ("window", "whole"):
        raise SystemExit(__doc__)
    if argv[0] == "window":
        name, calls, runs = argv[1], argv[2], int(argv[3])
        modes = (argv[4] if len(argv) > 4 else "none,preload,load,sync").split(",")
        results: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(runs):
            for mode in modes:
                results[mode].append(child(WINDOW, [name, mode, calls]))
        report(f"{name}: {calls} main() calls after promoting every loop", modes, results)
        return
    names, runs, up = argv[1].split(","), int(argv[2]), argv[3]
    modes = (argv[4] if len(argv) > 4 else "x86,bg,sync").split(",")
    for name in names:
        results = {m: [] for m in modes}
        for _ in range(runs):
            for mode in modes:
                results[mode].append(child(WHOLE, [name, mode, up]))
        report(f"{name}: two main() calls, tier_up_ms={up}", modes, results)


if __name__ == "__main__":
    main(sys.argv[1:])
