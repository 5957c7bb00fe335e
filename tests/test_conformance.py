"""The backend conformance suite on every installed backend, and proof that
it catches broken backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tracejit
from tracejit.backend import BackendUnavailable
from tracejit.ir import OPS, InputArg, Op, Trace
from tracejit.registry import get_backend
from tracejit.testing import conformance

BACKENDS = tracejit.backend_names()  # unusable ones are skipped, with the reason
CASES = conformance.cases()

# Genuine backend bugs, reported to their authors; the case is expected to
# fail until they are fixed (strict: a fix makes the test pass loudly).
# (backend, case) -> reason, for a bug reported and not fixed yet (strict
# xfail: fixing it shows).  Found by this suite and fixed: llvm's srem trap on
# INT64_MIN % -1, and llvm's TBAA tags that let raw loads/stores miss object
# fields at the same address.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _usable(name: str) -> Any:
    try:
        return get_backend(name)
    except BackendUnavailable as e:
        pytest.skip(f"backend {name} is not usable here: {e}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_conformance(backend_name: str, case: conformance.Case,
                     request: pytest.FixtureRequest) -> None:
    backend = _usable(backend_name)
    reason = KNOWN_BUGS.get((backend_name, case.name))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    report = conformance.run_case(backend, case)
    assert not report.failures, "\n".join(report.failures)


def test_every_op_has_a_case() -> None:
    covered = {op for c in CASES for op in c.ops}
    assert set(OPS) <= covered
    missing = [c.name for c in CASES if c.doc.startswith("an operation of OPS without")]
    assert not missing


def test_a_missing_op_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracejit.testing import conformance_cases

    monkeypatch.delitem(conformance_cases.OP_CASES, "int_or")
    failures = conformance.backend_suite("reference", only=["op.int_or"])
    assert failures and "no case for it" in failures[0]


# ---------------------------------------------------------------------------
# deliberately broken backends: the suite must name the right cases


def _rewritten(trace: Trace, mutate: Callable[[Op], Op | None]) -> Trace:
    """A copy of ``trace`` with each op passed through ``mutate`` (None drops
    it); exits are shared, so exit numbers and bridge slots stay the same."""
    mapping: dict[int, Any] = {}

    def m(v: Any) -> Any:
        return mapping.get(id(v), v)

    inputs = []
    for a in trace.inputargs:
        mapping[id(a)] = new = InputArg(a.type)
        inputs.append(new)
    ops = []
    for op in trace.ops:
        new = Op(op.name, [m(a) for a in op.args], op.descr)
        new.exit = op.exit
        new.fail_args = None if op.fail_args is None else [m(a) for a in op.fail_args]
        new = mutate(new)
        if new is None:
            continue
        mapping[id(op)] = new
        ops.append(new)
    return Trace(inputs, ops, name=trace.name)


class BrokenBackend:
    """Compiles a mutated copy of each trace with a working backend."""

    def __init__(self, inner: Any, mutate: Callable[[Op], Op | None]) -> None:
        self.inner = inner
        self.mutate = mutate
        self.name = f"{inner.name}+{mutate.__name__}"

    def check_available(self) -> None:
        self.inner.check_available()

    def compile(self, trace: Trace) -> Any:
        return self.inner.compile(_rewritten(trace, self.mutate))


def add_becomes_sub(op: Op) -> Op:
    if op.name == "int_add":
        op.name = "int_sub"
    return op


def guard_true_never_fires(op: Op) -> Op | None:
    return None if op.name == "guard_true" else op


def fail_args_reversed(op: Op) -> Op:
    if op.fail_args:
        op.fail_args = op.fail_args[::-1]
    return op


def _failed_cases(backend: Any, names: list[str]) -> set[str]:
    failures = conformance.backend_suite(backend, only=names)
    return {f.split(":", 1)[0] for f in failures}


@pytest.mark.parametrize("inner_name", ["reference", "llvm"])
def test_the_suite_catches_broken_backends(inner_name: str) -> None:
    inner = _usable(inner_name)
    assert _failed_cases(BrokenBackend(inner, add_becomes_sub),
                         ["op.int_add", "op.int_sub", "loop.iterations"]) == \
        {"op.int_add", "loop.iterations"}
    assert _failed_cases(BrokenBackend(inner, guard_true_never_fires),
                         ["op.guard_true", "op.guard_false", "op.int_lt"]) == \
        {"op.guard_true", "op.int_lt"}
    assert _failed_cases(BrokenBackend(inner, fail_args_reversed),
                         ["exit.many_values", "op.int_add", "refcount.decref_frees"]) == \
        {"exit.many_values", "op.int_add"}


def test_failure_messages_name_the_inputs() -> None:
    broken = BrokenBackend(get_backend("reference"), add_becomes_sub)
    failures = conformance.backend_suite(broken, only=["op.int_add"])
    assert any("int_add(" in f and "expected" in f and "got" in f for f in failures)


def test_a_crash_is_a_failure_not_the_end() -> None:
    class Crashing:
        name = "crashing"

        def check_available(self) -> None:
            pass

        def compile(self, trace: Trace) -> Any:
            import os
            import signal

            class Run:
                address = 1

                def run(self, frame: int, buf: int) -> int:
                    os.kill(os.getpid(), signal.SIGSEGV)
                    return 0

            return Run()

    failures = conformance.backend_suite(Crashing(), only=["op.int_neg"], isolate=True)
    assert failures and "SIGSEGV" in failures[0] and "int_neg" in failures[0]


def test_a_hang_is_a_failure_not_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # int_add -> int_sub makes the bridge's loop counter run away from its bound
    monkeypatch.setattr(conformance, "CASE_TIMEOUT", 2.0)
    broken = BrokenBackend(get_backend("reference"), add_becomes_sub)
    failures = conformance.backend_suite(broken, only=["bridge.into_loop"], isolate=True)
    assert failures and "stopped after 2 s" in failures[-1]
