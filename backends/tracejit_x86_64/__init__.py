"""The x86-64 backend: traces to machine code without a compiler library.

Pipeline per batch of traces: linear-scan register allocation
(:mod:`.regalloc`), lowering of each operation (:mod:`.codegen`) through an
assembler whose instruction bytes come from PeachPy's encoder, cached per
instruction form (:mod:`.asm`), then loading into read+execute memory
(:mod:`.memory`).  ``TRACEJIT_X86_DUMP=1`` prints the disassembly of every
compiled batch to stderr (with capstone if it is importable, else hex).
"""

from __future__ import annotations

import os
import platform
import sys
import time

from tracejit.backend import BackendUnavailable, MachineCodeTrace, Trace, c_symbol

from .asm import Asm
from .codegen import CodeGen
from .memory import CodeBlock
from .regalloc import allocate

total_compile_seconds = 0.0


class X86Trace(MachineCodeTrace):
    """A compiled trace; ``compile_seconds`` is its share of the batch time."""

    __slots__ = ("compile_seconds",)

    def release(self) -> None:
        """Unmap the batch's code block (tracejit knows nothing runs it)."""
        self.owner.free()


def _cpu_has_sse41() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "sse4_1" in line.split()
    except OSError:
        pass
    return False


class Backend:
    """Compiles traces to x86-64 machine code."""

    name = "x86_64"

    def __init__(self) -> None:
        self._helpers: dict[str, int] = {}

    def check_available(self) -> None:
        machine = platform.machine().lower()
        if machine not in ("x86_64", "amd64") or not sys.platform.startswith("linux"):
            raise BackendUnavailable(
                f"the x86_64 backend needs x86-64 Linux (this is {sys.platform}/{machine})")
        if sys.maxsize != (1 << 63) - 1:
            raise BackendUnavailable("the x86_64 backend needs a 64-bit Python")
        try:
            import peachpy.x86_64  # noqa: F401
        except Exception as e:
            raise BackendUnavailable(
                f"PeachPy cannot be imported ({e}); install Debian's python3-peachpy "
                "(see the project's set-up script)") from e
        if not _cpu_has_sse41():
            raise BackendUnavailable("the x86_64 backend needs SSE4.1 (roundsd)")
        try:
            self.helpers()
        except LookupError as e:
            raise BackendUnavailable(str(e)) from e

    def helpers(self) -> dict[str, int]:
        if not self._helpers:
            self._helpers = {n: c_symbol(n) for n in ("fmod", "Py_DecRef")}
        return self._helpers

    def compile(self, trace: Trace) -> MachineCodeTrace:
        return self.compile_many([trace])[0]

    def compile_many(self, traces: list[Trace]) -> list[MachineCodeTrace]:
        """Compile traces into one code block; a trace may jump straight to
        one compiled before it in the same batch."""
        global total_compile_seconds
        t0 = time.perf_counter()
        asm = Asm()
        entries = [asm.new_label() for _ in traces]
        siblings = {id(t): e for t, e in zip(traces, entries)}
        helpers = self.helpers()
        for trace, entry in zip(traces, entries):
            asm.align(16)
            CodeGen(asm, trace, allocate(trace), entry, siblings, helpers).generate()
        code = asm.finish()
        block = CodeBlock(code)
        seconds = time.perf_counter() - t0
        total_compile_seconds += seconds
        if os.environ.get("TRACEJIT_X86_DUMP"):
            from .disasm import dump

            dump(traces, code, block.address, [asm.labels[e] for e in entries])
        results = []
        for e in entries:
            result = X86Trace(block.address + asm.labels[e], owner=block, code_size=len(code))
            result.compile_seconds = seconds / len(traces)
            results.append(result)
        return results
