"""Benchmark runner: tracejit against plain CPython, PyPy, Numba and C, side by side.

    python bench/run.py [--quick] [--runs N] [--size full|quick] [--backends llvm,x86_64]
                        [--extras auto|none|pypy,numba,gcc] [--only a,b] [--json PATH]
                        [--markdown PATH] [--chart PATH | --no-chart]
    python bench/run.py --report bench/results/full-3.12.json   # re-render a saved run
    python -m bench ...                                         # the same, from the repo root

Every measurement is a fresh child process, and all the columns of one
benchmark alternate run by run so that machine noise hits them alike:

* **CPython**: the benchmark's main() in the runner's own Python, no JIT;
* **jit:<backend>**: the same with tracejit.enable() and that backend
  (default: every usable backend but `reference`, an IR interpreter);
  `tiered` is the default chain of tiers (x86_64, then llvm for hot loops;
  tracejit.tiers) instead of one backend;
* **PyPy**: the same program under PyPy (`scripts/bench-extras.sh` fetches
  Debian's pypy3 into .deps/pypy/);
* **Numba**: bench/njit/njit_<name>.py, for the kernels that have one, in
  .venv-numba (also made by scripts/bench-extras.sh);
* **C -O2**: bench/c/<name>.c compiled with gcc at run time.

Each Python-hosted column times main() twice in the same process: the first
run (warm-up, tracing and compiling included) and a second run (the code is
already compiled).  Reported: median wall time, ratio to plain CPython,
time to the first entry into compiled code, compile times, traces, bridges,
guard failures, trace aborts with their reasons, and whether the answer
matched the recorded one.  A column that is not available shows "n/a" and
why; a crash, a wrong answer or an abort shows in its row.  Results go to
JSON (default bench/results/latest.json), a Markdown report and a PNG chart
beside it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
NJIT_DIR = os.path.join(HERE, "njit")
C_DIR = os.path.join(HERE, "c")
CHILD_TIMEOUT = 900  # seconds for one child process


@dataclass(frozen=True)
class Benchmark:
    """One entry of the registry: bench/<name>.py with main(size), SIZES, EXPECTED."""

    name: str
    kind: str  # "numeric", "object", "overhead", "interpreter"
    about: str


# The suite, in report order.  A benchmark is bench/<name>.py; an optional
# Numba variant is bench/njit/njit_<name>.py, an optional C version
# bench/c/<name>.c (its arguments are SIZES[size]).
BENCHMARKS = [
    Benchmark("mandelbrot", "numeric", "float loop, complex iteration per point"),
    Benchmark("intloop", "numeric", "machine-size int arithmetic and bit operations"),
    Benchmark("matmul", "numeric", "float matrix multiply over lists of lists"),
    Benchmark("spectral_norm", "numeric", "loops calling a small function (inlined)"),
    Benchmark("nbody", "numeric", "float physics on lists, short inner loops"),
    Benchmark("bpnn", "numeric", "back-propagation neural net, lists of lists, tanh"),
    Benchmark("fannkuch", "numeric", "permutations: small int lists, swaps, copies"),
    Benchmark("nqueens", "numeric", "bit-mask backtracking, ints and lists"),
    Benchmark("richards", "object", "task scheduler: objects, attributes, methods"),
    Benchmark("raytracer", "object", "vector objects, operator methods, recursion"),
    Benchmark("float_objects", "object", "many small objects with float attributes"),
    Benchmark("text_dict", "overhead", "strings and dicts: the JIT cannot help"),
    Benchmark("cold", "overhead", "thousands of loops that never get hot"),
    # kind "interpreter": a bytecode interpreter written in Python with
    # JitDriver hints (tracejit's meta-tracing mode) is to come here, e.g.
    # Benchmark("minilang", "interpreter", "interpreter with JitDriver hints"),
]
NAMES = [b.name for b in BENCHMARKS]
TIERED = "tiered"  # a --backends choice: tracejit's default chain of tiers
EXTRAS = ["pypy", "numba", "gcc"]  # keys distinct from backend names (there is a backend "c")
EXTRA_TITLES = {"pypy": "PyPy", "numba": "Numba", "gcc": "C -O2"}


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


# ------------------------------------------------------------------ the child


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
    aborts = st.get("aborts")
    info["aborts"] = jsonable(aborts) if isinstance(aborts, dict) else {}
    by_tier = st.get("tier_compile_times")
    if isinstance(by_tier, dict):
        info["tier_compile_median_ms"] = {
            k: statistics.median(v) * 1000 for k, v in by_tier.items() if v}
        info["tier_ups"] = st.get("tier_ups")
    return info


def child(name: str, mode: str, backend: str, size: str) -> None:
    """Run one benchmark in this (fresh) process; print one JSON line.

    mode: "plain" and "pypy" run bench/<name>.py as is, "jit" under
    tracejit with `backend`, "numba" runs bench/njit/njit_<name>.py.
    """
    sys.path.insert(0, HERE)
    info: dict = {"name": name, "mode": mode, "backend": backend}
    tracejit = None
    if mode == "jit":
        try:
            import tracejit

            if backend == TIERED:
                tracejit.set_param(tiers="auto")
            else:
                tracejit.set_param(backend=backend)
            tracejit.enable()
        except Exception as e:
            traceback.print_exc()
            info["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(info))
            return
    module = __import__(name)
    runner = module
    if mode == "numba":
        sys.path.insert(0, NJIT_DIR)
        runner = __import__("njit_" + name)
    try:
        t0 = time.perf_counter()
        result = runner.main(size)
        info["seconds"] = time.perf_counter() - t0
        info["ok"] = result == module.EXPECTED[size]
        info["result"] = repr(result)
        # a second run in the same process: compiled code is already there
        t1 = time.perf_counter()
        again = runner.main(size)
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


# ------------------------------------------------------------------ the parent


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


def run_process(cmd: list, env: dict | None = None) -> subprocess.CompletedProcess | dict:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    except OSError as e:
        return {"error": f"cannot run {cmd[0]}: {e}"}
    if p.returncode != 0:
        return {"error": failure_reason(p)}
    return p


def run_child(name: str, mode: str, backend: str, size: str, python: list | None = None,
              path: list | None = None) -> dict:
    """One fresh process running child(); `python` is the interpreter's command."""
    cmd = (python or [sys.executable]) + [os.path.abspath(__file__), "--child", name,
                                          "--mode", mode, "--backend", backend, "--size", size]
    if path is None:
        path = [ROOT, os.path.join(ROOT, "backends")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONFAULTHANDLER="1")
    p = run_process(cmd, env)
    if isinstance(p, dict):
        return p
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"bad child output: {p.stdout[-200:]!r}"}


