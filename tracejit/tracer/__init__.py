"""The tracer package: a meta-interpreter of CPython bytecode recording IR.

``core`` holds the :class:`Tracer` (frame stack, locals, stack, boxes) and
its dispatch loop; ``recorder`` the operation recorder; ``table`` the
bytecode table the handler modules register into (``locals_stack``,
``arith``, ``compare``, ``control``, ``iteration``, ``containers``,
``namespaces``, ``calls``, ``cells``); ``builtins`` the builtin-function recorders;
``closing`` how traces end.
"""

from tracejit.aborts import Abort, TraceAbort
from tracejit.cpython import long_layout
from tracejit.tracer import (  # noqa: F401  (each registers its handlers)
    arith,
    calls,
    cells,
    compare,
    containers,
    control,
    iteration,
    locals_stack,
    namespaces,
)
from tracejit.tracer.calls import code_refusal
from tracejit.tracer.core import Tracer, TraceResult
from tracejit.tracer.table import BYTECODES

__all__ = ["Abort", "BYTECODES", "TraceAbort", "TraceResult", "Tracer", "code_refusal",
           "long_layout"]
