"""Why a trace stopped: an enumeration of abort reasons, with details.

Control flow tests the reason (``e.reason is Abort.LOOP_ENDED``), never the
message; the message (the reason's template filled with the details) is what
statistics and the log show.
"""

from __future__ import annotations

import enum


class Abort(enum.Enum):
    """Abort reasons; each value is the message template."""

    TOO_LONG = "trace too long"
    LOOP_ENDED = "loop ended while tracing it"  # bad timing: retry soon
    BYTECODE = "unsupported bytecode {}"
    OPERATION = "{}"  # an operation on operands the tracer does not handle
    RAISES = "{}"  # the operation raises right now: CPython raises it
    BIG_INT = "{}"  # a value outside int64 where the trace needs one
    CALL = "{}"  # a call the tracer cannot record
    INLINE = "{}"  # a Python callee the tracer cannot inline
    ATTRIBUTE = "{}"
    GLOBAL = "{}"
    ITERATION = "{}"
    VIRTUAL = "{}"  # a virtual object where a real one is needed
    UNBOUND = "{}"  # a local without a value
    UNSTABLE = "{}"  # types or stack differ around the loop
    NO_TARGET = "{}"  # a loop trace reached a header it cannot jump to
    INTERNAL = "internal: {}"  # a tracer invariant failed (a tracer bug)

    def message(self, detail: str) -> str:
        return self.value.format(detail) if "{}" in self.value else self.value


class TraceAbort(Exception):
    """Tracing stops; CPython carries on from the instruction being traced."""

    def __init__(self, reason: Abort, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        self.message = reason.message(detail)
        # (offset, stack) of the top frame CPython resumes with, when not the
        # instruction's own (see tracer.residual.raise_at_call)
        self.resume_at: tuple[int, list] | None = None
        super().__init__(self.message)
