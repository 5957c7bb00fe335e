"""Benchmark runner: plain CPython against tracejit, side by side.

    python bench/run.py [--quick] [--runs N] [--size full|quick] [--backends llvm,reference]
                        [--only a,b] [--json PATH]

Every measurement is a fresh child process; plain and JIT runs alternate so
that machine noise hits both alike.  Reported: median (and min-max) wall time
of the benchmark's main() per mode, speedup (plain / JIT), time to the first
entry into compiled code, compile time, traces, bridges, guard failures, and
whether the result matched the known answer.  A JIT run that crashes, or a
tracejit that does not import, shows as "JIT FAILED: <reason>" in its row.
Results also go to JSON (default bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCHMARKS = ["mandelbrot", "intloop", "matmul", "spectral_norm", "text_dict", "cold"]
CHILD_TIMEOUT = 900  # seconds for one child process


def jsonable(value):
    """`value` with every dict key a string and every leaf JSON-encodable."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def jit_stats(tracejit, t0: float) -> dict:
    """What the child reports about the JIT; any key of stats() may be missing."""
    st = tracejit.stats()
    if not isinstance(st, dict):
        return {"stats": jsonable(st)}
    info: dict = {"stats": jsonable(st)}
    first = number(st.get("first_entry"))
    info["warmup"] = (first - t0) if first else None
    times = [t for t in (st.get("compile_times") or []) if number(t) is not None]
    loops = number(st.get("loops_compiled"))
    total = number(st.get("compile_time"))
    info["compile_median_ms"] = statistics.median(times) * 1000 if times else None
    info["compile_max_ms"] = max(times) * 1000 if times else None
    info["compile_per_loop_ms"] = (total * 1000 / max(1, loops or 0)
                                   if total is not None else None)
    info["traces"] = len(times) if times else loops
    return info


