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

Each resume slot builds its own reference (:meth:`tracejit.resume.Slot.
new_reference`); exits whose resume state holds a virtual range keep the
Python path.
"""

from __future__ import annotations

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.builder import NOTHING, RETURN, IRBuilder
from tracejit.ir import CONST_NULL, ExitDescr, InputArg, Trace, const_int
from tracejit.resume import ResumeData

FRAME_WRITTEN = 1  # the exit number a write-back stub returns


def supported(rd: ResumeData) -> bool:
    """Whether a stub can rebuild every slot of ``rd``."""
    return rd.compilable()


def build(rd: ResumeData, fail_types: str) -> Trace:
    """The write-back stub for an exit with resume data ``rd``."""
    inputs = [InputArg(t) for t in fail_types]
    b = IRBuilder()
    f = rd.frame
    nlocals = cp.nlocalsplus(f.code)
    replaced = []
    writes = [(index, slot) for index, slot in f.locals]
    writes += [(nlocals + k, slot) for k, slot in enumerate(f.stack)]
    for index, slot in writes:
        new = slot.new_reference(b, inputs)
        owned_by_frame = index < nlocals + f.frame_depth
        old = b.store_frame_slot(index, new, owned=True,
                                 old=RETURN if owned_by_frame else NOTHING)
        if old is not None:
            replaced.append(old)
    for k in range(len(f.stack), f.frame_depth):  # stack slots given up
        replaced.append(b.store_frame_slot(nlocals + k, CONST_NULL, owned=True, old=RETURN))
    iframe = b.iframe()
    # stacktop is a C int: keep the four bytes after it
    word = b.emit("raw_load_i", [iframe], cp.IFRAME_STACKTOP)
    high = b.emit("int_and", [word, const_int(-(1 << 32))])
    b.emit("raw_store_i", [iframe, b.emit("int_or", [high, const_int(nlocals + len(f.stack))])],
           cp.IFRAME_STACKTOP)
    ip = id(f.code) + cp.CODE_ADAPTIVE + f.offset
    b.emit("raw_store_i", [iframe, const_int(ip)], cp.IFRAME_IP)
    for old in replaced:  # last: a destructor may run Python code
        b.emit("call_v", [old], helpers.xdecref())
    b.guard_to(ExitDescr(number=FRAME_WRITTEN, slot_address=0), "finish", [])
    b.keepalive.append(f.code)
    trace = Trace(inputs, b.ops, name="writeback", keepalive=b.keepalive)
    trace.check()
    return trace
