"""The readable summary: ``python -m tracejit --stats`` and ``tracejit.print_stats()``.

Renders a report (:mod:`tracejit.report`) as a few plain-text tables: the
hottest loops by time in machine code, the guards that failed most, and the
aborts with their reasons and source locations.
"""

from __future__ import annotations

import os
from typing import Any


def _where(file: str | None, line: Any) -> str:
    name = os.path.basename(file) if file else "?"
    return f"{name}:{line}" if line is not None else name


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def _count(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div * 10:
            return f"{n / div:.0f}{unit}"
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if k in right else c.ljust(w) for k, (c, w) in
                 enumerate(zip(r, widths))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def speedup(loop: dict[str, Any]) -> float | None:
    est = loop.get("estimated_cpython_time")
    spent = loop.get("compiled_time") or 0.0
    if est is None or spent <= 0:
        return None
    return est / spent


def format_report(report: dict[str, Any], top: int = 10) -> str:
    """The summary text of a report."""
    meta, st = report.get("meta", {}), report.get("stats", {})
    codes = report.get("codes", {})
    lines = []
    wall = meta.get("wall_time")
    head = f"tracejit summary: backend {meta.get('backend')}, CPython {meta.get('python')}"
    lines.append(head)
    compiled = st.get("compiled_time", 0.0) or 0.0
    timing = f"  time in machine code {_seconds(compiled)}"
    if wall:
        timing += f" of {_seconds(wall)} run time ({100 * compiled / wall:.0f}%)"
    timing += (f"; tracing {_seconds(st.get('trace_time'))}, compiling "
               f"{_seconds(st.get('compile_time'))} ({len(st.get('compile_times', []))} batches)")
    lines.append(timing)
    lines.append(f"  loops traced {st.get('loops_traced', 0)}, compiled "
                 f"{st.get('loops_compiled', 0)}, bridges {st.get('bridges_compiled', 0)}, "
                 f"write-back stubs {st.get('writeback_stubs', 0)}, blacklisted "
                 f"{st.get('blacklisted', 0)}; guard failures {st.get('guard_failures', 0)}, "
                 f"entries {st.get('entries', 0)}")

    loops = report.get("loops", [])
    if loops:
        lines.append("")
        lines.append(f"hottest loops (by time in machine code; top {min(top, len(loops))} "
                     f"of {len(loops)})")
        fails: dict[str, int] = {}
        for e in report.get("exits", []):
            if not e.get("periodic"):
                fails[e.get("loop", "")] = fails.get(e.get("loop", ""), 0) + e.get("failures", 0)
        rows = [["#", "where", "function", "time", "%", "entries", "iterations", "ops/it",
                 "est. speed-up", "guard fails", "state"]]
        for k, lp in enumerate(loops[:top], 1):
            code = codes.get(lp.get("code"), {})
            share = 100 * lp["compiled_time"] / compiled if compiled else 0.0
            sp = speedup(lp)
            state = "blacklisted" if lp.get("blacklisted") else (
                f"{len(lp.get('versions', []))} version(s)" if lp.get("versions") else
                f"{lp.get('aborts', 0)} abort(s)")
            rows.append([str(k), _where(code.get("file"), lp.get("line")),
                         str(code.get("name", lp["name"])), _seconds(lp["compiled_time"]),
                         f"{share:.0f}", _count(lp["entries"]), _count(lp["iterations"]),
                         str(lp.get("ops_per_iteration") or "-"),
                         f"~{sp:.1f}x" if sp is not None else "-",
                         str(fails.get(lp["name"], 0)), state])
        lines += _table(rows, right={0, 3, 4, 5, 6, 7, 8, 9})
        lines.append(f"  est. speed-up: CPython time guessed as iterations x trace ops x "
                     f"{meta.get('ns_per_op', 8.0):g} ns, over the time measured in machine "
                     f"code; a rough guide only, time the program with and without tracejit "
                     f"for real figures")

    exits = [e for e in report.get("exits", []) if e.get("failures") and not e.get("periodic")]
    if exits:
        exits.sort(key=lambda e: -e["failures"])
        lines.append("")
        lines.append(f"guard failures (top {min(top, len(exits))} of {len(exits)} guards that "
                     f"failed)")
        rows = [["failures", "where", "guard", "trace", "exit", "then"]]
        for e in exits[:top]:
            code = codes.get(e.get("code"), {})
            then = f"bridge {e['bridge']}" if e.get("bridge") else "back to CPython"
            rows.append([str(e["failures"]), _where(code.get("file"), e.get("line")),
                         str(e.get("guard", "?")), str(e.get("trace", "?")),
                         str(e["number"]), then])
        lines += _table(rows, right={0})

    aborts = report.get("aborts", [])
    if aborts or st.get("aborts"):
        lines.append("")
        lines.append("aborts (the loop ran on in CPython)")
        grouped: dict[tuple[str, str, str], int] = {}
        for a in aborts:
            where = _where(a.get("file"), a.get("line"))
            reason = str(a.get("reason") or a.get("kind"))
            if a.get("kind") == "bridge_abort":
                reason = f"bridge: {reason}"
            elif a.get("kind") == "blacklist":
                reason = "blacklisted after repeated aborts"
            key = (where, str(a.get("loop", "")), reason)
            grouped[key] = grouped.get(key, 0) + 1
        if grouped:
            rows = [["count", "where", "loop", "reason"]]
            for (where, loop, reason), n in sorted(grouped.items(), key=lambda kv: -kv[1])[:top]:
                rows.append([str(n), where, loop, reason])
            lines += _table(rows, right={0})
        else:
            for reason, n in sorted(st.get("aborts", {}).items(), key=lambda kv: -kv[1]):
                lines.append(f"  {n:5}  {reason}")
    return "\n".join(lines) + "\n"


def print_stats(file: Any = None, wall_time: float | None = None, top: int = 10) -> None:
    """Print the summary of what the JIT did so far (to stderr by default)."""
    import sys

    from tracejit import report

    text = format_report(report.gather(wall_time, machine_code=False), top=top)
    (file or sys.stderr).write(text)
