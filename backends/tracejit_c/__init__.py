"""The C backend: each trace becomes a C function, compiled by the system C
compiler into a shared library that cffi loads.

It is the worked example of docs/writing-a-backend.md: the code generator is
``emit.py``; this module runs the compiler and hands the functions' addresses
to the runtime.  A trace batch (a loop and its entry trace) is one C file and
one compiler run, 50 to 150 ms: two to three times the LLVM backend's
compile latency, for code of similar speed.

``CC`` names the compiler (default ``cc``); ``TRACEJIT_C_DUMP=path`` appends
every generated C file to ``path``.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from typing import Any

from tracejit.backend import BackendUnavailable, MachineCodeTrace, Trace

from .emit import c_source

try:
    import cffi
except ImportError as e:  # pragma: no cover - reported by check_available
    cffi = None
    _IMPORT_ERROR: Exception | None = e
else:
    _IMPORT_ERROR = None

# -fwrapv and -fno-strict-aliasing are part of the generated code's semantics
# (see emit.PRELUDE); -fno-semantic-interposition lets the entry trace call
# its loop directly.  No vectorizing: gcc would read the inputs from buf with
# 16-byte loads just after the previous trace wrote them with 8-byte stores,
# a store-forwarding stall on every entry (mandelbrot ran 3x slower).
CFLAGS = ["-O2", "-fPIC", "-shared", "-fwrapv", "-fno-strict-aliasing",
          "-fno-semantic-interposition", "-fno-tree-vectorize", "-pipe"]

_batches = itertools.count()  # names the C functions: tj<batch>_<k>


class CTrace(MachineCodeTrace):
    """A compiled trace; ``c_source`` is the C file it came from."""

    __slots__ = ("c_source", "compile_seconds")


def compiler() -> list[str]:
    """The C compiler command: ``$CC`` or ``cc``."""
    return shlex.split(os.environ.get("CC", "cc"))


def build_library(source: str, symbols: list[str]) -> tuple[Any, list[int]]:
    """Compile ``source`` to a shared library, load it with cffi and return
    (the library, the address of each function in ``symbols``)."""
    with tempfile.TemporaryDirectory(prefix="tracejit_c_") as tmp:
        so = os.path.join(tmp, "trace.so")
        done = subprocess.run([*compiler(), *CFLAGS, "-x", "c", "-", "-o", so, "-lm"],
                              input=source, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the C compiler failed on generated code:\n{done.stderr}")
        ffi = cffi.FFI()
        ffi.cdef("".join(f"int64_t {s}(int64_t, int64_t *);\n" for s in symbols))
        # the file can go once it is mapped
        lib = ffi.dlopen(so)
    addresses = [int(ffi.cast("intptr_t", getattr(lib, s))) for s in symbols]
    return (ffi, lib), addresses


class Backend:
    """Compiles traces to C with the system C compiler."""

    name = "c"
    releases_gil = True  # the compiler is a subprocess: CPython runs meanwhile

    def __init__(self) -> None:
        self._checked: str | None = None

    def check_available(self) -> None:
        if _IMPORT_ERROR is not None:
            raise BackendUnavailable(f"cffi cannot be imported: {_IMPORT_ERROR}")
        cc = " ".join(compiler())
        if not compiler() or shutil.which(compiler()[0]) is None:
            raise BackendUnavailable(f"no C compiler: {cc!r} is not on PATH (set CC)")
        if self._checked is None:
            # compile and run a function of the trace shape once
            try:
                source = "#include <stdint.h>\nint64_t tj_probe(int64_t f, int64_t *b)" \
                         " { return f + b[0]; }\n"
                owner, (address,) = build_library(source, ["tj_probe"])
                buf = ctypes.c_int64(2)
                probe = MachineCodeTrace(address, owner)
                ok = probe.run(40, ctypes.addressof(buf)) == 42
                self._checked = "" if ok else "the compiled probe returned a wrong value"
            except (RuntimeError, OSError) as e:
                self._checked = f"the C compiler {cc!r} does not work here: {e}"
        if self._checked:
            raise BackendUnavailable(self._checked)

    def compile(self, trace: Trace) -> CTrace:
        return self.compile_many([trace])[0]

    def compile_many(self, traces: list[Trace]) -> list[CTrace]:
        """Compile traces that may jump to each other as one C file."""
        t0 = time.perf_counter()
        batch = next(_batches)
        names = [f"tj{batch}_{k}" for k in range(len(traces))]
        source = c_source(traces, names)
        dump = os.environ.get("TRACEJIT_C_DUMP")
        if dump:
            with open(dump, "a") as f:
                f.write(source)
        owner, addresses = build_library(source, names)
        seconds = time.perf_counter() - t0
        results = []
        for address in addresses:
            result = CTrace(address, owner)
            result.c_source = source
            result.compile_seconds = seconds / len(traces)
            results.append(result)
        return results
