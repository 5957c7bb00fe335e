"""What the JIT did, as plain data: loops, traces, guards, bridges, aborts.

:func:`gather` reads the live runtime state (read-only) at any time, usually
at exit, and returns a JSON-ready dict (the *report*, format below) that
:mod:`tracejit.summary` prints as a table and :mod:`tracejit.viewer` renders
as a self-contained HTML page.  :func:`from_log` rebuilds the same dict from
a JSON-lines log (:mod:`tracejit.log`), so a log can be viewed later.

Traces before optimization are not kept by the runtime; it hands them over
through :func:`record_trace` (the hook API), which is free unless a log or a
collector is on.  :func:`start_collecting` subscribes the in-process
collector that keeps them for :func:`gather`.

Report format (``REPORT_VERSION`` 1; see docs/log-format.md)::

    {"version", "meta": {...}, "stats": {... tracejit.stats() ...},
     "codes": {key: {"file", "name", "firstlineno", "lines": [[n, text]...],
                     "bytecode": [[offset, line, opname, argrepr]...]}},
     "loops": [{"name", "code", "header", "line", "entries", "compiled_time",
                "iterations", "ops_per_iteration", "aborts", "blacklisted",
                "estimated_cpython_time", "versions": [{"trace", "entry"}]}],
     "traces": {name: {"name", "loop", "kind", "traced": T, "optimized": T,
                       "compile_seconds", "machine_code": M}},
     "exits": [{"number", "loop", "trace", "op", "guard", "failures",
                "bridge", "code", "offset", "line", "periodic", "injected"}],
     "aborts": [{"kind", "loop", "reason", "code", "offset", "line", "t"}]}

    T = {"inputs": str, "ops": [{"text", "name", "code", "offset", "line",
                                 "approx", "guard", "exit", "target"}]}
    M = {"kind": "x86_64", "lines": [[address, mnemonic, operands]...]}
      | {"kind": "llvm", "ir": str, "asm": str} | {"kind": "none", "why": str}
"""

from __future__ import annotations

import dis
import linecache
import os
import sys
import time
import types
from typing import Any

from tracejit import log

REPORT_VERSION = 1
# The speed-up estimate's model of CPython: one operation of an optimized
# loop trace stands for this much interpreter time.  Measured on this
# project's machine (CPython time of a loop / operations of its trace, for
# int, float and list-indexing kernels: 10-13.5 ns on 3.12, 6.4-8.5 ns on
# 3.13); the runtime's give-up rule uses a flat 8 ns.  See docs/usage.md,
# "Reading the summary", for how far to trust it.
NS_PER_OP = 10.0 if sys.version_info[:2] == (3, 12) else 7.0
MAX_SOURCE_LINES = 400
ABORT_KINDS = log.ABORT_KINDS
# loops of the reporting code itself (gathering a report while the JIT is on)
# are left out of reports
_HERE = os.path.dirname(os.path.abspath(__file__))
_OWN_FILES = frozenset(os.path.join(_HERE, f) for f in ("report.py", "summary.py", "log.py",
                                                        "cli.py", "viewer/__init__.py"))

# -- code objects -------------------------------------------------------------

_codes: dict[str, types.CodeType] = {}
_announced: set[str] = set()
_line_maps: dict[int, tuple[types.CodeType, dict[int, int]]] = {}


def code_key(code: types.CodeType) -> str:
    key = f"{code.co_filename}:{code.co_firstlineno}:{code.co_qualname}"
    known = _codes.get(key)
    if known is None:
        _codes[key] = code
    elif known is not code and known.co_code != code.co_code:
        key = f"{key}#{id(code):x}"
        _codes.setdefault(key, code)
    return key


def line_of(code: types.CodeType, offset: int) -> int | None:
    hit = _line_maps.get(id(code))
    if hit is None or hit[0] is not code:
        lines: dict[int, int] = {}
        for start, end, line in code.co_lines():
            if line is not None:
                for off in range(start, end, 2):
                    lines[off] = line
        hit = (code, lines)
        _line_maps[id(code)] = hit
    return hit[1].get(offset)


