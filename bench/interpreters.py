"""The example interpreters' benchmarks: plain CPython, tracejit, PyPy, and
what the JIT hints cost with the JIT off.

    python bench/interpreters.py [--runs N] [--size full|quick] [--backend B]
                                 [--only bf,minilang,minilang-fib] [--no-pypy] [--json PATH]

Each benchmark is a guest program of examples/ run by its interpreter:

* **bf**: examples/brainfuck/programs/cubes.b (the cubes of 1..64 modulo
  256, by repeated addition, printed in decimal);
* **minilang**: examples/minilang/programs/loops.ml (an ASCII Mandelbrot
  set, nested float loops);
* **minilang-fib**: examples/minilang/programs/fib.ml (recursive calls and
  returns: the VM's frame switching and promoted return addresses).

Columns, each measured in fresh child processes that alternate run by run:

* **CPython**: the interpreter as written, with its hints, JIT off;
* **no-op hints**: the same with ``tracejit`` replaced by a stub module whose
  ``JitDriver`` methods are ``pass`` and whose ``promote``/``elidable``/...
  return their argument: the hints' cost with the JIT off is CPython over
  this, as a percentage;
* **tracejit**: ``tracejit.enable()`` (the default tiers, or ``--backend``);
* **PyPy**: the interpreter under PyPy (with the stub hints), when
  ``.deps/pypy/run-pypy3``, ``$TRACEJIT_PYPY`` or a ``pypy3`` on the PATH
  exists (see bench/run.py).

Each child times the benchmark twice in one process: the first run (tracing
and compiling included) and the second (steady state).  Reported: medians,
the speedup over CPython (CPython's time over the column's), and whether
every column printed the same output (a SHA-256 of it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from run import cpu_model, probe_pypy, run_process, set_timeout, source_state  # noqa: E402

# name -> (interpreter, program, arguments by size, about)
BENCHMARKS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "bf": ("brainfuck", "cubes.b", {"full": chr(64), "quick": chr(20)},
           "cubes modulo 256 by nested counting loops"),
    "minilang": ("minilang", "loops.ml", {"full": [72, 250], "quick": [30, 60]},
                 "ASCII Mandelbrot, nested float loops"),
    "minilang-fib": ("minilang", "fib.ml", {"full": [25], "quick": [18]},
                     "recursive fib: calls and returns"),
}
COLUMNS = ["plain", "stub", "jit", "pypy"]
TITLES = {"plain": "CPython", "stub": "no-op hints", "jit": "tracejit", "pypy": "PyPy"}


# ------------------------------------------------------------------- child


def install_stub_hints() -> None:
    """A ``tracejit`` module of empty hints, in place of the real one."""
    stub = types.ModuleType("tracejit")

    class JitDriver:
        def __init__(self, **options: Any) -> None:
            pass

        def jit_merge_point(self, **variables: Any) -> None:
            pass

        def can_enter_jit(self, **variables: Any) -> None:
            pass

    def promote(value: Any) -> Any:
        return value

    def hint(func: Any) -> Any:
        return func

    def we_are_jitted() -> bool:
        return False

    stub.JitDriver = JitDriver
    stub.promote = promote
    stub.elidable = stub.dont_look_inside = stub.unroll_safe = hint
    stub.we_are_jitted = we_are_jitted
    stub.JitHintError = TypeError
    sys.modules["tracejit"] = stub


def workload(name: str, size: str) -> Callable[[], str]:
    """The benchmark as a function returning the guest program's output."""
    interpreter, program, sizes, _ = BENCHMARKS[name]
    with open(os.path.join(ROOT, "examples", interpreter, "programs", program)) as f:
        source = f.read()
    data = sizes[size]
    if interpreter == "brainfuck":
        from examples.brainfuck import bf

        return lambda: bf.run(source, data)
    from examples.minilang import vm

    return lambda: vm.run(source, list(data))


