"""Public API: logging, statistics, the backends command, tracer aborts."""

from __future__ import annotations

import subprocess
import sys

import tracejit
from tests import programs


def _run_with(tmp_path, monkeypatch, func, *args):
    log = tmp_path / "trace.log"
    monkeypatch.setenv("TRACEJIT_LOG", str(log))
    tracejit.reset()
    tracejit.set_param(backend="reference", threshold=3, bridge_threshold=3,
                       background_compile=0)
    tracejit.enable()
    try:
        result = func(*args)
    finally:
        tracejit.disable()
    return result, log.read_text()


def test_log_has_traces_resume_points_and_compile_times(tmp_path, monkeypatch):
    result, text = _run_with(tmp_path, monkeypatch, programs.int_to_float_switch, 300, 150)
    assert result == programs.int_to_float_switch(300, 150)
    assert "before optimization" in text and "after optimization" in text
    assert "resume at int_to_float_switch:" in text
    assert " ms by reference" in text


def test_log_records_abort_reasons(tmp_path, monkeypatch):
    _, text = _run_with(tmp_path, monkeypatch, programs.unsupported_dict, 300)
    assert "abort unsupported_dict" in text
    st = tracejit.stats()
    assert st["aborts"] and st["loops_compiled"] == 0


def test_stats_count_guard_failures_per_loop():
    tracejit.reset()
    tracejit.set_param(backend="reference", threshold=3, bridge_threshold=1000,
                       background_compile=0)
    tracejit.enable()
    try:
        programs.sum_items([1] * 200 + [2.5] + [3] * 100)
    finally:
        tracejit.disable()
    st = tracejit.stats()
    assert st["loops_compiled"] >= 1
    assert st["guard_failures"] >= 1
    assert sum(st["guard_failures_per_loop"].values()) == st["guard_failures"]
    assert st["compile_time"] > 0 and st["trace_time"] > 0


def test_backends_command_lists_both():
    out = subprocess.run([sys.executable, "-m", "tracejit", "backends"], capture_output=True,
                         text=True, check=True).stdout
    assert "llvm" in out and "reference" in out
    assert "usable" in out


def test_unknown_backend_in_environment_is_reported(tmp_path):
    code = ("import tracejit\n"
            "try:\n    tracejit.set_param(backend='nope')\n"
            "except ValueError as e:\n    print('clear error:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "clear error" in out and "nope" in out


def spin(n):
    i = 0
    while i < n:
        i += 1
    return i


def test_signals_interrupt_compiled_loops():
    """A compiled loop pauses for CPython regularly: a signal handler's
    exception surfaces in the loop as it would without the JIT."""
    import signal

    if "llvm" not in tracejit.available_backends():
        import pytest

        pytest.skip("llvm backend not usable here")

    def on_alarm(signum, frame):
        raise TimeoutError("alarm")

    old = signal.signal(signal.SIGALRM, on_alarm)
    tracejit.reset()
    tracejit.set_param(backend="llvm", threshold=3, background_compile=0)
    tracejit.enable()
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        spin(10**13)  # hours in CPython; the alarm must stop it
    except TimeoutError as e:
        assert str(e) == "alarm"
        assert e.__traceback__.tb_next.tb_frame.f_code is spin.__code__
    else:
        raise AssertionError("the loop ran to its end")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        tracejit.disable()
    assert tracejit.stats()["loops_compiled"] >= 1


def half_unsupported(n):
    d = {}
    t = 0
    for i in range(n):
        if i % 2 and i > 100:
            d[i % 7] = i  # a dict store: no bridge can be traced here
        t += i
    return t, len(d)


def test_loop_that_exits_every_iteration_is_given_up():
    """A guard failing nearly every iteration with no possible bridge must make
    the JIT back off to CPython instead of paying an exit per iteration."""
    import pytest

    if "llvm" not in tracejit.available_backends():
        pytest.skip("needs machine code: the criterion is time spent in it")
    tracejit.reset()
    tracejit.set_param(backend="llvm", threshold=3, bridge_threshold=3,
                       background_compile=0)
    tracejit.enable()
    try:
        result = half_unsupported(20000)
    finally:
        tracejit.disable()
    assert result == half_unsupported(20000)
    st = tracejit.stats()
    assert st["aborts"].get("too little work per entry into compiled code") == 1
    assert st["guard_failures"] < 1000  # not one per iteration (10000)