def describe_code(code: types.CodeType) -> dict[str, Any]:
    """Source lines and bytecode listing of one code object."""
    listing = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("CACHE", "EXTENDED_ARG"):
            continue
        line = ins.positions.lineno if ins.positions is not None else None
        listing.append([ins.offset, line, ins.opname, ins.argrepr])
    numbers = [ln for _, ln in _code_lines(code)]
    first = min(numbers, default=code.co_firstlineno)
    last = max(numbers, default=first)
    last = min(last, first + MAX_SOURCE_LINES)
    text = linecache.getlines(code.co_filename)
    lines = [[n, text[n - 1].rstrip("\n")] for n in range(first, last + 1) if n - 1 < len(text)]
    return {"file": code.co_filename, "name": code.co_qualname,
            "firstlineno": code.co_firstlineno, "lines": lines, "bytecode": listing}


def _code_lines(code: types.CodeType) -> list[tuple[int, int]]:
    return [(s, ln) for s, _e, ln in code.co_lines() if ln is not None]


# -- traces ---------------------------------------------------------------------


def _position(op: Any, code: types.CodeType | None) -> tuple[Any, int] | None:
    pos = getattr(op, "pos", None)
    if pos is not None:
        return pos[0], pos[1]
    exit_ = getattr(op, "exit", None)
    rd = getattr(exit_, "resume", None) if exit_ is not None else None
    if rd is not None and getattr(rd, "code", None) is not None:
        return rd.code, rd.offset
    snap = getattr(op, "snapshot", None)
    if snap is not None and code is not None and isinstance(getattr(snap, "offset", None), int):
        return code, snap.offset
    return None


def trace_record(trace: Any, code: types.CodeType | None = None) -> dict[str, Any]:
    """A trace as data: its dump, one line per operation, with the bytecode
    position each operation came from.  Exact where the op carries ``pos``;
    else a guard's resume point; else the position of the guard before it
    (guards of a bytecode come before its other operations), marked approx."""
    from tracejit.ir import dump

    lines = dump(trace).splitlines()
    ops = list(trace.ops)
    texts = lines[1:] if len(lines) == len(ops) + 1 else [repr(op) for op in ops]
    out = []
    last: tuple[Any, int] | None = None
    for op, text in zip(ops, texts):
        rec: dict[str, Any] = {"text": text, "name": op.name}
        pos = _position(op, code)
        approx = pos is None
        if pos is None:
            pos = last
        else:
            last = pos
        if pos is not None and isinstance(pos[0], types.CodeType):
            rec["code"] = code_key(pos[0])
            rec["offset"] = pos[1]
            rec["line"] = line_of(pos[0], pos[1])
            if approx:
                rec["approx"] = True
        if op.is_guard():
            rec["guard"] = True
        ex = getattr(op, "exit", None)
        if ex is not None and getattr(ex, "number", -1) >= 0:
            rec["exit"] = ex.number
        descr = getattr(op, "descr", None)
        if descr is not None and hasattr(descr, "ops") and hasattr(descr, "name"):
            rec["target"] = descr.name
        out.append(rec)
    return {"inputs": lines[0] if lines else "[]", "ops": out}


def record_trace(name: str, stage: str, trace: Any, loop: str = "",
                 code: types.CodeType | None = None, **fields: Any) -> None:
    """Hook for the runtime: ``stage`` is ``"traced"`` (as recorded, before
    optimization) or ``"optimized"`` (as compiled).  Emits a ``trace`` event
    (and a ``code`` event for each code object seen for the first time).
    Costs one check when no log and no collector is on."""
    if not log.enabled():
        return
    rec = trace_record(trace, code)
    for key in {o["code"] for o in rec["ops"] if "code" in o}:
        if key not in _announced:
            _announced.add(key)
            log.event("code", key=key, **describe_code(_codes[key]))
    log.event("trace", name=name, loop=loop, stage=stage, trace=rec, **fields)


# -- the in-process collector -----------------------------------------------


