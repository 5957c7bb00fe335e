"""Compiled deoptimization: exits that write the CPython frame themselves.

Leaving machine code normally returns to Python, which decodes the exit
buffer, boxes the values and writes them into the frame (:mod:`resume`):
about 6 us.  A loop left often through an exit that cannot grow a bridge (the
end of a small loop nest inside a function called in a loop, say) pays that on
every call.  For such an exit the runtime compiles a *write-back stub*: an IR
trace attached to the exit's bridge slot, which boxes the live values, stores
them into the frame's local and stack slots, sets the stack depth and the
instruction pointer exactly as :func:`tracejit.cpython.write_frame` does, and
returns :data:`FRAME_WRITTEN`.  The hook then simply lets CPython continue.

Virtual tuples are built with ``PyTuple_New``; exits whose resume state holds
a virtual range keep the Python path.
"""

from __future__ import annotations

from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.ir import (
    CONST_NULL,
    ExitDescr,
    InputArg,
    Op,
    Trace,
    Value,
    const_int,
    const_ref,
)
from tracejit.resume import ResumeData
from tracejit.tracer import K_BOOL, K_FLOAT, K_INT

FRAME_WRITTEN = 1  # the exit number a write-back stub returns


def supported(rd: ResumeData) -> bool:
    """Whether every slot of ``rd`` is a buffer value, a constant, NULL or a
    tuple of those."""
    def simple(slot: tuple) -> bool:
        if slot[0] == "tuple":
            return all(simple(s) for s in slot[1])
        return slot[0] in ("arg", "const", "null")

    return all(simple(s) for s in [s for _, s in rd.locals] + list(rd.stack))


def build(rd: ResumeData, fail_types: str) -> Trace:
    """The write-back stub for an exit with resume data ``rd``."""
    inputs = [InputArg(t) for t in fail_types]
    ops: list[Op] = []
    keepalive: list[Any] = []

    def emit(name: str, args: list[Value], descr: Any = None) -> Op:
        op = Op(name, args, descr)
        ops.append(op)
        return op

    def new_reference(slot: tuple) -> Value:
        """A reference the frame will own, for one resume slot."""
        if slot[0] == "null":
            return CONST_NULL
        if slot[0] == "tuple":
            items = [new_reference(item) for item in slot[1]]
            tup = emit("call_r", [const_int(len(items))], helpers.new_tuple())
            for k, item in enumerate(items):  # the tuple takes over each reference
                emit("setfield_r", [tup, item], cp.TUPLE_ITEMS + 8 * k)
            return tup
        if slot[0] == "const":
            keepalive.append(slot[1])
            ref = const_ref(slot[1])
            emit("call_v", [ref], helpers.xincref())
            return ref
        _, k, kind, owned, _ = slot
        value = inputs[k]
        if kind == K_INT:
            return emit("call_r", [value], helpers.box_int())
        if kind == K_FLOAT:
            return emit("call_r", [value], helpers.box_float())
        if kind == K_BOOL:
            ref = cp.emit_box_bool(emit, value)
        else:
            ref = value
            if owned:
                return ref  # the compiled code hands its reference to the frame
        emit("call_v", [ref], helpers.xincref())
        return ref

    nlocals = cp.nlocalsplus(rd.code)
    frame = emit("get_frame", [])
    iframe = emit("raw_load_i", [frame], cp.FRAMEOBJ_IFRAME)
    replaced: list[Value] = []
    writes = [(index, slot) for index, slot in rd.locals]
    writes += [(nlocals + k, slot) for k, slot in enumerate(rd.stack)]
    old_depth = rd.frame_depth
    for index, slot in writes:
        offset = cp.IFRAME_LOCALSPLUS + 8 * index
        new = new_reference(slot)
        if index < nlocals + old_depth:
            replaced.append(emit("raw_load_r", [iframe], offset))
        emit("raw_store_r", [iframe, new], offset)
    for k in range(len(rd.stack), old_depth):  # stack slots given up
        offset = cp.IFRAME_LOCALSPLUS + 8 * (nlocals + k)
        replaced.append(emit("raw_load_r", [iframe], offset))
        emit("raw_store_r", [iframe, CONST_NULL], offset)
    # stacktop is a C int: keep the four bytes after it
    word = emit("raw_load_i", [iframe], cp.IFRAME_STACKTOP)
    high = emit("int_and", [word, const_int(-(1 << 32))])
    emit("raw_store_i", [iframe, emit("int_or", [high, const_int(nlocals + len(rd.stack))])],
         cp.IFRAME_STACKTOP)
    ip = id(rd.code) + cp.CODE_ADAPTIVE + rd.offset
    emit("raw_store_i", [iframe, const_int(ip)], cp.IFRAME_IP)
    for old in replaced:  # last: a destructor may run Python code
        emit("call_v", [old], helpers.xdecref())
    done = emit("finish", [])
    done.exit = ExitDescr(number=FRAME_WRITTEN, slot_address=0)
    done.fail_args = []
    keepalive.append(rd.code)
    trace = Trace(inputs, ops, name="writeback", keepalive=keepalive)
    trace.check()
    return trace