def child(name: str, mode: str, backend: str, size: str) -> None:
    """Run one benchmark in this (fresh) process; print one JSON line."""
    sys.path.insert(0, HERE)
    info: dict = {"name": name, "mode": mode, "backend": backend}
    tracejit = None
    if mode == "jit":
        try:
            import tracejit

            tracejit.set_param(backend=backend)
            tracejit.enable()
        except Exception as e:
            traceback.print_exc()
            info["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(info))
            return
    module = __import__(name)
    try:
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
    except Exception as e:
        traceback.print_exc()
        info["error"] = f"{type(e).__name__} in main(): {e}"
        print(json.dumps(info))
        return
    if tracejit is not None:
        try:
            tracejit.disable()
            info.update(jit_stats(tracejit, t0))
        except Exception as e:
            traceback.print_exc()
            info["stats_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(info))


def failure_reason(p: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in p.stderr.splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
    if p.returncode < 0:
        try:
            sig = signal.Signals(-p.returncode).name
        except ValueError:
            sig = f"signal {-p.returncode}"
        return f"killed by {sig}" + (f": {fatal[0]}" if fatal else "")
    return f"exit {p.returncode}: {(fatal or lines or ['no output'])[-1]}"


def run_child(name: str, mode: str, backend: str, size: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--mode", mode,
           "--backend", backend, "--size", size]
    path = [ROOT, os.path.join(ROOT, "backends")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONFAULTHANDLER="1")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    if p.returncode != 0:
        return {"error": failure_reason(p)}
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
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="plain", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="llvm", help="JIT backend (default llvm)")
    ap.add_argument("--backends", default="",
                    help="comma-separated backends to compare, e.g. llvm,reference")
    ap.add_argument("--size", default="full", choices=["full", "quick"],
                    help="workload size (default full)")
    ap.add_argument("--quick", action="store_true",
                    help="2 runs per mode instead of 5 (the full workloads; about half a minute)")
    ap.add_argument("--runs", type=int, default=0, help="runs per mode (default 5)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"),
                    help="where to write the results (default bench/results/latest.json)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.mode, args.backend, args.size)
        return 0
    # --quick: the full workloads, fewer runs; --size quick: small workloads
    size = args.size
    runs = args.runs or (2 if args.quick else 5)
    wanted = [n for n in args.only.split(",") if n]
    unknown = [n for n in wanted if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = [n for n in BENCHMARKS if not wanted or n in wanted]
    backends = (args.backends or args.backend).split(",")
    modes = [("plain", "-")] + [("jit", b) for b in backends]
    total = len(names) * runs * len(modes)
    done = 0
    rows = []
    t_start = time.perf_counter()
    for name in names:
        samples: dict[tuple[str, str], list[dict]] = {m: [] for m in modes}
        for _ in range(runs):
            for mode, backend in modes:
                label = "plain" if mode == "plain" else backend
                print(f"\r[{'#' * (30 * done // total):<30}] {done}/{total} {name} ({label})"
                      f"{' ' * 10}", end="", file=sys.stderr, flush=True)
                samples[(mode, backend)].append(run_child(name, mode, backend, size))
                done += 1
        rows.append(summarize(name, samples, modes))
    print(f"\r[{'#' * 30}] {done}/{total} done{' ' * 30}", file=sys.stderr)
    report(rows, backends, size, runs, time.perf_counter() - t_start)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"python": sys.version, "implementation": platform.python_implementation(),
                   "platform": platform.platform(), "machine": platform.machine(),
                   "cpu": cpu_model(), "cpus": os.cpu_count(), "size": size, "runs": runs,
                   "backends": backends, "rows": rows}, f, indent=1)
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
            entry.update({k: last.get(k) for k in (
                "stats", "stats_error", "warmup", "compile_median_ms", "compile_max_ms",
                "compile_per_loop_ms", "traces")})
            entry["speedup"] = plain / entry["median"] if plain else None
            entry["steady_speedup"] = plain_steady / entry["steady"] if plain_steady else None
        row["modes"][key] = entry
    return row


def fmt(value, spec: str, width: int, suffix: str = "") -> str:
    """`value` formatted with `spec` (and `suffix`) right-aligned in `width`; "-" if None."""
    if value is None:
        text = "-"
    else:
        try:
            text = format(value, spec) + suffix
        except (TypeError, ValueError):
            text = str(value)
    return f"{text:>{width}}"


def report(rows: list, backends: list, size: str, runs: int, elapsed: float) -> None:
    print(f"\ntracejit benchmarks ({size} workloads, median of {runs} runs, "
          f"Python {platform.python_version()}, {cpu_model()})\n")
    head = f"{'benchmark':<14} {'plain s':>8} {'min-max':>11}"
    for b in backends:
        head += (f" | {b + ' s':>9} {'min-max':>11} {'speedup':>8} {'2nd run':>8} "
                 f"{'warmup s':>8} {'compile ms':>11} {'traces':>6} {'bridges':>7} "
                 f"{'guard fails':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        p = r["modes"].get("plain", {})
        line = f"{r['name']:<14} "
        if "median" in p:
            line += f"{p['median']:8.3f} {p['min']:5.2f}-{p['max']:<5.2f}"
        else:
            line += f"{'FAILED':>8} {'':>11}"
        for b in backends:
            e = r["modes"].get(b, {})
            if "error" in e:
                line += f" | JIT FAILED: {e['error'][:100]}"
                continue
            st = e.get("stats") if isinstance(e.get("stats"), dict) else {}
            if not e.get("traces"):
                comp = "-"
            elif e.get("compile_median_ms") is not None:
                comp = f"{e['compile_median_ms']:.1f}/{e['compile_max_ms']:.1f}"
            else:
                comp = fmt(e.get("compile_per_loop_ms"), ".1f", 0)
            line += (f" | {e['median']:9.3f} {e['min']:5.2f}-{e['max']:<5.2f} "
                     f"{fmt(e.get('speedup'), '.1f', 8, 'x')} "
                     f"{fmt(e.get('steady_speedup'), '.1f', 8, 'x')} "
                     f"{fmt(e.get('warmup'), '.3f', 8)} {comp:>11} "
                     f"{fmt(e.get('traces'), 'd', 6)} "
                     f"{fmt(number(st.get('bridges_compiled')), 'd', 7)} "
                     f"{fmt(number(st.get('guard_failures')), 'd', 11)}")
            if not e["ok"]:
                line += "  WRONG RESULT"
            if e.get("stats_error"):
                line += f"  (stats() failed: {e['stats_error'][:60]})"
        if "error" in p:
            line += f"  PLAIN FAILED: {p['error'][:100]}"
        elif not p.get("ok", True):
            line += "  WRONG PLAIN RESULT"
        print(line)
    print(f"\nspeedup = plain / JIT on the first run of main() in a fresh process (tracing "
          f"and compiling included); 2nd run = the same on a second run in that process; "
          f"min-max = fastest and slowest first runs; compile ms = median/max per compile; "
          f"warmup = time to the first entry into compiled code; total {elapsed:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