class Collector:
    """Keeps the events a report needs that the runtime state does not hold:
    traces before optimization and aborts with their locations."""

    def __init__(self) -> None:
        self.traces: dict[str, dict[str, Any]] = {}
        self.t_start = time.perf_counter()

    def __call__(self, record: dict[str, Any]) -> None:
        if record.get("kind") == "trace":
            entry = self.traces.setdefault(record["name"], {})
            entry[record.get("stage", "optimized")] = record["trace"]
            for k in ("loop", "seconds", "backend"):
                if k in record:
                    entry[k] = record[k]


_collector: Collector | None = None


def start_collecting(keep_listing: bool = True) -> Collector:
    """Subscribe the collector (idempotent); with ``keep_listing`` ask
    backends that can (llvm) to keep their IR and assembly text."""
    global _collector
    if _collector is None:
        _collector = Collector()
        log.add_listener(_collector)
    if keep_listing:
        _keep_listings()
    return _collector


def stop_collecting() -> None:
    """Unsubscribe and drop the collector (what it kept is forgotten)."""
    global _collector
    if _collector is not None:
        log.remove_listener(_collector)
        _collector = None


def _keep_listings() -> None:
    """Backends that can keep listings (optimized IR, assembly) do, in every
    tier, including tiers loaded later."""
    from tracejit import tiers

    tiers.keep_listings = True
    try:
        chain = tiers.chain()
    except Exception:
        return
    for tier in chain:
        if tier.loaded:
            tiers.listings(tier.backend)


# -- gathering -----------------------------------------------------------------


def _all_traces(runtime: Any) -> list[Any]:
    seen: dict[int, Any] = {}

    def add(t: Any) -> None:
        if t is not None and hasattr(t, "ops") and id(t) not in seen:
            seen[id(t)] = t

    for info in list(runtime.loops.values()):
        for v in list(info.versions):
            add(v.trace)
            add(v.entry_trace)
    for ex in list(runtime.exits):
        if ex is not None:
            add(ex.bridge)
    for t in list(getattr(runtime, "keepalive", [])):
        add(t)
    return list(seen.values())


def _trace_kind(name: str) -> str:
    if name.endswith("_entry"):
        return "entry"
    for prefix in ("bridge", "writeback", "loop"):
        if name.startswith(prefix):
            return prefix
    return "trace"