def load_benchmark(name: str):
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    return __import__(name)


def c_arguments(name: str, size: str) -> list:
    sizes = load_benchmark(name).SIZES[size]
    return [str(a) for a in (sizes if isinstance(sizes, tuple) else (sizes,))]


def run_c(name: str, size: str, exe: str) -> dict:
    """Run the compiled C version; it prints the answer, then "seconds <work time>"."""
    p = run_process([exe] + c_arguments(name, size))
    if isinstance(p, dict):
        return p
    lines = p.stdout.strip().splitlines()
    try:
        result = ast.literal_eval(lines[0])
        seconds = float(lines[1].split()[1])
    except (IndexError, ValueError, SyntaxError):
        return {"error": f"bad output of {os.path.basename(exe)}: {p.stdout[-200:]!r}"}
    expected = load_benchmark(name).EXPECTED[size]
    if isinstance(expected, list):
        result = list(result)
    return {"seconds": seconds, "steady_seconds": None, "ok": result == expected,
            "result": repr(result)}


def probe_pypy() -> dict:
    cands = [os.environ.get("TRACEJIT_PYPY"), os.path.join(ROOT, ".deps", "pypy", "run-pypy3"),
             shutil.which("pypy3")]
    cands = [c for c in cands if c]
    for cand in cands:
        if not os.access(cand, os.X_OK):
            continue
        p = run_process([cand, "-c", "import sys; print(sys.version.replace(chr(10), ' '))"])
        if isinstance(p, dict):
            return {"reason": f"{cand} does not run: {p['error']}"}
        version = p.stdout.strip()
        pypy = version.split("[PyPy ")[-1].split()[0] if "[PyPy " in version else ""
        return {"cmd": [cand], "version": f"PyPy {pypy} (Python {version.split()[0]})"}
    return {"reason": "PyPy not installed (run scripts/bench-extras.sh)"}


