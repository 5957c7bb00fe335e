"""Where the LLVM backend's machine code lives: MCJIT engines holding the
object files that :mod:`tracejit_llvm.worker` makes.

MCJIT never gives back the code memory of an object it has linked; closing
the engine does.  So objects go into the current engine until it holds
``PER_ENGINE`` of them, and an engine is closed once every object in it has
been released (tracejit releases a trace when its code object is gone and no
thread runs it).  An engine costs about 0.75 MB: few objects per engine cost
memory, many keep released code longer.  Engines are held here, never only by
traces: llvmlite frees them in finalizers, which must not run while their
code may be used (see tracejit.backend).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

import llvmlite.binding as llvm

from tracejit.backend import backend_log
from tracejit_llvm.worker import Worker, WorkerDied, compile_ir, target_machine

PER_ENGINE = 32
# a helper process optimizes and generates code (it keeps llvmlite's
# per-module memory, and the GIL is free meanwhile); 0 does it in-process
USE_WORKER = os.environ.get("TRACEJIT_LLVM_WORKER", "1") != "0"
RESTART_AFTER = 200  # modules per helper process (about 14 MB of LLVM's)


class Machine:
    """The native target machine and LLVM's set-up, done once; the helper
    process, started with it."""

    tm: Any = None
    lock = threading.Lock()  # engines and their lists
    worker: Worker | None = None
    worker_failed: str | None = None  # why compiling went in-process

    @classmethod
    def get(cls) -> Any:
        with cls.lock:
            if cls.tm is None:
                cls.tm = target_machine(llvm)
                Engines.current = Engines.new()
                if USE_WORKER:
                    cls.worker = Worker(RESTART_AFTER, backend_log)
                    try:
                        cls.worker.start()
                    except WorkerDied as e:
                        cls._give_up_worker(str(e))
                    atexit.register(cls.worker.close)
            return cls.tm

    @classmethod
    def _give_up_worker(cls, reason: str) -> None:
        cls.worker_failed = reason
        cls.worker = None
        backend_log(f"LLVM compiles in-process from now on: {reason}", backend="llvm",
                    reason=reason)

    @classmethod
    def object_code(cls, text: str, speed_level: int, want_listing: bool
                    ) -> tuple[bytes, str | None, str | None]:
        """Optimize and generate code for module ``text`` (in the helper
        process if there is one)."""
        tm = cls.get()
        worker = cls.worker
        if worker is not None:
            try:
                done = worker.compile(text, speed_level, want_listing)
            except WorkerDied as e:
                cls._give_up_worker(str(e))
            else:
                if done is not None:
                    return done
        # no helper, or it is still loading LLVM: not worth waiting for
        return compile_ir(llvm, tm, text, speed_level, want_listing)


    @classmethod
    def object_code_of_traces(cls, traces: list[Any], names: list[str], module_name: str,
                              speed_level: int, want_listing: bool
                              ) -> tuple[str | None, bytes, str | None, str | None] | None:
        """IR text (if ``want_listing``), object code, optimized IR and
        assembly for ``traces``, all made in the helper process; None when
        there is no helper able to (the caller then builds the IR)."""
        cls.get()
        worker = cls.worker
        if worker is None:
            return None
        from tracejit_llvm import process_symbols, wire

        try:
            encoded = wire.encode(traces, process_symbols())
        except TypeError as e:  # a descriptor the wire format does not know
            backend_log(f"LLVM builds this module's IR in-process: {e}", backend="llvm",
                        reason=str(e))
            return None
        try:
            return worker.compile_traces(encoded, names, module_name, speed_level,
                                         want_listing)
        except WorkerDied as e:
            cls._give_up_worker(str(e))
            return None


class Engine:
    __slots__ = ("engine", "objects", "added")

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.objects: list[Any] = []  # ObjectHandles of the live objects in it
        self.added = 0
        Engines.all.append(self)

    def close(self) -> None:
        self.engine.close()  # frees the code memory
        Engines.all.remove(self)


class Engines:
    current: Engine | None = None
    all: list[Engine] = []  # every open engine
    released: list[Any] = []  # ObjectHandles released since the last reap

    @staticmethod
    def new() -> Engine:
        # an MCJIT engine owns its target machine: engines never share one
        tm = llvm.Target.from_default_triple().create_target_machine(opt=2, jit=True)
        return Engine(llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm))

    @classmethod
    def reap(cls) -> None:
        """Close engines left without live objects (under ``Machine.lock``)."""
        while cls.released:
            handle = cls.released.pop()
            eng = handle.engine
            eng.objects.remove(handle)
            if not eng.objects and eng is not cls.current:
                eng.close()


class ObjectHandle:
    """The owner of one linked object file's traces."""

    __slots__ = ("engine", "released")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.released = False
        engine.objects.append(self)
        engine.added += 1

    def release(self) -> None:
        if not self.released:
            self.released = True
            Engines.released.append(self)  # reaped at the next link


def link(code: bytes, names: list[str]) -> tuple[ObjectHandle, list[int]]:
    """Load object ``code`` into the current engine; its functions
    ``names``' addresses."""
    with Machine.lock:
        Engines.reap()
        eng = Engines.current
        if eng.added >= PER_ENGINE:
            old, eng = eng, Engines.new()
            Engines.current = eng
            if not old.objects:
                old.close()
        eng.engine.add_object_file(llvm.ObjectFileRef.from_data(code))
        eng.engine.finalize_object()
        owner = ObjectHandle(eng)
        addresses = [eng.engine.get_function_address(n) for n in names]
    if not all(addresses):
        raise RuntimeError(f"llvm: functions missing from the linked object: {names}")
    return owner, addresses