def gather(wall_time: float | None = None, machine_code: bool = True) -> dict[str, Any]:
    """The report of everything the JIT did in this process so far."""
    from tracejit.params import params, stats
    from tracejit.runtime import runtime

    collected = _collector.traces if _collector is not None else {}
    traces: dict[str, dict[str, Any]] = {}
    exit_site: dict[int, tuple[str, int, str]] = {}
    live = _all_traces(runtime)
    _x86_starts.clear()
    _note_x86_blocks(live)
    for t in live:
        name = getattr(t, "name", "") or f"trace{id(t):x}"
        rec = trace_record(t)
        entry = {"name": name, "loop": getattr(t, "loop_name", ""), "kind": _trace_kind(name),
                 "optimized": rec, "traced": collected.get(name, {}).get("traced")}
        compiled = getattr(t, "compiled", None)
        if compiled is not None and getattr(compiled, "compile_seconds", None) is not None:
            entry["compile_seconds"] = compiled.compile_seconds
        if machine_code:
            entry["machine_code"] = machine_code_of(t)
        traces[name] = entry
        for k, op in enumerate(rec["ops"]):
            if "exit" in op:
                exit_site[op["exit"]] = (name, k, op["name"])
    for name, got in collected.items():  # traces the runtime no longer holds
        if name not in traces:
            traces[name] = {"name": name, "loop": got.get("loop", ""), "kind": _trace_kind(name),
                            "optimized": got.get("optimized"), "traced": got.get("traced"),
                            "dropped": True}

    exits = []
    for ex in list(runtime.exits):
        if ex is None:
            continue
        d = ex.descr
        rd = ex.resume
        rec = {"number": d.number, "loop": ex.loop_name, "failures": ex.failures,
               "bridge": getattr(ex.bridge, "name", None) if ex.bridge is not None else None,
               "periodic": ex.periodic, "injected": ex.injected}
        rcode = getattr(rd, "code", None)
        if isinstance(rcode, types.CodeType):
            rec["code"] = code_key(rcode)
            rec["offset"] = rd.offset
            rec["line"] = line_of(rcode, rd.offset)
        site = exit_site.get(d.number)
        if site is not None:
            rec["trace"], rec["op"], rec["guard"] = site
        exits.append(rec)

    loops = []
    for info in list(runtime.loops.values()):
        compiled_time = getattr(info, "compiled_time", 0.0)
        if not info.versions and not compiled_time and not getattr(info, "aborts", 0) \
                and not getattr(info, "blacklisted", False):
            continue  # only counted, never traced
        code = info.code
        if code.co_filename in _OWN_FILES:
            continue
        rec = {"name": info.name, "code": code_key(code), "header": info.header,
               "line": line_of(code, info.header), "entries": info.entries,
               "compiled_time": compiled_time, "iterations": info.iterations,
               "ops_per_iteration": info.ops_per_iteration, "aborts": info.aborts,
               "blacklisted": info.blacklisted,
               "versions": [{"trace": v.trace.name,
                             "entry": getattr(v.entry_trace, "name", None)}
                            for v in info.versions],
               "estimated_cpython_time": estimate_cpython_time(info.iterations,
                                                                info.ops_per_iteration)}
        loops.append(rec)
    loops.sort(key=lambda r: -r["compiled_time"])

    aborts = []
    for a in list(log.recent_aborts):
        rec = dict(a)
        ref = rec.pop("code_object", None)
        code = ref() if ref is not None else None
        if rec.get("file") in _OWN_FILES:
            continue
        if isinstance(code, types.CodeType):
            rec["code"] = code_key(code)
            if isinstance(rec.get("offset"), int):
                rec["line"] = line_of(code, rec["offset"])
        aborts.append(rec)

    used = {lp["code"] for lp in loops} | {e["code"] for e in exits if "code" in e} \
        | {a["code"] for a in aborts if "code" in a} \
        | {op["code"] for t in traces.values() for stage in ("traced", "optimized")
           for op in (t.get(stage) or {}).get("ops", []) if "code" in op}
    codes = {k: describe_code(_codes[k]) for k in sorted(used) if k in _codes}
    return {
        "version": REPORT_VERSION,
        "meta": {"python": sys.version.split()[0], "backend": params["backend"],
                 "argv": list(sys.argv), "wall_time": wall_time,
                 "params": log.jsonable(dict(params)), "ns_per_op": NS_PER_OP,
                 "created": time.strftime("%Y-%m-%d %H:%M:%S")},
        "stats": log.jsonable(stats.as_dict()),
        "codes": codes, "loops": loops, "traces": traces, "exits": exits, "aborts": aborts,
    }


def estimate_cpython_time(iterations: int, ops_per_iteration: int) -> float | None:
    """Seconds CPython would have taken for the iterations run in machine
    code, by the ``NS_PER_OP`` model; None without a loop body to count."""
    if not iterations or not ops_per_iteration:
        return None
    return iterations * ops_per_iteration * NS_PER_OP * 1e-9


# -- machine code ------------------------------------------------------------


def machine_code_of(trace: Any) -> dict[str, Any]:
    compiled = getattr(trace, "compiled", None)
    if compiled is None:
        return {"kind": "none", "why": "not compiled"}
    ir_text = getattr(compiled, "llvm_ir_optimized", None) or getattr(compiled, "llvm_ir", None)
    if ir_text:
        fn = getattr(compiled, "llvm_name", None)
        asm = getattr(compiled, "asm", None) or ""
        return {"kind": "llvm", "function": fn,
                "ir": _llvm_function(ir_text, fn) if fn else ir_text,
                "asm": _asm_function(asm, fn) if fn and asm else asm,
                "optimized_ir": bool(getattr(compiled, "llvm_ir_optimized", None))}
    owner = getattr(compiled, "owner", None)
    if getattr(compiled, "code_size", 0) and hasattr(owner, "address") \
            and "tracejit_x86_64" in type(compiled).__module__:
        return _x86_listing(compiled)
    return {"kind": "none", "why": f"the {type(compiled).__name__} shows no machine code"}


_x86_starts: dict[int, list[int]] = {}


