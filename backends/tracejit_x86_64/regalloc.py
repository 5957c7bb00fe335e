"""Linear-scan register allocation over one trace.

Every value gets one location for its whole lifetime: a general-purpose
register (ints, addresses, references), an xmm register (doubles) or a stack
slot.  Positions: operation ``i`` reads its arguments at ``2i`` and defines
its result at ``2i+1``; a guard that also has a result (``int_add_ovf``,
``unbox_int``) reads its fail arguments at ``2i+1`` so that the result never
takes the register of a value the exit still needs.

Loops: the ``label`` defines a fresh value for each of its arguments (the
loop-carried values), and ``jump`` writes them back, so a value defined before
the label and used after it lives until the ``jump``.  Hints ask a jump
argument to take its label value's register, which usually makes the back-edge
moves disappear.

Calls clobber rax rcx rdx rsi rdi r8-r11 and every xmm register.  A value
that lives across a call prefers a callee-saved register; if it sits in a
caller-saved one it also gets a save slot, and the code generator stores and
reloads it around that call.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Any

from tracejit.backend import Const, Trace

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
CALLEE_SAVED = [RBX, R12, R13, R14, R15, RBP]
CALLER_SAVED_ALLOC = [RSI, RDI, R8, R9, R10]
XMM_ALLOC = list(range(16, 30))  # xmm0-13; xmm14/xmm15 are scratch
STACK = 1000  # a location >= STACK is the stack slot at [rsp + loc - STACK]
# [rsp+0] frame, [rsp+8] buf, [rsp+16..40) scratch for slow paths, then slots
FRAME_SLOT, BUF_SLOT, TMP_SLOT, SLOT0 = 0, 8, 16, 40

# operations that call out (always, or on a slow path)
CLOBBERS = frozenset({"call_i", "call_f", "call_r", "call_v", "float_mod",
                      "float_floordiv", "decref", "unbox_int"})
SLOW_PATH_CALLS = frozenset({"decref", "unbox_int"})
FUSABLE = frozenset({"int_lt", "int_le", "int_eq", "int_ne", "int_gt", "int_ge",
                     "ptr_eq", "ptr_ne", "float_lt", "float_le", "float_gt", "float_ge"})


class Interval:
    """The live range of one value and the location it was given."""

    __slots__ = ("start", "end", "xmm", "loc", "save", "hint")

    def __init__(self, start: int, xmm: bool) -> None:
        self.start = start
        self.end = start
        self.xmm = xmm
        self.loc = -1
        self.save = 0  # stack location for saving around calls, 0 if none
        self.hint: Interval | None = None

    def __repr__(self) -> str:
        return f"<iv {self.start}-{self.end} loc={self.loc}>"


class Allocation:
    """The allocator's answer, indexed by operation position."""

    def __init__(self, trace: Trace) -> None:
        n = len(trace.ops)
        self.inputs: list[Interval | None] = []
        self.args: list[list[Any]] = [[] for _ in range(n)]  # Interval or Const
        self.fail: list[list[Any] | None] = [None] * n
        self.result: list[Interval | None] = [None] * n
        self.label_ivs: list[Interval | None] = []  # fresh values defined by the label
        self.label_pos = -1
        self.fused = [False] * n  # comparison folded into the next guard
        # call position -> values to store to their save slots before the
        # call, and to reload after it
        self.store_at: dict[int, list[Interval]] = {}
        self.restore_at: dict[int, list[Interval]] = {}
        self.frame_size = 0
        self.pushed: list[int] = []  # callee-saved registers the code uses
        self.intervals: list[Interval] = []


def allocate(trace: Trace) -> Allocation:
    al = Allocation(trace)
    ops = trace.ops
    ivs: list[Interval] = []
    env: dict[int, Interval] = {}
    label_pos = next((i for i, op in enumerate(ops) if op.name == "label"), -1)
    last = ops[-1]
    loops = label_pos >= 0 and last.name == "jump" and last.descr is None
    jump_pos = 2 * (len(ops) - 1)
    after_label = 2 * label_pos if loops else 1 << 60

    # a comparison read only by the next guard (and maybe in that guard's
    # fail arguments, where its value is then known) is fused into the guard
    uses: dict[int, int] = {}
    for k, op in enumerate(ops):
        for a in op.args:
            uses[id(a)] = uses.get(id(a), 0) + 1
        if op.fail_args:
            prev = ops[k - 1] if k else None
            for a in op.fail_args:
                if a is not prev:
                    uses[id(a)] = uses.get(id(a), 0) + 2
    known: dict[int, Const] = {}
    for i, op in enumerate(ops[:-1]):
        nxt = ops[i + 1]
        if (op.name in FUSABLE and nxt.name in ("guard_true", "guard_false")
                and nxt.args[0] is op and uses.get(id(op)) == 1):
            al.fused[i] = True
            known[id(op)] = Const("i", 1 if nxt.name == "guard_false" else 0)

    def use(v: Any, pos: int) -> Any:
        if isinstance(v, Const):
            return v
        iv = env[id(v)]
        if pos > after_label and iv.start < after_label:
            pos = jump_pos
        if pos > iv.end:
            iv.end = pos
        return iv

    for a in trace.inputargs:
        iv = Interval(-1, a.type == "f")
        env[id(a)] = iv
        ivs.append(iv)
        al.inputs.append(iv)

    calls: list[int] = []
    slow: set[int] = set()
    for i, op in enumerate(ops):
        pos = 2 * i
        name = op.name
        if name in CLOBBERS:
            calls.append(pos)
            if name in SLOW_PATH_CALLS:
                slow.add(pos)
        if al.fused[i]:
            al.args[i] = [use(a, pos + 2) for a in op.args]
            continue
        if i and al.fused[i - 1]:
            al.args[i] = [None]
        else:
            al.args[i] = [use(a, pos) for a in op.args]
        if op.fail_args is not None:
            fpos = pos + 1 if op.type != "v" else pos
            al.fail[i] = [known.get(id(a)) or use(a, fpos) for a in op.fail_args]
        if name == "label":
            al.label_pos = i
            for a, pre in zip(op.args, al.args[i]):
                if isinstance(a, Const):
                    al.label_ivs.append(None)
                    continue
                iv = Interval(pos + 1, a.type == "f")
                if isinstance(pre, Interval):
                    iv.hint = pre
                env[id(a)] = iv
                ivs.append(iv)
                al.label_ivs.append(iv)
        elif op.type != "v":
            iv = Interval(pos + 1, op.type == "f")
            env[id(op)] = iv
            ivs.append(iv)
            al.result[i] = iv
    if loops and al.label_pos >= 0:
        for target, arg in zip(al.label_ivs, al.args[len(ops) - 1]):
            if target is not None and isinstance(arg, Interval) and arg.hint is None:
                arg.hint = target
    _linear_scan(ivs, calls, slow, al)
    al.intervals = ivs
    return al


