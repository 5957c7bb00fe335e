"""Benchmark runner: plain CPython against tracejit, side by side.

    python bench/run.py [--quick] [--runs N] [--size full|quick] [--backends llvm,reference]
                        [--only a,b]

Every measurement is a fresh child process; plain and JIT runs alternate so
that machine noise hits both alike.  Reported: median wall time of the
benchmark's main() per mode, speedup (plain / JIT), time to the first entry
into compiled code, compile time, traces, bridges, guard failures, and
whether the result matched the known answer.  Results also go to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCHMARKS = ["mandelbrot", "intloop", "matmul", "spectral_norm", "text_dict", "cold"]


def child(name: str, mode: str, backend: str, size: str) -> None:
    sys.path.insert(0, HERE)
    info: dict = {"name": name, "mode": mode, "backend": backend}
    if mode == "jit":
        import tracejit

        tracejit.set_param(backend=backend)
        tracejit.enable()
    module = __import__(name)
    t0 = time.perf_counter()
    result = module.main(size)
    info["seconds"] = time.perf_counter() - t0
    info["ok"] = result == module.EXPECTED[size]
    info["result"] = repr(result)
    # a second run in the same process: compiled code is already there
    t1 = time.perf_counter()
    again = module.main(size)
    info["steady_seconds"] = time.perf_counter() - t1
    info["ok"] = info["ok"] and again == result
    if mode == "jit":
        import tracejit

        tracejit.disable()
        st = tracejit.stats()
        info["stats"] = {k: st[k] for k in ("loops_compiled", "bridges_compiled",
                                             "guard_failures", "compile_time", "trace_time",
                                             "entries", "aborts", "blacklisted")}
        first = st.get("first_entry")
        info["warmup"] = (first - t0) if first else None
        times = st["compile_times"]
        info["compile_median_ms"] = statistics.median(times) * 1000 if times else 0.0
        info["compile_max_ms"] = max(times) * 1000 if times else 0.0
        info["traces"] = len(times)
    print(json.dumps(info))


def run_child(name: str, mode: str, backend: str, size: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--mode", mode,
           "--backend", backend, "--size", size]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {p.returncode}: {tail}"}
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"bad child output: {p.stdout[-200:]!r}"}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child")
    ap.add_argument("--mode", default="plain")
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--backends", default="llvm")
    ap.add_argument("--size", default="full")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"))
    args = ap.parse_args()
    if args.child:
        child(args.child, args.mode, args.backend, args.size)
        return 0
    # --quick: the full workloads, fewer runs (under a minute); --size quick: small ones
    size = args.size
    runs = args.runs or (2 if args.quick else 5)
    names = [n for n in BENCHMARKS if not args.only or n in args.only.split(",")]
    backends = args.backends.split(",")
    modes = [("plain", "-")] + [("jit", b) for b in backends]
    total = len(names) * runs * len(modes)
    done = 0
    rows = []
    t_start = time.perf_counter()
    for name in names:
        samples: dict[tuple[str, str], list[dict]] = {m: [] for m in modes}
        for _ in range(runs):
            for mode, backend in modes:
                samples[(mode, backend)].append(run_child(name, mode, backend, size))
                done += 1
                bar = "#" * (30 * done // total)
                print(f"\r[{bar:<30}] {done}/{total} {name:<14}", end="", file=sys.stderr)
        rows.append(summarize(name, samples, modes))
    print(file=sys.stderr)
    report(rows, backends, size, runs, time.perf_counter() - t_start)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"python": sys.version, "platform": platform.platform(), "cpu": cpu_model(),
                   "size": size, "runs": runs, "rows": rows}, f, indent=1)
    print(f"\nresults written to {os.path.relpath(args.json)}")
    return 0 if all(r["ok"] for r in rows) else 1


def summarize(name: str, samples: dict, modes: list) -> dict:
    row: dict = {"name": name, "ok": True, "modes": {}}
    plain = None
    plain_steady = None
    for mode, backend in modes:
        got = samples[(mode, backend)]
        errors = [s["error"] for s in got if "error" in s]
        good = [s for s in got if "error" not in s]
        key = "plain" if mode == "plain" else backend
        if errors or not good:
            row["modes"][key] = {"error": errors[0] if errors else "no run"}
            row["ok"] = False
            continue
        times = [s["seconds"] for s in good]
        entry = {"median": statistics.median(times), "min": min(times), "max": max(times),
                 "steady": statistics.median(s["steady_seconds"] for s in good),
                 "ok": all(s["ok"] for s in good)}
        row["ok"] &= entry["ok"]
        if mode == "plain":
            plain = entry["median"]
            plain_steady = entry["steady"]
        else:
            last = good[-1]
            entry.update({k: last.get(k) for k in ("stats", "warmup", "compile_median_ms",
                                                    "compile_max_ms", "traces")})
            entry["speedup"] = plain / entry["median"] if plain else None
            entry["steady_speedup"] = plain_steady / entry["steady"] if plain else None
        row["modes"][key] = entry
    return row


def report(rows: list, backends: list, size: str, runs: int, elapsed: float) -> None:
    print(f"\ntracejit benchmarks ({size} workloads, median of {runs} runs, "
          f"Python {platform.python_version()}, {cpu_model()})\n")
    head = f"{'benchmark':<14} {'plain s':>8}"
    for b in backends:
        head += f" | {b + ' s':>9} {'speedup':>8} {'2nd run':>8} {'warmup s':>8} " \
                f"{'compile ms':>14} {'traces':>6} {'bridges':>7} {'guard fails':>11}"
    print(head)
    print("-" * len(head))
    for r in rows:
        p = r["modes"].get("plain", {})
        line = f"{r['name']:<14} "
        line += f"{p['median']:8.3f}" if "median" in p else f"{'FAILED':>8}"
        for b in backends:
            e = r["modes"].get(b, {})
            if "error" in e:
                line += f" | JIT FAILED: {e['error'][:70]}"
                continue
            st = e.get("stats") or {}
            warm = e.get("warmup")
            comp = f"{e['compile_median_ms']:.1f}/{e['compile_max_ms']:.1f}"
            line += (f" | {e['median']:9.3f} {e['speedup']:7.1f}x {e['steady_speedup']:7.1f}x "
                     f"{warm if warm is None else round(warm, 3)!s:>8} {comp:>14} "
                     f"{e['traces']:>6} {st.get('bridges_compiled', 0):>7} "
                     f"{st.get('guard_failures', 0):>11}")
            if not e["ok"]:
                line += "  WRONG RESULT"
        if not p.get("ok", True):
            line += "  WRONG PLAIN RESULT"
        print(line)
    print(f"\nspeedup = plain / JIT on the first run of main() in a fresh process (tracing "
          f"and compiling included); 2nd run = the same on a second run in that process; "
          f"compile ms = median/max per compile; warmup = time to the first entry into "
          f"compiled code; total {elapsed:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