def child(name: str, mode: str, backend: str, size: str) -> None:
    """One measurement in this fresh process; one JSON line on stdout."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    info: dict[str, Any] = {"name": name, "mode": mode}
    tracejit = None
    if mode in ("stub", "pypy"):
        install_stub_hints()
    elif mode == "jit":
        import tracejit

        if backend:
            tracejit.set_param(backend=backend)
        tracejit.enable()
    run = workload(name, size)
    try:
        t0 = time.perf_counter()
        first = run()
        info["seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        second = run()
        info["steady_seconds"] = time.perf_counter() - t1
    except Exception as e:  # reported in the table, not a crash of the runner
        info["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(info))
        return
    info["output"] = hashlib.sha256(first.encode()).hexdigest()[:16]
    info["output_chars"] = len(first)
    info["same_twice"] = first == second
    if tracejit is not None:
        tracejit.disable()
        st = tracejit.stats()
        info["stats"] = {k: st[k] for k in ("loops_compiled", "bridges_compiled",
                                            "guard_failures", "blacklisted")}
        info["aborts"] = st["aborts"]
    print(json.dumps(info))


# ------------------------------------------------------------------ parent


def run_child(name: str, mode: str, backend: str, size: str, python: list[str]) -> dict:
    cmd = python + [os.path.abspath(__file__), "--child", name, "--mode", mode,
                    "--backend", backend, "--size", size]
    path = [ROOT] if mode == "pypy" else [ROOT, os.path.join(ROOT, "backends")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONFAULTHANDLER="1")
    p = run_process(cmd, env)
    if isinstance(p, dict):
        return p
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"bad child output: {p.stdout[-200:]!r}"}


def summarize(samples: list[dict]) -> dict[str, Any]:
    good = [s for s in samples if "error" not in s]
    if not good:
        return {"error": samples[0].get("error", "no run") if samples else "no run"}
    out: dict[str, Any] = {
        "first": statistics.median(s["seconds"] for s in good),
        "steady": statistics.median(s["steady_seconds"] for s in good),
        "outputs": sorted({s["output"] for s in good}),
        "same_twice": all(s["same_twice"] for s in good),
        "runs": len(good),
    }
    if len(good) < len(samples):
        out["failed_runs"] = [s["error"] for s in samples if "error" in s]
    if "stats" in good[-1]:
        out["stats"] = good[-1]["stats"]
        out["aborts"] = good[-1]["aborts"]
    return out


def measure(name: str, columns: dict[str, list[str]], backend: str, size: str, runs: int,
            report: Callable[[str], None]) -> dict[str, Any]:
    """``runs`` rounds of one child per column, in turn; the row of results."""
    samples: dict[str, list[dict]] = {c: [] for c in columns}
    for r in range(runs):
        for column, python in columns.items():
            report(f"{name}: {TITLES[column]} run {r + 1}/{runs}")
            samples[column].append(run_child(name, column, backend, size, python))
    row: dict[str, Any] = {"name": name, "about": BENCHMARKS[name][3], "columns": {
        c: summarize(s) for c, s in samples.items()}}
    cols = row["columns"]
    plain = cols["plain"]
    for entry in cols.values():
        if "error" not in entry and "error" not in plain:
            entry["speedup"] = plain["first"] / entry["first"]
            entry["steady_speedup"] = plain["steady"] / entry["steady"]
    stub = cols.get("stub", {})
    if "error" not in stub and "error" not in plain:
        row["hint_cost_percent"] = (plain["first"] - stub["first"]) / stub["first"] * 100
    outputs = {o for entry in cols.values() for o in entry.get("outputs", [])}
    row["outputs_agree"] = len(outputs) == 1 and all(
        entry.get("same_twice", True) for entry in cols.values())
    return row


def cell(entry: dict[str, Any], steady: bool) -> str:
    if "error" in entry:
        return "FAILED"
    seconds = entry["steady" if steady else "first"]
    speedup = entry.get("steady_speedup" if steady else "speedup")
    text = f"{seconds:.3f}"
    if speedup is not None and abs(speedup - 1) > 1e-12:
        text += f" ({speedup:.2f}x)"
    return text


def markdown(data: dict[str, Any]) -> str:
    columns = data["columns"]
    head = ["benchmark"]
    for c in columns:
        head += [f"{TITLES[c]} 1st", f"{TITLES[c]} 2nd"]
    head += ["hint cost (JIT off)", "outputs agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in data["rows"]:
        cells = [row["name"]]
        for c in columns:
            entry = row["columns"].get(c, {"error": "not run"})
            cells += [cell(entry, False), cell(entry, True)]
        cost = row.get("hint_cost_percent")
        cells.append("-" if cost is None else f"{cost:+.1f}%")
        cells.append("yes" if row["outputs_agree"] else "**NO**")
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"\nSeconds, median of {data['runs']} runs ({data['size']} size); in "
             "parentheses the speedup over CPython (its time over the column's).  1st: the "
             "first run in a fresh process, 2nd: the second run in the same process.  Hint "
             "cost: CPython with the real hints (JIT off) against empty ones, first runs."]
    for row in data["rows"]:
        for c, entry in row["columns"].items():
            if "error" in entry:
                notes.append(f"- {row['name']} / {TITLES[c]}: {entry['error']}")
            elif entry.get("failed_runs"):
                notes.append(f"- {row['name']} / {TITLES[c]}: {len(entry['failed_runs'])} "
                             f"runs failed: {entry['failed_runs'][0]}")
            if c == "jit" and "stats" in entry:
                aborts = ", ".join(f"{k}: {v}" for k, v in sorted(entry["aborts"].items()))
                notes.append(f"- {row['name']} / tracejit: {entry['stats']}"
                             + (f"; aborts: {aborts}" if aborts else ""))
    for why in data.get("not_run", []):
        notes.append(f"- {why}")
    return "\n".join(lines + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="plain", help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=5, help="runs per column (default 5)")
    ap.add_argument("--size", default="full", choices=["full", "quick"],
                    help="workload size (default full)")
    ap.add_argument("--backend", default="",
                    help="the JIT column's backend (default: tracejit's default tiers)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of "
                                               f"{','.join(BENCHMARKS)}")
    ap.add_argument("--no-pypy", action="store_true", help="no PyPy column")
    ap.add_argument("--json", default="", help="also write the results as JSON here")
    ap.add_argument("--timeout", type=int, default=900,
                    help="seconds before a child process is stopped (default 900)")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.mode, args.backend, args.size)
        return 0
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    set_timeout(args.timeout)
    columns: dict[str, list[str]] = {"plain": [sys.executable], "stub": [sys.executable],
                                     "jit": [sys.executable]}
    not_run = []
    pypy = {"reason": "--no-pypy"} if args.no_pypy else probe_pypy()
    if "cmd" in pypy:
        columns["pypy"] = pypy["cmd"]
    else:
        not_run.append(f"PyPy: {pypy['reason']}")
    t_start = time.perf_counter()

    def report(what: str) -> None:
        print(f"\r[{time.perf_counter() - t_start:6.0f} s] {what:<50}", end="", file=sys.stderr,
              flush=True)

    rows = [measure(n, columns, args.backend, args.size, args.runs, report) for n in names]
    print(file=sys.stderr)
    data = {"python": sys.version.split()[0], "cpu": cpu_model(), "source": source_state(),
            "pypy": pypy.get("version"), "backend": args.backend or "default",
            "size": args.size, "runs": args.runs, "columns": list(columns), "rows": rows,
            "not_run": not_run}
    text = markdown(data)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0 if all(r["outputs_agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