def _linear_scan(ivs: list[Interval], calls: list[int], slow: set[int],
                 al: Allocation) -> None:
    free_gp_callee = list(CALLEE_SAVED)
    free_gp_caller = list(CALLER_SAVED_ALLOC)
    free_xmm = list(XMM_ALLOC)
    free_slots: list[int] = []
    nslots = 0
    active: list[tuple[int, int, Interval]] = []  # heap by end
    in_regs: list[Interval] = []  # the active values that hold a register
    counter = 0

    def new_slot(fresh: bool = False) -> int:
        nonlocal nslots
        if free_slots and not fresh:
            return free_slots.pop()
        nslots += 1
        return STACK + SLOT0 + 8 * (nslots - 1)

    def release(loc: int) -> None:
        if loc >= STACK:
            free_slots.append(loc)
        elif loc >= 16:
            free_xmm.append(loc)
        elif loc in CALLEE_SAVED:
            free_gp_callee.append(loc)
        else:
            free_gp_caller.append(loc)

    def crosses(iv: Interval) -> bool:
        k = bisect.bisect_right(calls, iv.start)
        return k < len(calls) and calls[k] < iv.end

    def take(pool: list[int], reg: int) -> int:
        pool.remove(reg)
        return reg

    for iv in sorted(ivs, key=lambda v: v.start):
        start = iv.start
        while active and active[0][0] < start:
            _, _, old = heapq.heappop(active)
            if old.loc < STACK:
                in_regs.remove(old)
            release(old.loc)
            if old.save:
                release(old.save)
        crossing = bool(calls) and crosses(iv)
        hint = iv.hint.loc if iv.hint is not None else -1
        loc = -1
        if iv.xmm:
            if hint in free_xmm:
                loc = take(free_xmm, hint)
            elif free_xmm:
                loc = free_xmm.pop(0)
        else:
            if hint in free_gp_callee:
                loc = take(free_gp_callee, hint)
            elif hint in free_gp_caller and not crossing:
                loc = take(free_gp_caller, hint)
            else:
                first, second = ((free_gp_callee, free_gp_caller) if crossing
                                 else (free_gp_caller, free_gp_callee))
                if first:
                    loc = first.pop(0)
                elif second:
                    loc = second.pop(0)
        if loc < 0:
            # spill the value (this one or an active one of its class) that ends last
            victim = None
            for other in in_regs:
                if other.xmm == iv.xmm and (victim is None or other.end > victim.end):
                    victim = other
            if victim is not None and victim.end > iv.end:
                loc = victim.loc
                # the victim lives in the slot since its start: a slot freed
                # meanwhile may have been in use then
                victim.loc = new_slot(fresh=True)
                in_regs.remove(victim)
                if victim.save:
                    release(victim.save)
                    victim.save = 0
            else:
                loc = new_slot()
        iv.loc = loc
        if loc < STACK:
            in_regs.append(iv)
        if crossing and loc < STACK and (loc >= 16 or loc not in CALLEE_SAVED):
            iv.save = new_slot()
        counter += 1
        heapq.heappush(active, (iv.end, counter, iv))

    for iv in ivs:
        if iv.save:
            # the value never changes and owns its save slot, so one store
            # before the first call that always runs is enough (slow paths
            # run only sometimes: they store for themselves)
            stored = False
            k = bisect.bisect_right(calls, iv.start)
            while k < len(calls) and calls[k] < iv.end:
                pos = calls[k]
                al.restore_at.setdefault(pos, []).append(iv)
                if not stored or pos in slow:
                    al.store_at.setdefault(pos, []).append(iv)
                stored = stored or pos not in slow
                k += 1
    # only the callee-saved registers in use are pushed; with them and the
    # return address, the frame keeps rsp 16-byte aligned at calls
    used = {iv.loc for iv in ivs}
    al.pushed = [r for r in CALLEE_SAVED if r in used]
    size = SLOT0 + 8 * nslots
    if (size + 8 * len(al.pushed) + 8) % 16:
        size += 8
    al.frame_size = size