def _x86_listing(compiled: Any) -> dict[str, Any]:
    """Disassemble one x86_64 trace: from its address to the start of the next
    trace of the same code block (or the block's end)."""
    import ctypes

    block = compiled.owner
    start = compiled.address
    end = block.address + compiled.code_size
    for other in _x86_starts.get(id(block), []):
        if start < other < end:
            end = other
    try:
        import capstone
    except ImportError:
        return {"kind": "none", "why": "capstone is not installed (pip install capstone)"}
    code = ctypes.string_at(start, end - start)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    lines = [[f"{i.address:#x}", i.mnemonic, i.op_str] for i in md.disasm(code, start)]
    return {"kind": "x86_64", "lines": lines, "bytes": end - start}


def _note_x86_blocks(traces: list[Any]) -> None:
    for t in traces:
        c = getattr(t, "compiled", None)
        owner = getattr(c, "owner", None)
        if c is not None and hasattr(owner, "address") and getattr(c, "code_size", 0):
            starts = _x86_starts.setdefault(id(owner), [])
            if c.address not in starts:
                starts.append(c.address)


def _llvm_function(text: str, name: str) -> str:
    """The ``define`` of one function out of a module's text."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("define") and f"@{name}(" in line.replace('"', ""):
            inside = True
        if inside:
            out.append(line)
            if line.startswith("}"):
                break
    return "\n".join(out) if out else text


def _asm_function(text: str, name: str) -> str:
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith(f"{name}:"):
            inside = True
        if inside and not line.lstrip().startswith(".cfi_"):
            out.append(line)
            if line.strip().startswith(".Lfunc_end"):
                break
    return "\n".join(out) if out else text


# -- reading a log back --------------------------------------------------------


def from_log(path: str) -> dict[str, Any]:
    """A report from a JSON-lines log: the last ``report`` event (written at
    exit) completed with the traces and aborts logged along the way; from the
    events alone if the program never reached its exit."""
    events = log.read(path)
    base: dict[str, Any] | None = None
    codes: dict[str, Any] = {}
    traced: dict[str, dict[str, Any]] = {}
    aborts = []
    start: dict[str, Any] = {}
    for e in events:
        kind = e.get("kind")
        if kind == "report" and isinstance(e.get("report"), dict):
            base = e["report"]
        elif kind == "code":
            codes[e["key"]] = {k: e.get(k) for k in
                               ("file", "name", "firstlineno", "lines", "bytecode")}
        elif kind == "trace":
            entry = traced.setdefault(e["name"], {"name": e["name"], "loop": e.get("loop", ""),
                                                  "kind": _trace_kind(e["name"])})
            entry[e.get("stage", "optimized")] = e.get("trace")
        elif kind in ABORT_KINDS:
            rec = {k: v for k, v in e.items() if k not in ("v", "text")}
            code = rec.pop("code", None)
            if isinstance(code, dict):
                rec["file"] = code.get("file")
                rec.setdefault("line", code.get("line"))
            aborts.append(rec)
        elif kind == "start" and not start:
            start = e
    if base is None:
        base = {"version": REPORT_VERSION,
                "meta": {"python": start.get("python"), "backend": start.get("backend"),
                         "argv": start.get("argv", []), "wall_time": None,
                         "params": start.get("params", {}), "ns_per_op": NS_PER_OP,
                         "from_log": path, "incomplete": True},
                "stats": {}, "codes": {}, "loops": [], "traces": {}, "exits": [],
                "aborts": aborts}
    base.setdefault("codes", {})
    for k, v in codes.items():
        base["codes"].setdefault(k, v)
    for name, entry in traced.items():
        have = base["traces"].setdefault(name, entry)
        for stage in ("traced", "optimized"):
            if not have.get(stage) and entry.get(stage):
                have[stage] = entry[stage]
    if not base.get("aborts"):
        base["aborts"] = aborts
    base["meta"]["from_log"] = path
    return base


def log_report(wall_time: float | None = None) -> None:
    """Write the report as the log's final ``report`` event (at exit)."""
    if log.enabled():
        log.event("report", report=gather(wall_time))
