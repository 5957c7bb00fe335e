"""User-settable parameters, statistics and the trace log."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULTS: dict[str, Any] = {
    "threshold": 200,  # back-jumps of one loop before it is traced
    "trace_limit": 6000,  # operations in one trace before tracing aborts
    "bridge_threshold": 20,  # failures of one guard before a bridge is traced
    "backend": os.environ.get("TRACEJIT_BACKEND", "llvm"),
    # the backends a trace goes through as it stays hot (tracejit.tiers):
    # "auto" is x86_64 then llvm (llvm at its cheapest level first where
    # x86_64 is unusable); TRACEJIT_BACKEND=name or set_param(backend=name)
    # mean that backend only
    "tiers": os.environ.get("TRACEJIT_BACKEND", "auto"),
    "tier_up_ms": 1000,  # ms spent in a loop's compiled code before its next tier
    "tier_async": 1,  # 1: compile the next tier on a helper thread
    # 1: a loop whose compiled code runs slower than the interpreter did
    # (sampled, see tracejit.tiers) is handed back to CPython
    "give_back": 1,
    "max_versions": 4,  # compiled variants (type combinations) per loop
    "max_aborts": 4,  # aborted traces of one loop before it is blacklisted
    "inline_depth": 8,  # nested inlined calls (bounds recursion)
    # iterations of an inlined function's own loops unrolled into a trace;
    # a callee whose loop runs longer is called (a residual call) from then
    # on; 0: functions with loops are called, never inlined (the default:
    # unrolling made raytracer's and fannkuch's first runs slower)
    "callee_loop_unroll": 0,
    "background_compile": 0,  # 1: compile machine code on a helper thread
    # 1: an exit taken often that cannot grow a bridge gets a compiled stub
    # writing the frame itself (tracejit.writeback)
    "compiled_exits": 1,
    # 1: objects of class calls stay virtual in traces until they escape
    # (tracer.virtuals); 0: every one is built where it is made
    "virtuals": 1,
    # debug: force every guard (inject_guard=-1) or the k-th guard compiled to
    # fail once, on its inject_nth-th execution (0: off); see tracejit.inject
    "inject_nth": 0,
    "inject_guard": -1,
}

params: dict[str, Any] = dict(DEFAULTS)


@dataclass
class Stats:
    loops_traced: int = 0
    loops_compiled: int = 0
    bridges_compiled: int = 0
    aborts: dict[str, int] = field(default_factory=dict)
    blacklisted: int = 0
    guard_failures: int = 0
    entries: int = 0
    trace_time: float = 0.0
    compile_time: float = 0.0
    compile_times: list[float] = field(default_factory=list)
    failures_per_loop: dict[str, int] = field(default_factory=dict)
    first_entry: float | None = None  # time.perf_counter() of the first entry
    compiled_time: float = 0.0  # seconds spent inside machine code
    guards_compiled: int = 0  # guards with resume data, in compiled traces
    forced_failures: int = 0  # failures injected by inject_nth
    writeback_stubs: int = 0  # exits given a compiled frame write-back
    written_exits: int = 0  # exits that wrote the frame in machine code
    callee_resumes: int = 0  # exits (and aborts) resumed inside inlined callees
    stale_callee_resumes: int = 0  # of those, callee frames whose call never started
    tier_ups: int = 0  # groups of traces recompiled in a later tier
    tier_compile_times: dict[str, list[float]] = field(default_factory=dict)  # by tier
    given_back: dict[str, str] = field(default_factory=dict)  # loop -> why, slower compiled

    def as_dict(self) -> dict[str, Any]:
        return {
            "loops_traced": self.loops_traced,
            "loops_compiled": self.loops_compiled,
            "bridges_compiled": self.bridges_compiled,
            "aborts": dict(self.aborts),
            "blacklisted": self.blacklisted,
            "guard_failures": self.guard_failures,
            "entries": self.entries,
            "trace_time": self.trace_time,
            "compile_time": self.compile_time,
            "compile_times": list(self.compile_times),
            "guard_failures_per_loop": dict(self.failures_per_loop),
            "backend": _backends_in_use(),
            "first_entry": self.first_entry,
            "compiled_time": self.compiled_time,
            "guards_compiled": self.guards_compiled,
            "forced_failures": self.forced_failures,
            "writeback_stubs": self.writeback_stubs,
            "written_exits": self.written_exits,
            "callee_resumes": self.callee_resumes,
            "stale_callee_resumes": self.stale_callee_resumes,
            "tiers": params["tiers"],
            "tier_ups": self.tier_ups,
            "tier_compile_times": {k: list(v) for k, v in self.tier_compile_times.items()},
            "given_back": dict(self.given_back),
        }


stats = Stats()


def _backends_in_use() -> str:
    import sys

    tiers = sys.modules.get("tracejit.tiers")
    return tiers.describe() if tiers is not None else params["backend"]


def log_enabled() -> bool:
    """True when a log file or an in-process listener (the report) is on."""
    from tracejit import log as _log

    return _log.enabled()


def log(text: str, kind: str = "message", **fields: Any) -> None:
    """Compatibility shim: one event for :mod:`tracejit.log` (nothing when no
    log is on).  ``text`` is the human-readable line; ``kind`` and ``fields``
    make it a structured event (see docs/log-format.md)."""
    from tracejit import log as _log

    if kind == "trace" and "trace" in fields:  # serialized with bytecode positions
        if _log.enabled():
            from tracejit import report

            report.record_trace(fields.pop("name", ""), fields.pop("stage", "optimized"),
                                fields.pop("trace"), text=text, **fields)
        return
    _log.event(kind, text=text, **fields)