def probe_numba() -> dict:
    python = os.environ.get("TRACEJIT_NUMBA_PYTHON") or os.path.join(
        ROOT, ".venv-numba", "bin", "python")
    if not os.access(python, os.X_OK):
        return {"reason": "no .venv-numba (run scripts/bench-extras.sh)"}
    p = run_process([python, "-c", "import numba, sys; print(numba.__version__, "
                     "sys.version.split()[0])"])
    if isinstance(p, dict):
        return {"reason": f"numba does not import in {python}: {p['error']}"}
    numba, py = p.stdout.split()
    return {"cmd": [python], "version": f"Numba {numba} (CPython {py})"}


def probe_c(names: list) -> dict:
    """Compile every bench/c/<name>.c wanted; a failed compile is that row's n/a."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return {"reason": "no C compiler (gcc/cc) on the PATH"}
    p = run_process([cc, "--version"])
    version = p.stdout.splitlines()[0] if not isinstance(p, dict) and p.stdout else cc
    flags = ["-O2", "-ffp-contract=off"]
    build = os.path.join(RESULTS, "c-build")
    os.makedirs(build, exist_ok=True)
    exes, errors = {}, {}
    for name in names:
        src = os.path.join(C_DIR, name + ".c")
        if not os.path.exists(src):
            continue
        exe = os.path.join(build, name)
        q = run_process([cc] + flags + ["-o", exe, src, "-lm"])
        if isinstance(q, dict):
            errors[name] = f"compile failed: {q['error']}"
        else:
            exes[name] = exe
    return {"version": f"{version} {' '.join(flags)}", "exes": exes, "errors": errors}


def probe_extras(wanted: list, names: list) -> dict:
    probes = {"pypy": probe_pypy, "numba": probe_numba, "gcc": lambda: probe_c(names)}
    return {x: probes[x]() for x in wanted}


def has_variant(extra: str, name: str, info: dict) -> str | None:
    """None if `extra` can run benchmark `name`, else why not."""
    if "reason" in info:
        return info["reason"]
    if extra == "numba" and not os.path.exists(os.path.join(NJIT_DIR, f"njit_{name}.py")):
        return "no variant"
    if extra == "gcc":
        if name in info["errors"]:
            return info["errors"][name]
        if name not in info["exes"]:
            return "no variant"
    return None


def default_backends() -> tuple[list, str | None]:
    """The usable backends but `reference`, or ([], why) if tracejit does not import."""
    try:
        import tracejit

        usable = list(tracejit.available_backends())
    except Exception as e:
        return ["llvm"], f"{type(e).__name__}: {e}"
    chosen = sorted((b for b in usable if b != "reference"), key=lambda b: (b != "llvm", b))
    return (chosen or usable or ["llvm"]), None


def source_state() -> str:
    """The commit measured, and whether tracejit's own files differ from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--",
                                "tracejit", "backends"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return head + (f" + {len(dirty.splitlines())} uncommitted tracejit/backends files"
                   if dirty else "")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def progress(done: int, total: int, what: str, t_start: float) -> None:
    elapsed = time.perf_counter() - t_start
    eta = f", ~{elapsed / done * (total - done):.0f} s left" if done else ""
    print(f"\r[{'#' * (30 * done // max(1, total)):<30}] {done}/{total} {what} "
          f"({elapsed:.0f} s{eta}){' ' * 12}", end="", file=sys.stderr, flush=True)


