"""The LLVM backend's helper process (tracejit_llvm.worker): object code made
there and linked here runs right; a helper that dies, says nonsense or is
replaced costs no loop its code; bad IR is a clear error; forked children and
a helper that cannot start compile in-process."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap

import pytest

import tracejit

if "llvm" not in tracejit.available_backends():
    pytest.skip("llvm backend not usable here", allow_module_level=True)

from tracejit_llvm import engines  # noqa: E402
from tracejit_llvm.worker import Worker, WorkerDied  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IR = """
define i64 @{name}(i64 %n, ptr %buf) {{
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %loop]
  %s = phi i64 [0, %entry], [%s1, %loop]
  %m = mul i64 %i, {k}
  %s1 = add i64 %s, %m
  %i1 = add i64 %i, 1
  %c = icmp slt i64 %i1, %n
  br i1 %c, label %loop, label %done
done:
  ret i64 %s1
}}
"""


def call(address: int, n: int) -> int:
    return ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)(address)(n, None)


def ready_worker(**kw) -> Worker:
    w = Worker(**kw)
    while w.compile(IR.format(name="warm", k=1), 2, False) is None:
        pass  # still loading LLVM
    return w


def test_object_code_from_the_helper_links_and_runs():
    engines.Machine.get()
    w = ready_worker()
    try:
        code, optimized, asm = w.compile(IR.format(name="tj_test_sum7", k=7), 2, True)
        assert code[:4] == b"\x7fELF" and "tj_test_sum7" in optimized and "ret" in asm
        owner, (address,) = engines.link(code, ["tj_test_sum7"])
        assert call(address, 1000) == 7 * 999 * 1000 // 2
        owner.release()
    finally:
        w.close()


def test_bad_ir_is_an_error_and_the_helper_serves_on():
    w = ready_worker()
    try:
        with pytest.raises(RuntimeError, match="llvm: .*"):
            w.compile("define i64 @f( {", 2, False)
        code, _, _ = w.compile(IR.format(name="tj_after_error", k=3), 2, False)
        assert code[:4] == b"\x7fELF"
        assert w.started == 1
    finally:
        w.close()


def test_a_dead_helper_is_replaced():
    events = []
    w = ready_worker(log=lambda text, **f: events.append(text))
    try:
        w.proc.kill()
        w.proc.wait()
        done = None
        while done is None:  # the new helper loads LLVM meanwhile
            done = w.compile(IR.format(name="tj_after_kill", k=5), 2, False)
        assert done[0][:4] == b"\x7fELF"
        assert w.started == 2
        assert any("started" in e for e in events)
    finally:
        w.close()


def test_the_helper_is_replaced_after_so_many_modules():
    w = ready_worker(restart_after=3)
    try:
        first = w.proc.pid
        for k in range(8):
            while w.compile(IR.format(name=f"tj_many{k}", k=k), 1, False) is None:
                pass
        assert w.started >= 3 and w.proc.pid != first
    finally:
        w.close()


def test_a_helper_that_cannot_start_is_a_clear_error(monkeypatch):
    w = Worker()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(WorkerDied, match="cannot start"):
        w.compile(IR.format(name="tj_never", k=1), 2, False)


def run_program(body: str, **env: str) -> str:
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]),
             **env)
    e.pop("TRACEJIT_LOG", None)
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(body)], env=e,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


PROGRAM = '''
    import os, sys, time, tracejit
    tracejit.set_param(backend="llvm", threshold=20)
    from tracejit_llvm import engines
    engines.Machine.get()
    if engines.Machine.worker is not None:
        w = engines.Machine.worker
        while not w.ready:  # compile in the helper from the first loop on
            with w.lock:
                w._is_ready(w._process())
            time.sleep(0.01)
    tracejit.enable()
    def f(n, k):
        s = 0.0
        for i in range(n):
            s += i * 0.5 if i % k else -i
        return s
    results = [f(20000, k) for k in range(2, 9)]
    w = engines.Machine.worker
    print(results == [sum(i * 0.5 if i % k else -i for i in range(20000)) for k in range(2, 9)],
          tracejit.stats()["loops_compiled"] > 0, w.served if w else "none",
          engines.Machine.worker_failed)
'''


def test_the_jit_compiles_through_the_helper():
    ok, compiled, served, failed = run_program(PROGRAM).split(maxsplit=3)
    assert (ok, compiled, failed.strip()) == ("True", "True", "None")
    assert int(served) > 0


def test_without_the_helper_it_compiles_in_process():
    out = run_program(PROGRAM, TRACEJIT_LLVM_WORKER="0").split()
    assert out == ["True", "True", "none", "None"]


def test_a_forked_child_compiles_in_process():
    out = run_program('''
        import os, time, tracejit
        tracejit.set_param(backend="llvm", threshold=20)
        from tracejit_llvm import engines
        engines.Machine.get()
        w = engines.Machine.worker
        parent_helper = w.proc.pid
        tracejit.enable()
        def f(n):
            s = 0
            for i in range(n):
                s += i * 3
            return s
        r, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            ok = f(50000) == sum(i * 3 for i in range(50000))
            alive = w.proc is None or w.proc.pid == parent_helper
            os.write(wfd, f"{ok} {tracejit.stats()['loops_compiled'] > 0} {w.served}".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.read(r, 100).decode(), w.proc.poll() is None)
    ''')
    assert out.split() == ["True", "True", "0", "True"]


def test_a_helper_that_never_says_ready_is_dropped(monkeypatch):
    # sys.executable may not be a python at all (an embedding program)
    events = []
    w = Worker(log=lambda text, **f: events.append(text))
    w.START_TIMEOUT = 0.5
    monkeypatch.setattr(sys, "executable", "/bin/cat")  # echoes, never "ready"
    with pytest.raises(WorkerDied):
        while w.compile(IR.format(name="tj_cat", k=1), 2, False) is None:
            pass
    assert any("dropped" in e for e in events)
    w.close()


def test_traces_sent_as_data_give_the_same_ir(monkeypatch):
    # what the helper builds from the wire format is, to the letter, what the
    # program would have built from the traces themselves (its addresses
    # included: the helper's own C functions are elsewhere)
    import tracejit_llvm

    from tests import programs
    from tracejit.testing.oracle import jit_enabled

    seen: list[tuple[list, list[str], str]] = []
    original = engines.Machine.object_code_of_traces

    def recording(traces, names, module_name, *rest):
        seen.append((list(traces), list(names), module_name))
        return original(traces, names, module_name, *rest)

    monkeypatch.setattr(engines.Machine, "object_code_of_traces", recording)
    chosen = ["vector_arithmetic", "matmul", "overflow_add", "super_method_chain",
              "closure_cell_rebound_mid_loop", "keyword_calls_to_builtins",
              "callee_loops_unrolled", "enumerate_sum", "dots_in_calls"]
    for name, func, make_args, _ in programs.PROGRAMS:
        if name in chosen:
            with jit_enabled("llvm"):
                try:
                    func(*make_args())
                except Exception:
                    pass
    assert len(seen) >= len(chosen)
    w = ready_worker()
    try:
        from tracejit_llvm import wire

        for traces, names, module_name in seen:
            here = tracejit_llvm.module_text(traces, names, module_name)
            encoded = wire.encode(traces, tracejit_llvm.process_symbols())
            there, code, _, _ = w.compile_traces(encoded, names, module_name, 2, True)
            assert there == here and code[:4] == b"\x7fELF"
    finally:
        w.close()
