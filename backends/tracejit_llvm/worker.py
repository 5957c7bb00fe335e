"""LLVM's optimizer and code generator in a helper process.

The LLVM backend hands a module's IR text to this process and gets back an
object file, which it links into an MCJIT engine of its own.  Two reasons:

* llvmlite's pass pipeline keeps about 70 KB per module it optimizes (see
  ``bench/llvm_pass_leak.py``): here that memory belongs to a process that
  the backend replaces every ``RESTART_AFTER`` modules, so the program's
  memory stays bounded however many loops it compiles;
* the program's threads never wait for the GIL behind LLVM: the thread that
  compiles only blocks on a pipe.

The protocol, on stdin/stdout: each message is an 8-byte little-endian length
and a pickled tuple.  The helper first says ``("ready", llvm_version,
builds_ir)`` once LLVM is loaded; until then the backend compiles in-process
rather than wait.  A request is ``("ir", ir_text, speed_level,
want_listing)`` or ``("traces", encoded, names, module_name, speed_level,
want_listing)`` (traces encoded by :mod:`tracejit_llvm.wire`: the helper
builds the IR itself, so that not even llvmlite's IR builder runs in the
program); the answer ``("ok", object_bytes, optimized_ir, assembly)``, plus
the IR text for traces (the last ones ``None`` unless a listing was asked
for), or ``("error", message)``.  The process exits at end of input.

    python -m tracejit_llvm.worker
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any, BinaryIO

HEADER = struct.Struct("<Q")


def read_message(stream: BinaryIO) -> Any:
    """The next message, or None at end of input."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def write_message(stream: BinaryIO, message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def target_machine(llvm: Any) -> Any:
    """The target machine both sides use: the process's own, at the code
    model MCJIT links."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.Target.from_default_triple().create_target_machine(opt=2, jit=True)


def compile_ir(llvm: Any, tm: Any, text: str, speed_level: int, want_listing: bool
               ) -> tuple[bytes, str | None, str | None]:
    context = llvm.create_context()
    mod = llvm.parse_assembly(text, context=context)
    try:
        mod.verify()
        # a pass builder per module: its analysis managers cache results per
        # module and function, and would keep them for every module ever run
        pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
        pb = llvm.create_pass_builder(tm, pto)
        mpm = pb.getModulePassManager()
        mpm.run(mod, pb)
        mpm.close()
        pb.close()
        pto.close()
        optimized = asm = None
        if want_listing:
            optimized = str(mod)
            asm = tm.emit_assembly(mod)
        return tm.emit_object(mod), optimized, asm
    finally:
        mod.close()
        context.close()


class WorkerDied(RuntimeError):
    """The helper process could not be started or stopped answering."""


class _HelperError(Exception):
    """The helper said something other than what the protocol says."""


# what a broken helper or pipe raises; nothing wider: an exception raised by
# the program's signal handler while the JIT waits here (a TimeoutError from
# an alarm, say, which is an OSError too) is the program's, never swallowed
_PIPE_ERRORS = (ConnectionError, EOFError, ValueError, pickle.UnpicklingError, _HelperError)


class Worker:
    """The backend's side: one helper process, replaced after
    ``restart_after`` modules."""

    START_TIMEOUT = 20.0  # seconds to say "ready"

    def __init__(self, restart_after: int = 200, log: Any = None) -> None:
        self.restart_after = restart_after
        self.log = log or (lambda text, **fields: None)
        self.proc: subprocess.Popen | None = None
        self.pid = 0  # the process that started ``proc``
        self.start_time = 0.0
        self.retired: list[subprocess.Popen] = []  # stopped, not yet reaped
        self.served = 0
        self.started = 0
        self.ready = False  # the helper said it has loaded LLVM
        self.builds_ir = False  # and that it can build IR from traces (tracejit loaded)
        self.lock = threading.Lock()

    def start(self) -> None:
        """Start the helper now (it loads LLVM while the program runs on)."""
        with self.lock:
            self._process()

    def _process(self) -> subprocess.Popen | None:
        """The helper, started if need be; None in a process made by
        ``os.fork()`` after the helper started (it compiles in-process: a
        helper per forked child would cost more than it saves)."""
        if self.pid and self.pid != os.getpid():
            self._drop()
            return None
        if self.proc is not None and self.proc.poll() is not None:
            self._drop()
        if self.proc is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJIT")}
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-X", "faulthandler", os.path.abspath(__file__)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                    close_fds=True)
            except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
                raise WorkerDied(f"cannot start the LLVM helper process: {e}") from e
            self.pid = os.getpid()
            self.start_time = time.monotonic()
            self.served = 0
            self.ready = False
            self.started += 1
            self.log(f"LLVM helper process {self.proc.pid} started", backend="llvm",
                     pid=self.proc.pid)
        return self.proc

    def _drop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if self.pid != os.getpid():  # a fork's copy: the parent's helper, not ours
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except _PIPE_ERRORS:
                    pass
            return
        try:
            proc.stdin.close()  # end of input: it exits
        except _PIPE_ERRORS:
            pass
        proc.stdout.close()
        self.retired.append(proc)  # reaped later: no waiting on the compile path
        self.retired = [p for p in self.retired if p.poll() is None]

    def close(self) -> None:
        """Stop the helper, and wait for every helper stopped before."""
        with self.lock:
            self._drop()
            if self.pid != os.getpid():  # a fork's copy: those helpers are the parent's
                self.retired = []
                return
            for proc in self.retired:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.retired = []

    def _is_ready(self, proc: subprocess.Popen) -> bool:
        if not self.ready and select.select([proc.stdout], [], [], 0)[0]:
            answer = read_message(proc.stdout)
            if answer is None or answer[0] != "ready":
                raise _HelperError(f"the LLVM helper process said {answer!r} at start")
            self.ready = True
            self.builds_ir = bool(answer[2])
        if not self.ready and time.monotonic() - self.start_time > self.START_TIMEOUT:
            raise _HelperError("the LLVM helper process did not load LLVM in "
                          f"{self.START_TIMEOUT} s")  # (sys.executable is not a python?)
        return self.ready

    def compile(self, text: str, speed_level: int, want_listing: bool
                ) -> tuple[bytes, str | None, str | None] | None:
        """Object code for the module ``text`` (and its optimized IR and
        assembly if ``want_listing``), or None while the helper is still
        loading LLVM; RuntimeError for bad IR, WorkerDied when the helper
        cannot do it (twice in a row)."""
        answer = self._ask(("ir", text, speed_level, want_listing))
        return None if answer is None else (answer[0], answer[1], answer[2])

    def compile_traces(self, encoded: list, names: list[str], module_name: str,
                       speed_level: int, want_listing: bool
                       ) -> tuple[str | None, bytes, str | None, str | None] | None:
        """As :meth:`compile`, the helper building the IR from traces encoded
        by :mod:`tracejit_llvm.wire` (returns the IR text first, if
        ``want_listing``); None also when this helper cannot build IR."""
        if self.ready and not self.builds_ir:
            return None
        answer = self._ask(("traces", encoded, names, module_name, speed_level, want_listing),
                           needs_builder=True)
        return None if answer is None else (answer[3], answer[0], answer[1], answer[2])

    def _ask(self, request: tuple, needs_builder: bool = False) -> tuple | None:
        with self.lock:
            for _attempt in range(2):
                proc = self._process()
                if proc is None:
                    return None
                try:
                    if not self._is_ready(proc):
                        return None
                except _PIPE_ERRORS as e:
                    self.log(f"LLVM helper process {proc.pid} dropped: {e}", backend="llvm",
                             pid=proc.pid, reason=str(e))
                    proc.kill()
                    self._drop()
                    continue
                if needs_builder and not self.builds_ir:
                    return None
                try:
                    write_message(proc.stdin, request)
                    answer = read_message(proc.stdout)
                except _PIPE_ERRORS:
                    answer = None
                if answer is None:
                    self.log(f"LLVM helper process {proc.pid} died", backend="llvm",
                             pid=proc.pid, reason="no answer")
                    self._drop()
                    continue
                self.served += 1
                if self.served >= self.restart_after:
                    self.log(f"LLVM helper process {proc.pid} replaced after "
                             f"{self.served} modules", backend="llvm", pid=proc.pid,
                             modules=self.served)
                    self._drop()
                    self._process()  # the next one loads LLVM meanwhile
                if answer[0] == "error":
                    raise RuntimeError(f"llvm: {answer[1]}")
                return answer[1:]
            raise WorkerDied("the LLVM helper process died twice in a row")


def _ir_builder() -> Any:
    """``(encoded, names, module_name) -> IR text``, or None when the
    backend's IR generator cannot be loaded here (tracejit not importable)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        sys.path[0] = os.path.dirname(here)  # the backends folder, not this package's
    try:
        import tracejit_llvm
        from tracejit_llvm import wire
    except Exception:
        return None

    def build(encoded: tuple, names: list[str], module_name: str) -> str:
        traces, symbols = wire.decode(encoded)
        return tracejit_llvm.module_text(traces, names, module_name, symbols)

    return build


def _serve(llvm: Any, tm: Any, build: Any, request: tuple) -> tuple:
    if request[0] == "ir":
        _, text, speed_level, want_listing = request
        return ("ok", *compile_ir(llvm, tm, text, speed_level, want_listing))
    _, encoded, names, module_name, speed_level, want_listing = request
    text = build(encoded, names, module_name)
    return ("ok", *compile_ir(llvm, tm, text, speed_level, want_listing),
            text if want_listing else None)


def main() -> int:
    import llvmlite.binding as llvm

    tm = target_machine(llvm)
    build = _ir_builder()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        write_message(stdout, ("ready", llvm.llvm_version_info, build is not None))
        while True:
            request = read_message(stdin)
            if request is None:
                return 0
            try:
                answer = _serve(llvm, tm, build, request)
            except Exception as e:  # bad IR is the backend's bug: say so, keep serving
                answer = ("error", f"{type(e).__name__}: {e}")
            write_message(stdout, answer)
    except (BrokenPipeError, KeyboardInterrupt):  # the program has gone
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