def set_timeout(seconds: int) -> None:
    global CHILD_TIMEOUT
    CHILD_TIMEOUT = seconds


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="plain", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="", help="one JIT backend (same as --backends)")
    ap.add_argument("--backends", default="",
                    help="comma-separated backends to compare (default: every usable one "
                         "but reference)")
    ap.add_argument("--extras", default="auto",
                    help="auto (default: PyPy, Numba, C columns, n/a where missing), none, "
                         "or a comma-separated subset of pypy,numba,gcc (or c)")
    ap.add_argument("--size", default="full", choices=["full", "quick"],
                    help="workload size (default full)")
    ap.add_argument("--quick", action="store_true",
                    help="2 runs per column instead of 5")
    ap.add_argument("--runs", type=int, default=0, help="runs per column (default 5)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--json", default=os.path.join(RESULTS, "latest.json"),
                    help="where to write the results (default bench/results/latest.json)")
    ap.add_argument("--markdown", default="",
                    help="Markdown report (default: the JSON path with .md)")
    ap.add_argument("--chart", default="", help="PNG chart (default: the JSON path with .png)")
    ap.add_argument("--no-chart", action="store_true", help="no PNG chart")
    ap.add_argument("--timeout", type=int, default=CHILD_TIMEOUT,
                    help=f"seconds before one child process is stopped (default {CHILD_TIMEOUT})")
    ap.add_argument("--report", default="", metavar="JSON",
                    help="print the report (and write Markdown/chart) of a saved run")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.mode, args.backend or "llvm", args.size)
        return 0
    base = os.path.splitext(args.report or args.json)[0]
    md_path = args.markdown or base + ".md"
    chart_path = None if args.no_chart else (args.chart or base + ".png")
    if args.report:
        with open(args.report) as f:
            data = json.load(f)
        finish(data, md_path, chart_path)
        return 0 if all(r["ok"] for r in data["rows"]) else 1

    set_timeout(args.timeout)
    size = args.size
    runs = args.runs or (2 if args.quick else 5)
    wanted = [n for n in args.only.split(",") if n]
    unknown = [n for n in wanted if n not in NAMES]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    names = [n for n in NAMES if not wanted or n in wanted]
    backend_note = None
    if args.backends or args.backend:
        backends = [b for b in (args.backends or args.backend).split(",") if b]
    else:
        backends, backend_note = default_backends()
    if args.extras == "auto":
        extras = list(EXTRAS)
    elif args.extras == "none":
        extras = []
    else:
        extras = [{"c": "gcc"}.get(x, x) for x in args.extras.split(",") if x]
        bad = [x for x in extras if x not in EXTRAS]
        if bad:
            ap.error(f"unknown extra(s) {', '.join(bad)}; known: {', '.join(EXTRAS)}")
    source_at_start = source_state()
    print("checking the optional columns ...", file=sys.stderr, flush=True)
    extra_info = probe_extras(extras, names)

    columns = [("plain", "plain")] + [(b, "jit") for b in backends] + [(x, x) for x in extras]
    plan = {}
    for name in names:
        plan[name] = [(key, kind) for key, kind in columns
                      if kind not in EXTRAS or has_variant(kind, name, extra_info[kind]) is None]
    total = sum(len(c) for c in plan.values()) * runs
    done = 0
    rows = []
    t_start = time.perf_counter()
    for name in names:
        samples: dict = {key: [] for key, _ in plan[name]}
        for _ in range(runs):
            for key, kind in plan[name]:
                progress(done, total, f"{name} ({key})", t_start)
                if kind == "plain":
                    s = run_child(name, "plain", "-", size)
                elif kind == "jit":
                    s = run_child(name, "jit", key, size)
                elif kind == "pypy":
                    s = run_child(name, "pypy", "-", size, extra_info["pypy"]["cmd"], [HERE])
                elif kind == "numba":
                    s = run_child(name, "numba", "-", size, extra_info["numba"]["cmd"],
                                  [HERE, NJIT_DIR])
                else:
                    s = run_c(name, size, extra_info["gcc"]["exes"][name])
                samples[key].append(s)
                done += 1
        rows.append(summarize(name, samples, plan[name], extras, extra_info))
    print(f"\r[{'#' * 30}] {done}/{total} done in {time.perf_counter() - t_start:.0f} s"
          f"{' ' * 40}", file=sys.stderr)
    bench_kinds = {b.name: b.kind for b in BENCHMARKS}
    for r in rows:
        r["kind"] = bench_kinds[r["name"]]
    data = {"python": sys.version, "python_version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu": cpu_model(), "cpus": os.cpu_count(), "size": size, "runs": runs,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "source": source_at_start,
            "elapsed": time.perf_counter() - t_start, "backends": backends,
            "backend_note": backend_note, "extras": extras,
            "command": " ".join([os.path.relpath(sys.executable, ROOT), "bench/run.py"]
                                + list(sys.argv[1:] if argv is None else argv)),
            "extra_info": {x: {k: v for k, v in i.items() if k != "exes"}
                           for x, i in extra_info.items()},
            "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(data, f, indent=1)
    finish(data, md_path, chart_path)
    print(f"results written to {os.path.relpath(args.json)}")
    return 0 if all(r["ok"] for r in rows) else 1


def summarize(name: str, samples: dict, plan: list, extras: list, extra_info: dict) -> dict:
    row: dict = {"name": name, "ok": True, "modes": {}}
    plain = plain_steady = None
    for key, kind in plan:
        got = samples[key]
        errors = [s["error"] for s in got if "error" in s]
        good = [s for s in got if "error" not in s]
        if errors or not good:
            row["modes"][key] = {"kind": kind, "error": errors[0] if errors else "no run",
                                 "failed_runs": len(errors), "runs": len(got)}
            row["ok"] = False
            continue
        times = [s["seconds"] for s in good]
        steadies = [s["steady_seconds"] for s in good if s.get("steady_seconds") is not None]
        entry = {"kind": kind, "median": statistics.median(times), "min": min(times),
                 "max": max(times),
                 "steady": statistics.median(steadies) if steadies else None,
                 "ok": all(s["ok"] for s in good), "result": good[-1].get("result")}
        row["ok"] &= entry["ok"]
        if kind == "plain":
            plain, plain_steady = entry["median"], entry["steady"]
        if kind == "jit":
            last = good[-1]
            entry.update({k: last.get(k) for k in (
                "stats", "stats_error", "warmup", "compile_median_ms", "compile_max_ms",
                "compile_per_loop_ms", "traces", "aborts", "tier_compile_median_ms",
                "tier_ups")})
        row["modes"][key] = entry
    for key, entry in row["modes"].items():
        if key != "plain" and "median" in entry:
            entry["speedup"] = plain / entry["median"] if plain else None
            entry["steady_speedup"] = (plain_steady / entry["steady"]
                                       if plain_steady and entry["steady"] else None)
    for x in extras:
        if x not in row["modes"]:
            row["modes"][x] = {"kind": x, "na": has_variant(x, name, extra_info[x])}
    return row


# ------------------------------------------------------------------ reports


def fmt(value, spec: str, suffix: str = "") -> str:
    """`value` formatted with `spec` (and `suffix`); "-" if None."""
    if value is None:
        return "-"
    try:
        return format(value, spec) + suffix
    except (TypeError, ValueError):
        return str(value)


def ratio(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x" if value >= 100 else f"{value:.1f}x"


def time_cell(entry: dict, steady: bool = False) -> str:
    if not entry:
        return "-"
    if "na" in entry:
        return "-" if entry["na"] == "no variant" else "n/a"
    if "error" in entry:
        return "FAILED"
    seconds = entry["steady"] if steady else entry["median"]
    if seconds is None:
        return "-"
    text = f"{seconds:.3f}"
    if entry["kind"] != "plain":
        text += f" ({ratio(entry.get('steady_speedup' if steady else 'speedup'))})"
    if not entry["ok"]:
        text += " WRONG"
    return text


def abort_reasons(entry: dict) -> dict | None:
    """Trace aborts by reason (from stats() when the entry has no copy of its own)."""
    aborts = entry.get("aborts")
    if not isinstance(aborts, dict):
        st = entry.get("stats")
        aborts = st.get("aborts") if isinstance(st, dict) else None
    return aborts if isinstance(aborts, dict) else None


def abort_total(entry: dict) -> int | None:
    aborts = abort_reasons(entry)
    if aborts is None:
        return None
    return sum(v for v in aborts.values() if isinstance(v, int))


def jit_status(entry: dict) -> str:
    if "error" in entry:
        return f"JIT FAILED: {entry['error'][:90]}"
    bits = []
    if not entry.get("ok", True):
        bits.append("WRONG RESULT")
    st = entry.get("stats") if isinstance(entry.get("stats"), dict) else {}
    n = abort_total(entry)
    if n:
        black = number(st.get("blacklisted"))
        bits.append(f"{n} aborts" + (f", {black} loops blacklisted" if black else ""))
    if not entry.get("traces"):
        bits.append("nothing compiled")
    if entry.get("stats_error"):
        bits.append(f"stats() failed: {entry['stats_error'][:60]}")
    return "; ".join(bits) or "ok"


def tables(data: dict) -> tuple[list, list, list]:
    """(times table, JIT table, abort lines); tables are lists of rows, row 0 the header."""
    backends, extras, rows = data["backends"], data.get("extras", []), data["rows"]
    head = ["benchmark", "CPython s"]
    for b in backends:
        head += [f"jit:{b} s", f"jit:{b} 2nd run"]
    for x in extras:
        head += [EXTRA_TITLES[x] + " s"] + ([f"{EXTRA_TITLES[x]} 2nd run"] if x != "gcc" else [])
    times = [head]
    for r in rows:
        m = r["modes"]
        line = [r["name"], time_cell(m.get("plain", {}))]
        for b in backends:
            e = m.get(b, {})
            line += [time_cell(e), time_cell(e, steady=True) if "error" not in e else "-"]
        for x in extras:
            e = m.get(x, {})
            line.append(time_cell(e))
            if x != "gcc":
                line.append(time_cell(e, steady=True))
        times.append(line)
    jit = [["benchmark", "backend", "warm-up s", "compile ms med/max", "traces", "bridges",
            "guard fails", "aborts", "status"]]
    aborts = []
    for r in rows:
        for b in backends:
            e = r["modes"].get(b, {})
            st = e.get("stats") if isinstance(e.get("stats"), dict) else {}
            if not e.get("traces"):
                comp = "-"
            elif e.get("compile_median_ms") is not None:
                comp = f"{e['compile_median_ms']:.1f}/{e['compile_max_ms']:.1f}"
            else:
                comp = fmt(e.get("compile_per_loop_ms"), ".1f")
            jit.append([r["name"], b, fmt(e.get("warmup"), ".3f"), comp,
                        fmt(e.get("traces"), "d"), fmt(number(st.get("bridges_compiled")), "d"),
                        fmt(number(st.get("guard_failures")), "d"),
                        fmt(abort_total(e), "d"), jit_status(e)])
            reasons = abort_reasons(e) or {}
            if reasons:
                listed = sorted(reasons.items(), key=lambda kv: -kv[1])
                aborts.append(f"{r['name']} ({b}): " + "; ".join(
                    f"{reason} x{count}" for reason, count in listed))
    return times, jit, aborts


def text_table(table: list) -> str:
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    lines = []
    for k, row in enumerate(table):
        last = len(row) - 1 if table[0][-1] == "status" else 0
        cells = [str(c).ljust(w) if i in (0, last) else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def md_table(table: list) -> str:
    out = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in table[1:]]
    return "\n".join(out)


def notes(data: dict) -> list:
    out = []
    if data.get("backend_note"):
        out.append(f"tracejit did not import: {data['backend_note']}")
    for x, info in (data.get("extra_info") or {}).items():
        title = EXTRA_TITLES[x]
        if "reason" in info:
            out.append(f"{title}: n/a, {info['reason']}")
        else:
            out.append(f"{title}: {info.get('version', '')}")
            for name, err in (info.get("errors") or {}).items():
                out.append(f"{title} {name}: n/a, {err}")
    for r in data["rows"]:
        for key, e in r["modes"].items():
            if "error" in e:
                out.append(f"{r['name']} ({key}) FAILED in {e.get('failed_runs', '?')} of "
                           f"{e.get('runs', '?')} runs: {e['error']}")
            elif not e.get("ok", True):
                out.append(f"{r['name']} ({key}) WRONG RESULT: {e.get('result')}")
    return out


LEGEND = ("s = median wall time of main() over fresh processes, first run in the process "
          "(tracing, compiling and warm-up included); (Nx) = CPython time / this time, "
          "above 1 is faster; 2nd run = a second main() in the same process (compiled code "
          "already there), against CPython's second run; C -O2 times only the work, not "
          "process start; '-' = no variant of this benchmark; warm-up = time to the first "
          "entry into compiled code; compile ms = median/max per compilation.")


def finish(data: dict, md_path: str | None, chart_path: str | None) -> None:
    times, jit, aborts = tables(data)
    title = (f"tracejit benchmarks: {data['size']} workloads, median of {data['runs']} runs, "
             f"{data.get('implementation', 'CPython')} {data.get('python_version', '')}, "
             f"{data['cpu']} ({data['cpus']} cpus), {data.get('date', '')}, "
             f"tracejit {data.get('source', 'unknown')}")
    print(f"\n{title}\n")
    print(text_table(times))
    print()
    print(text_table(jit))
    if aborts:
        print("\ntrace aborts by reason:")
        for line in aborts:
            print("  " + line)
    extra = notes(data)
    if extra:
        print()
        for line in extra:
            print(line)
    print("\n" + LEGEND)
    if md_path:
        with open(md_path, "w") as f:
            f.write(f"### {title}\n\n{md_table(times)}\n\n{md_table(jit)}\n\n")
            if aborts:
                f.write("Trace aborts by reason:\n\n" + "".join(f"* {a}\n" for a in aborts))
            if extra:
                f.write("\n" + "".join(f"* {n}\n" for n in extra))
            f.write(f"\n{LEGEND}\n")
        print(f"\nMarkdown report written to {os.path.relpath(md_path)}")
    if chart_path:
        why = chart(data, chart_path)
        print(f"chart {'written to ' + os.path.relpath(chart_path) if why is None else why}")


def chart(data: dict, path: str) -> str | None:
    """Speedups per benchmark and column, first and second run; None or why not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:
        return f"not drawn: matplotlib unavailable ({type(e).__name__})"
    rows = data["rows"]
    series = [(b, f"tracejit {b}") for b in data["backends"]]
    series += [(x, EXTRA_TITLES[x]) for x in data.get("extras", [])]
    names = [r["name"] for r in rows]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.0 * len(names) + 3), 8.5), sharex=True)
    width = 0.8 / max(1, len(series))
    for ax, steady in zip(axes, (False, True)):
        for k, (key, label) in enumerate(series):
            xs, ys = [], []
            for i, r in enumerate(rows):
                e = r["modes"].get(key, {})
                value = e.get("steady_speedup" if steady and key != "gcc" else "speedup")
                if value and e.get("ok", False):
                    xs.append(i - 0.4 + width * (k + 0.5))
                    ys.append(value)
            bars = ax.bar(xs, ys, width, label=label)
            for rect, y in zip(bars, ys):
                ax.annotate(f"{y:.1f}" if y < 10 else f"{y:.0f}",
                            (rect.get_x() + rect.get_width() / 2, y), ha="center",
                            va="bottom", fontsize=6)
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_ylabel("speedup over CPython (log)")
        ax.set_title("first run in a fresh process (warm-up and compilation included)"
                     if not steady else "second run in the same process (C: the same run)",
                     fontsize=10)
        ax.grid(axis="y", which="major", alpha=0.3)
    axes[1].set_xticks(range(len(names)))
    axes[1].set_xticklabels(names, rotation=30, ha="right")
    axes[0].legend(fontsize=8, ncol=len(series))
    fig.suptitle(f"tracejit vs CPython {data.get('python_version', '')}: {data['size']} "
                 f"workloads, median of {data['runs']} runs ({data['cpu']})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
