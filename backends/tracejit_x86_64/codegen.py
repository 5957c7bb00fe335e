"""Lowering of trace operations to x86-64 instructions.

One :class:`CodeGen` per trace.  The frame (after pushing the callee-saved
registers the trace uses) is: ``[rsp]`` the frame argument, ``[rsp+8]`` the exit buffer,
``[rsp+16..40)`` scratch for slow paths, then spill and save slots.  Scratch
registers, never allocated: rax rcx rdx r11 and xmm14 xmm15.  Guards branch
to out-of-line stubs emitted after the body; slow paths (decref's
deallocation, unbox_int of a big int) are out of line as well.
"""

from __future__ import annotations

from typing import Any

from tracejit.backend import Const, Trace

from .asm import GP8, GP32, NO_INDEX, Asm
from .moves import parallel_move
from .regalloc import (
    BUF_SLOT,
    FRAME_SLOT,
    R11,
    RAX,
    RCX,
    RDI,
    RDX,
    RSI,
    RSP,
    STACK,
    TMP_SLOT,
    Allocation,
    Interval,
)

XMM0, XMM14, XMM15 = 16, 30, 31
INT_ARG_REGS = [RDI, RSI, RDX, RCX, 8, 9]
SIGN_BIT = -(1 << 63)
ONE, HALF = 0x3FF0000000000000, 0x3FE0000000000000

_CC = {"int_lt": "L", "int_le": "LE", "int_eq": "E", "int_ne": "NE", "int_gt": "G",
       "int_ge": "GE", "ptr_eq": "E", "ptr_ne": "NE"}
_SWAP = {"L": "G", "LE": "GE", "G": "L", "GE": "LE", "E": "E", "NE": "NE"}
_NOT = {"L": "GE", "LE": "G", "G": "LE", "GE": "L", "E": "NE", "NE": "E",
        "A": "BE", "AE": "B", "BE": "A", "B": "AE"}
_INT_BIN = {"int_add": ("ADD", True), "int_sub": ("SUB", False), "int_mul": ("IMUL", True),
            "int_and": ("AND", True), "int_or": ("OR", True), "int_xor": ("XOR", True),
            "int_add_ovf": ("ADD", True), "int_sub_ovf": ("SUB", False),
            "int_mul_ovf": ("IMUL", True)}
_FLOAT_BIN = {"float_add": ("ADDSD", True), "float_sub": ("SUBSD", False),
              "float_mul": ("MULSD", True), "float_truediv": ("DIVSD", False)}
_FOLD = {"L": lambda a, b: a < b, "LE": lambda a, b: a <= b, "E": lambda a, b: a == b,
         "NE": lambda a, b: a != b, "G": lambda a, b: a > b, "GE": lambda a, b: a >= b}


def _fits32(v: int) -> bool:
    return -(1 << 31) <= v < (1 << 31)


def _raw(c: Const) -> int:
    """The constant's 64-bit pattern (NULL is 0)."""
    return c.raw()


class CodeGen:
    """Emits one trace into a shared :class:`Asm`."""

    def __init__(self, asm: Asm, trace: Trace, al: Allocation, entry: int,
                 siblings: dict[int, int], helpers: dict[str, int]) -> None:
        self.a = asm
        self.trace = trace
        self.al = al
        self.entry = entry
        self.siblings = siblings
        self.helpers = helpers
        self.ret_label = asm.new_label()
        self.tail_label = asm.new_label()
        self.loop_label = asm.new_label()
        self.stubs: list[Any] = []
        self.nonneg: set[int] = set()

    # -- locations -----------------------------------------------------------

    def load(self, reg: int, x: Any) -> None:
        """reg <- x (an Interval, a Const or a register number)."""
        a = self.a
        if isinstance(x, Const):
            if reg >= 16:
                bits = _raw(x)
                if bits == 0:
                    a.r("XORPS", reg, reg)
                else:
                    a.rip_load("MOVSD", reg, a.const_label(bits))
            else:
                a.mov_imm(reg, _raw(x))
            return
        src = x if type(x) is int else x.loc
        if src == reg:
            return
        if src >= STACK:
            a.rm("MOVSD" if reg >= 16 else "MOV", reg, RSP, src - STACK)
        elif reg >= 16:
            if src >= 16:
                a.r("MOVAPS", reg, src)
            else:
                a.r("MOVQ", reg, src)
        elif src >= 16:
            a.r("MOVQ", reg, src)
        else:
            a.r("MOV", reg, src)

    def move(self, dst: int, src: Any, is_float: bool) -> None:
        """Any location <- any location or constant (for parallel moves)."""
        if dst < STACK:
            self.load(dst, src)
            return
        a = self.a
        off = dst - STACK
        if isinstance(src, Const):
            raw = _raw(src)
            if _fits32(raw):
                a.mi("MOV", RSP, off, raw, cls="s32")
            else:
                a.mov_imm(RAX, raw)
                a.mr("MOV", RSP, off, RAX)
        elif src >= STACK:
            a.rm("MOV", RAX, RSP, src - STACK)
            a.mr("MOV", RSP, off, RAX)
        elif src >= 16:
            a.mr("MOVSD", RSP, off, src)
        else:
            a.mr("MOV", RSP, off, src)

    def reg(self, x: Any, scratch: int) -> int:
        """A register holding x: its own, or ``scratch`` loaded with it."""
        if not isinstance(x, Const) and x.loc < STACK:
            return x.loc
        self.load(scratch, x)
        return scratch

    def dst(self, iv: Interval, scratch: int = RAX) -> int:
        return iv.loc if iv.loc < STACK else (XMM14 if iv.xmm else scratch)

    def put(self, iv: Interval, reg: int) -> None:
        """Store the result computed in ``reg`` into its location."""
        if iv.loc != reg:
            self.move(iv.loc, reg, iv.xmm)

    def alu(self, mn: str, d: int, x: Any) -> None:
        """d <- d (mn) x for an integer operand x."""
        a = self.a
        if isinstance(x, Const):
            v = _raw(x)
            if _fits32(v):
                if mn == "IMUL":
                    a.rri("IMUL", d, d, v)
                else:
                    a.ri(mn, d, v)
                return
            a.mov_imm(R11, v)
            x = R11
        loc = x if type(x) is int else x.loc
        if loc >= STACK:
            a.rm(mn, d, RSP, loc - STACK)
        else:
            a.r(mn, d, loc)

    def falu(self, mn: str, d: int, x: Any) -> None:
        """d <- d (mn) x for a double operand (xmm register, slot or constant)."""
        a = self.a
        if isinstance(x, Const):
            a.rip_load(mn, d, a.const_label(_raw(x)))
            return
        loc = x if type(x) is int else x.loc
        if loc >= STACK:
            a.rm(mn, d, RSP, loc - STACK)
        else:
            a.r(mn, d, loc)

    def float_mask(self, mn: str, d: int, bits: int) -> None:
        self.a.mov_imm(R11, bits)
        self.a.r("MOVQ", XMM15, R11)
        self.a.r(mn, d, XMM15)

    # -- frame -----------------------------------------------------------------

    def prologue(self) -> None:
        a = self.a
        a.bind(self.entry)
        for r in self.al.pushed:
            a.r("PUSH", r)
        a.ri("SUB", RSP, self.al.frame_size, "s32")
        a.mr("MOV", RSP, FRAME_SLOT, RDI)
        a.mr("MOV", RSP, BUF_SLOT, RSI)
        a.r("MOV", R11, RSI)
        for k, iv in enumerate(self.al.inputs):
            if iv is None:
                continue
            if iv.loc >= STACK:
                a.rm("MOV", RAX, R11, 8 * k)
                a.mr("MOV", RSP, iv.loc - STACK, RAX)
            else:
                a.rm("MOVSD" if iv.xmm else "MOV", iv.loc, R11, 8 * k)

    def teardown(self) -> None:
        a = self.a
        a.ri("ADD", RSP, self.al.frame_size, "s32")
        for r in reversed(self.al.pushed):
            a.r("POP", r)

    def epilogues(self) -> None:
        a = self.a
        a.bind(self.ret_label)
        self.teardown()
        a.r("RET")
        a.bind(self.tail_label)  # rax: the code to continue in
        a.rm("MOV", RDI, RSP, FRAME_SLOT)
        a.rm("MOV", RSI, RSP, BUF_SLOT)
        self.teardown()
        a.r("JMP", RAX)

    def store_buf(self, values: list[Any]) -> None:
        a = self.a
        a.rm("MOV", R11, RSP, BUF_SLOT)
        for k, x in enumerate(values):
            if isinstance(x, Const):
                raw = _raw(x)
                if _fits32(raw):
                    a.mi("MOV", R11, 8 * k, raw, cls="s32")
                    continue
                a.mov_imm(RAX, raw)
                a.mr("MOV", R11, 8 * k, RAX)
            elif x.loc >= STACK:
                a.rm("MOV", RAX, RSP, x.loc - STACK)
                a.mr("MOV", R11, 8 * k, RAX)
            else:
                a.mr("MOVSD" if x.loc >= 16 else "MOV", R11, 8 * k, x.loc)

    def leave(self, op: Any) -> None:
        a = self.a
        ex = op.exit
        if ex.slot_address:
            a.mov_imm(RAX, ex.slot_address)
            a.rm("MOV", RAX, RAX, 0)
            a.r("TEST", RAX, RAX)
            a.jcc("JNZ", self.tail_label)
        a.mov_imm(RAX, ex.number)
        a.jcc("JMP", self.ret_label)

    def exit_stub(self, i: int) -> int:
        label = self.a.new_label()
        self.stubs.append((label, i))
        return label

    def guard_jump(self, cc: str, i: int) -> None:
        """Leave through op i's exit when condition ``cc`` holds."""
        self.a.jcc("J" + cc, self.exit_stub(i))

    def save(self, pos: int) -> list[Interval]:
        """Store caller-saved values that live across the call at ``pos``;
        return those to reload after it."""
        for iv in self.al.store_at.get(pos, ()):
            self.move(iv.save, iv.loc, iv.xmm)
        return self.al.restore_at.get(pos, [])

    def restore(self, saved: list[Interval]) -> None:
        for iv in saved:
            self.load(iv.loc, iv.save)

    def call_address(self, address: int) -> None:
        self.a.mov_imm(RAX, address)
        self.a.r("CALL", RAX)

    # -- driver ------------------------------------------------------------------

    def generate(self) -> None:
        self.prologue()
        al = self.al
        for i, op in enumerate(self.trace.ops):
            if al.fused[i]:
                continue
            getattr(self, "op_" + op.name, None) or _missing(op.name)
            getattr(self, "op_" + op.name)(i, op)
            self.note_sign(op)
        a = self.a
        for label, i in self.stubs:
            a.bind(label)
            if callable(i):
                i()
                continue
            self.store_buf(al.fail[i])
            self.leave(self.trace.ops[i])
        self.epilogues()

    def is_nonneg(self, v: Any) -> bool:
        if isinstance(v, Const):
            return v.type == "i" and v.value >= 0
        return id(v) in self.nonneg

    def note_sign(self, op: Any) -> None:
        """Track integers known to be >= 0 (masks, remainders by positive
        constants, shifts of those): division by a constant needs no sign
        fix-ups for them.  Loop-carried values are unknown after the label."""
        name = op.name
        args = op.args
        if name == "label":
            for v in args:
                self.nonneg.discard(id(v))
        elif name == "int_and":
            if self.is_nonneg(args[0]) or self.is_nonneg(args[1]):
                self.nonneg.add(id(op))
        elif name in ("int_mod", "int_floordiv"):
            d = args[1]
            if isinstance(d, Const) and d.value > 0 and (
                    name == "int_mod" or self.is_nonneg(args[0])):
                self.nonneg.add(id(op))
        elif name == "int_rshift" and self.is_nonneg(args[0]):
            self.nonneg.add(id(op))

    # -- control -------------------------------------------------------------------

    def op_label(self, i: int, op: Any) -> None:
        moves = [(iv.loc, src, iv.xmm) for iv, src in zip(self.al.label_ivs, self.al.args[i])
                 if iv is not None]
        parallel_move([(d, s if isinstance(s, Const) else s.loc, f) for d, s, f in moves],
                      self.move)
        self.a.bind(self.loop_label)

    def op_jump(self, i: int, op: Any) -> None:
        args = self.al.args[i]
        if op.descr is None:
            moves = [(iv.loc, src if isinstance(src, Const) else src.loc, iv.xmm)
                     for iv, src in zip(self.al.label_ivs, args) if iv is not None]
            parallel_move(moves, self.move)
            self.a.jcc("JMP", self.loop_label)
            return
        self.store_buf(args)
        target = self.siblings.get(id(op.descr))
        if target is not None:
            a = self.a
            a.rm("MOV", RDI, RSP, FRAME_SLOT)
            a.rm("MOV", RSI, RSP, BUF_SLOT)
            self.teardown()
            a.jcc("JMP", target)
            return
        compiled = op.descr.compiled
        if compiled is None:
            raise ValueError(f"jump to {op.descr.name}, which is not compiled")
        self.a.mov_imm(RAX, compiled.address)
        self.a.jcc("JMP", self.tail_label)

    def op_finish(self, i: int, op: Any) -> None:
        self.store_buf(self.al.fail[i])
        self.leave(op)

    # -- integers ------------------------------------------------------------------

    def binop(self, i: int, mn: str, commutative: bool, flags: bool = False) -> int:
        """d <- x (mn) y; ``flags``: the overflow flag must come from mn."""
        x, y = self.al.args[i]
        res = self.al.result[i]
        d = self.dst(res)
        if isinstance(x, Const) and commutative and not isinstance(y, Const):
            x, y = y, x
        if (isinstance(y, Const) and not isinstance(x, Const) and x.loc < STACK
                and x.loc != d and _fits32(_raw(y)) and _fits32(-_raw(y))):
            # three-operand forms save the copy of x
            v = _raw(y)
            if mn == "IMUL":
                self.a.rri("IMUL", d, x.loc, v)
                return d
            if mn in ("ADD", "SUB") and not flags:
                self.a.rm("LEA", d, x.loc, v if mn == "ADD" else -v)
                return d
        if not isinstance(y, Const) and y.loc == d and (isinstance(x, Const) or x.loc != d):
            if commutative:
                x, y = y, x
            else:
                self.load(RCX, y)
                y = RCX
        self.load(d, x)
        self.alu(mn, d, y)
        return d

    def _int_bin(self, i: int, op: Any) -> None:
        mn, comm = _INT_BIN[op.name]
        d = self.binop(i, mn, comm, op.name.endswith("_ovf"))
        if op.name.endswith("_ovf"):
            self.guard_jump("O", i)
        self.put(self.al.result[i], d)

    op_int_add = op_int_sub = op_int_mul = op_int_and = op_int_or = op_int_xor = _int_bin
    op_int_add_ovf = op_int_sub_ovf = op_int_mul_ovf = _int_bin

    def _shift(self, i: int, op: Any) -> None:
        x, y = self.al.args[i]
        res = self.al.result[i]
        mn = "SAR" if op.name == "int_rshift" else "SHL"
        a = self.a
        if op.name == "int_lshift_ovf":
            self.load(RCX, y)
            self.load(RAX, x)
            a.r("SHL", RAX, RCX + GP8)
            a.r("MOV", RDX, RAX)
            a.r("SAR", RDX, RCX + GP8)
            self.alu("CMP", RDX, x)
            self.guard_jump("NE", i)
            self.put(res, RAX)
            return
        d = self.dst(res)
        if isinstance(y, Const):
            self.load(d, x)
            a.ri(mn, d, _raw(y) & 63, "u8")
        else:
            self.load(RCX, y)
            self.load(d, x)
            a.r(mn, d, RCX + GP8)
        self.put(res, d)

    op_int_lshift = op_int_rshift = op_int_lshift_ovf = _shift

    def _divmod(self, i: int, op: Any) -> None:
        x, y = self.al.args[i]
        res = self.al.result[i]
        a = self.a
        mod = op.name == "int_mod"
        if isinstance(y, Const):
            v = _raw(y)
            if v > 0 and v & (v - 1) == 0:  # Python semantics make powers of two easy
                d = self.dst(res)
                self.load(d, x)
                if mod:
                    self.alu("AND", d, Const("i", v - 1))
                else:
                    a.ri("SAR", d, v.bit_length() - 1, "u8")
                self.put(res, d)
                return
            if 2 < v < (1 << 31):
                self._divmod_const(x, v, res, mod, self.is_nonneg(op.args[0]))
                return
        done, minus1 = a.new_label(), a.new_label()
        self.load(RCX, y)
        self.load(RAX, x)
        if not isinstance(y, Const) or _raw(y) == -1:
            a.ri("CMP", RCX, -1)
            a.jcc("JE", minus1)
        a.r("CQO")
        a.r("IDIV", RCX)
        a.r("TEST", RDX, RDX)
        a.jcc("JZ", done)
        a.r("MOV", R11, RDX)
        a.r("XOR", R11, RCX)
        a.jcc("JNS", done)
        if mod:
            a.r("ADD", RDX, RCX)
        else:
            a.ri("SUB", RAX, 1)
        a.jcc("JMP", done)
        a.bind(minus1)
        a.r("NEG", RAX)
        a.r("XOR", RDX + GP32, RDX + GP32)
        a.bind(done)
        self.put(res, RDX if mod else RAX)

    op_int_floordiv = op_int_mod = _divmod

    def _divmod_const(self, x: Any, d: int, res: Interval, mod: bool, nonneg: bool) -> None:
        """Python ``//`` and ``%`` by a constant 2 < d < 2**31 without idiv:
        the truncated quotient by multiplying with a magic number (Granlund
        and Montgomery, "Division by invariant integers using
        multiplication", fig. 5.2), then the floor correction (none needed
        when x is known to be >= 0)."""
        a = self.a
        shift = max((d - 1).bit_length(), 1)  # ceil(log2(d))
        magic = 1 + (1 << (63 + shift)) // d - (1 << 64)
        n = self.reg(x, RCX)
        a.mov_imm(RAX, magic)
        a.r("IMUL", n)  # rdx:rax = rax * n
        a.r("ADD", RDX, n)
        if shift > 1:
            a.ri("SAR", RDX, shift - 1, "u8")
        if not nonneg:
            a.r("MOV", RAX, n)
            a.ri("SAR", RAX, 63, "u8")
            a.r("SUB", RDX, RAX)  # truncated quotient
        if nonneg and not mod:
            self.put(res, RDX)
            return
        a.rri("IMUL", RAX, RDX, d)
        a.r("MOV", R11, n)
        a.r("SUB", R11, RAX)  # remainder, sign of n
        if not nonneg:
            a.r("MOV", RAX, R11)
            a.ri("SAR", RAX, 63, "u8")  # -1 if the remainder is negative
            a.r("ADD", RDX, RAX)
            a.ri("AND", RAX, d)
            a.r("ADD", R11, RAX)
        self.put(res, R11 if mod else RDX)

    def compare(self, i: int, op: Any) -> str | None:
        """Emit the comparison of op i; return the condition code, or None if
        both operands are constants (then ``self.folded`` holds the result)."""
        x, y = self.al.args[i]
        name = op.name
        if name.startswith("float"):
            return self.fcompare(x, y, name)
        cc = _CC[name]
        if isinstance(x, Const):
            if isinstance(y, Const):
                self.folded = _FOLD[cc](_raw(x), _raw(y))
                return None
            x, y = y, x
            cc = _SWAP[cc]
        r = self.reg(x, RAX)
        if isinstance(y, Const) and _raw(y) == 0:
            self.a.r("TEST", r, r)  # same flags as cmp r, 0; shorter
        else:
            self.alu("CMP", r, y)
        return cc

    def fcompare(self, x: Any, y: Any, name: str) -> str:
        if name in ("float_lt", "float_le"):
            x, y = y, x
        self.falu("UCOMISD", self.reg(x, XMM14), y)
        return "A" if name in ("float_lt", "float_gt") else "AE"

    def _cmp(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        cc = self.compare(i, op)
        if cc is None:
            self.a.mov_imm(d, int(self.folded))
        else:
            self.a.r("SET" + cc, d + GP8)
            self.a.r("MOVZX", d + GP32, d + GP8)
        self.put(res, d)

    op_int_lt = op_int_le = op_int_eq = op_int_ne = op_int_gt = op_int_ge = _cmp
    op_ptr_eq = op_ptr_ne = op_float_lt = op_float_le = op_float_gt = op_float_ge = _cmp

    def _float_eq(self, i: int, op: Any) -> None:
        x, y = self.al.args[i]
        res = self.al.result[i]
        d = self.dst(res)
        a = self.a
        self.falu("UCOMISD", self.reg(x, XMM14), y)
        if op.name == "float_eq":
            a.r("SETE", d + GP8)
            a.r("SETNP", RCX + GP8)
            a.r("AND", d + GP8, RCX + GP8)
        else:
            a.r("SETNE", d + GP8)
            a.r("SETP", RCX + GP8)
            a.r("OR", d + GP8, RCX + GP8)
        a.r("MOVZX", d + GP32, d + GP8)
        self.put(res, d)

    op_float_eq = op_float_ne = _float_eq

    def op_int_neg(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        self.load(d, self.al.args[i][0])
        self.a.r("NEG" if op.name == "int_neg" else "NOT", d)
        self.put(res, d)

    op_int_invert = op_int_neg

    def op_ref_address(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        self.load(d, self.al.args[i][0])
        self.put(res, d)

    # -- floats ----------------------------------------------------------------------

    def _float_bin(self, i: int, op: Any) -> None:
        mn, commutative = _FLOAT_BIN[op.name]
        x, y = self.al.args[i]
        res = self.al.result[i]
        d = self.dst(res)
        if not isinstance(y, Const) and y.loc == d and (isinstance(x, Const) or x.loc != d):
            if commutative:
                x, y = y, x
            else:
                self.load(XMM15, y)
                y = XMM15
        self.load(d, x)
        self.falu(mn, d, y)
        self.put(res, d)

    op_float_add = op_float_sub = op_float_mul = op_float_truediv = _float_bin

    def op_float_neg(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        self.load(d, self.al.args[i][0])
        if op.name == "float_neg":
            self.float_mask("XORPD", d, SIGN_BIT)
        else:
            self.float_mask("ANDPD", d, ~SIGN_BIT)
        self.put(res, d)

    op_float_abs = op_float_neg

    def op_cast_int_to_float(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        x = self.al.args[i][0]
        self.a.r("XORPS", d, d)  # no false dependency on d's old value
        if not isinstance(x, Const) and x.loc >= STACK:
            self.a.rm("CVTSI2SD", d, RSP, x.loc - STACK)
        else:
            self.a.r("CVTSI2SD", d, self.reg(x, RAX))
        self.put(res, d)

    def op_cast_float_to_int(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        x = self.al.args[i][0]
        self.a.r("CVTTSD2SI", d, self.reg(x, XMM14))
        self.put(res, d)

    def _float_divmod(self, i: int, op: Any) -> None:
        """CPython's float ``%`` and ``//`` around a call to fmod."""
        a = self.a
        x, y = self.al.args[i]
        res = self.al.result[i]
        saved = self.save(2 * i)
        parallel_move([(XMM0, x if isinstance(x, Const) else x.loc, True),
                       (XMM0 + 1, y if isinstance(y, Const) else y.loc, True)], self.move)
        a.mr("MOVSD", RSP, TMP_SLOT, XMM0)
        a.mr("MOVSD", RSP, TMP_SLOT + 8, XMM0 + 1)
        self.call_address(self.helpers["fmod"])
        xm1, xm2, xm3 = XMM0 + 1, XMM0 + 2, XMM0 + 3
        nonzero, done = a.new_label(), a.new_label()
        if op.name == "float_mod":
            a.r("XORPS", xm1, xm1)
            a.r("UCOMISD", XMM0, xm1)
            a.jcc("JNE", nonzero)
            a.jcc("JP", nonzero)
            a.rm("MOVSD", XMM0, RSP, TMP_SLOT + 8)  # copysign(0.0, y)
            self.float_mask("ANDPD", XMM0, SIGN_BIT)
            a.jcc("JMP", done)
            a.bind(nonzero)
            a.r("MOVQ", RAX, XMM0)
            a.rm("XOR", RAX, RSP, TMP_SLOT + 8)
            a.jcc("JNS", done)
            a.rm("ADDSD", XMM0, RSP, TMP_SLOT + 8)
        else:
            divnz = a.new_label()
            a.rm("MOVSD", xm1, RSP, TMP_SLOT)
            a.r("SUBSD", xm1, XMM0)
            a.rm("DIVSD", xm1, RSP, TMP_SLOT + 8)  # div = (x - mod) / y
            a.r("XORPS", xm2, xm2)
            a.r("UCOMISD", XMM0, xm2)
            check_div = a.new_label()
            a.jcc("JNE", nonzero)
            a.jcc("JP", nonzero)
            a.jcc("JMP", check_div)
            a.bind(nonzero)
            a.r("MOVQ", RAX, XMM0)
            a.rm("XOR", RAX, RSP, TMP_SLOT + 8)
            a.jcc("JNS", check_div)
            self.float_mask("MOVAPS", xm2, ONE)
            a.r("SUBSD", xm1, xm2)
            a.bind(check_div)
            a.r("XORPS", xm2, xm2)
            a.r("UCOMISD", xm1, xm2)
            a.jcc("JNE", divnz)
            a.jcc("JP", divnz)
            a.rm("MOVSD", XMM0, RSP, TMP_SLOT)  # copysign(0.0, x / y)
            a.rm("DIVSD", XMM0, RSP, TMP_SLOT + 8)
            self.float_mask("ANDPD", XMM0, SIGN_BIT)
            a.jcc("JMP", done)
            a.bind(divnz)
            a.rlit("ROUNDSD", XMM0, xm1, 9)  # floor
            a.r("MOVAPS", xm2, xm1)
            a.r("SUBSD", xm2, XMM0)
            self.float_mask("MOVAPS", xm3, HALF)
            a.r("UCOMISD", xm2, xm3)
            a.jcc("JBE", done)
            self.float_mask("ADDSD", XMM0, ONE)
        a.bind(done)
        self.put(res, XMM0)
        self.restore(saved)

    op_float_mod = op_float_floordiv = _float_divmod

    # -- memory ----------------------------------------------------------------------

    def base(self, x: Any, offset: int) -> tuple[int, int]:
        """(register, displacement) addressing x + offset."""
        if isinstance(x, Const):
            self.a.mov_imm(RAX, _raw(x) + offset)
            return RAX, 0
        return self.reg(x, RAX), offset

    def _load(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        b, disp = self.base(self.al.args[i][0], int(op.descr))
        self.a.rm("MOVSD" if res.xmm else "MOV", d, b, disp)
        self.put(res, d)

    op_getfield_i = op_getfield_r = op_getfield_f = op_raw_load_i = op_raw_load_r = _load

    def store_value(self, b: int, disp: int, x: Any, index: int = NO_INDEX) -> None:
        a = self.a
        if isinstance(x, Const) and _fits32(_raw(x)) and index == NO_INDEX:
            a.mi("MOV", b, disp, _raw(x), cls="s32")
            return
        r = self.reg(x, R11)
        a.mr("MOVSD" if r >= 16 else "MOV", b, disp, r, index=index)

    def _store(self, i: int, op: Any) -> None:
        obj, value = self.al.args[i]
        b, disp = self.base(obj, int(op.descr))
        self.store_value(b, disp, value)

    op_setfield_i = op_setfield_r = op_raw_store_i = op_raw_store_r = _store

    def index(self, x: Any, disp: int) -> tuple[int, int]:
        """(index register or NO_INDEX, displacement) for item x."""
        if isinstance(x, Const):
            return NO_INDEX, disp + 8 * _raw(x)
        return self.reg(x, RCX), disp

    def op_getarrayitem_r(self, i: int, op: Any) -> None:
        obj, idx = self.al.args[i]
        res = self.al.result[i]
        d = self.dst(res)
        b, disp = self.base(obj, int(op.descr))
        ix, disp = self.index(idx, disp)
        self.a.rm("MOV", d, b, disp, index=ix)
        self.put(res, d)

    def op_getlistitem_r(self, i: int, op: Any) -> None:
        obj, idx = self.al.args[i]
        res = self.al.result[i]
        d = self.dst(res)
        b, disp = self.base(obj, int(op.descr))
        self.a.rm("MOV", RAX, b, disp)
        ix, disp = self.index(idx, 0)
        self.a.rm("MOV", d, RAX, disp, index=ix)
        self.put(res, d)

    def op_setlistitem_r(self, i: int, op: Any) -> None:
        obj, idx, value = self.al.args[i]
        b, disp = self.base(obj, int(op.descr))
        self.a.rm("MOV", RAX, b, disp)
        ix, disp = self.index(idx, 0)
        self.store_value(RAX, disp, value, ix)

    def op_get_frame(self, i: int, op: Any) -> None:
        res = self.al.result[i]
        d = self.dst(res)
        self.a.rm("MOV", d, RSP, FRAME_SLOT)
        self.put(res, d)

    def op_incref(self, i: int, op: Any) -> None:
        a = self.a
        r, _ = self.base(self.al.args[i][0], 0)
        skip = a.new_label()
        a.rm("MOV", RCX + GP32, r, 0, size=4)
        a.r("TEST", RCX + GP32, RCX + GP32)
        a.jcc("JS", skip)  # immortal (3.12+): the low 32 bits are negative
        a.mi("ADD", r, 0, 1)
        a.bind(skip)

    def op_decref(self, i: int, op: Any) -> None:
        a = self.a
        r, _ = self.base(self.al.args[i][0], 0)
        skip = a.new_label()
        a.rm("MOV", RCX, r, 0)
        a.r("TEST", RCX + GP32, RCX + GP32)
        a.jcc("JS", skip)
        a.ri("CMP", RCX, 1)
        slow = a.new_label()
        a.jcc("JE", slow)
        a.mi("SUB", r, 0, 1)
        a.bind(skip)

        def slow_path() -> None:
            saved = self.save(2 * i)
            self.load(RDI, r)
            self.call_address(self.helpers["Py_DecRef"])
            self.restore(saved)
            a.jcc("JMP", skip)

        self.stubs.append((slow, slow_path))

    def op_unbox_int(self, i: int, op: Any) -> None:
        a = self.a
        lay = op.descr
        res = self.al.result[i]
        r, _ = self.base(self.al.args[i][0], 0)
        if r == RAX:
            a.r("MOV", RDX, RAX)
            r = RDX
        slow, back = a.new_label(), a.new_label()
        a.rm("MOV", RAX, r, lay.tag_offset)
        a.ri("CMP", RAX, 2 << lay.non_size_bits)
        a.jcc("JAE", slow)
        a.ri("AND", RAX + GP32, 3)
        a.ri("MOV", RCX + GP32, 1, "u32")
        a.r("SUB", RCX, RAX)  # sign: 1, 0 or -1
        a.rm("MOV", RAX + GP32, r, lay.digit_offset, size=4)
        a.r("IMUL", RAX, RCX)
        a.bind(back)
        self.put(res, RAX)

        def slow_path() -> None:
            saved = self.save(2 * i)
            self.load(RDI, r)
            a.mi("MOV", RSP, TMP_SLOT, 0, cls="s32")
            a.rm("LEA", RSI, RSP, TMP_SLOT)
            self.call_address(lay.slow_helper)
            self.restore(saved)
            a.mi("CMP", RSP, TMP_SLOT, 0, size=4)
            self.guard_jump("NE", i)
            a.jcc("JMP", back)

        self.stubs.append((slow, slow_path))

    # -- calls -------------------------------------------------------------------------

    def _call(self, i: int, op: Any) -> None:
        d = op.descr
        a = self.a
        args = self.al.args[i]
        saved = self.save(2 * i)
        moves = []
        stack_args = []
        ni = nf = 0
        for x, t in zip(args, d.argtypes):
            src = x if isinstance(x, Const) else x.loc
            if t == "f" and nf < 8:
                moves.append((XMM0 + nf, src, True))
                nf += 1
            elif t != "f" and ni < 6:
                moves.append((INT_ARG_REGS[ni], src, False))
                ni += 1
            else:
                stack_args.append(src)
        # arguments past the registers go below rsp (inside the red zone,
        # which signal handlers leave alone) before rsp moves down over them
        extra = (8 * len(stack_args) + 15) // 16 * 16
        if extra > 128:
            raise NotImplementedError("more than 16 stack arguments")
        for k, src in enumerate(stack_args):
            off = 8 * k - extra
            if not isinstance(src, Const) and 16 <= src < STACK:
                a.mr("MOVSD", RSP, off, src)
            else:  # an integer register, a slot's raw bits, a constant's bits
                self.load(RAX, src)
                a.mr("MOV", RSP, off, RAX)
        parallel_move(moves, self.move)
        if extra:
            a.ri("SUB", RSP, extra)
        self.call_address(d.address)
        if extra:
            a.ri("ADD", RSP, extra)
        res = self.al.result[i]
        if res is not None:
            self.put(res, XMM0 if res.xmm else RAX)
        self.restore(saved)

    op_call_i = op_call_f = op_call_r = op_call_v = _call

    # -- guards --------------------------------------------------------------------------

    def _guard_bool(self, i: int, op: Any) -> None:
        al = self.al
        exit_if_zero = op.name != "guard_false"
        if i and al.fused[i - 1]:
            prev = self.trace.ops[i - 1]
            cc = self.compare(i - 1, prev)
            if cc is None:
                if self.folded != exit_if_zero:
                    self.a.jcc("JMP", self.exit_stub(i))
                return
            # for floats, unordered sets CF (and ZF): "A"/"AE" are false for
            # nan and their negations "BE"/"B" true, as the comparisons want
            self.guard_jump(_NOT[cc] if exit_if_zero else cc, i)
            return
        x = al.args[i][0]
        if isinstance(x, Const):
            if (_raw(x) == 0) == exit_if_zero:
                self.a.jcc("JMP", self.exit_stub(i))
            return
        if x.loc >= STACK:
            self.a.mi("CMP", RSP, x.loc - STACK, 0)
        else:
            self.a.r("TEST", x.loc, x.loc)
        self.guard_jump("Z" if exit_if_zero else "NZ", i)

    op_guard_true = op_guard_false = op_guard_nonnull = _guard_bool

    def op_guard_value_i(self, i: int, op: Any) -> None:
        x, y = self.al.args[i]
        if isinstance(x, Const):
            if isinstance(y, Const):
                if _raw(x) != _raw(y):
                    self.a.jcc("JMP", self.exit_stub(i))
                return
            x, y = y, x
        self.alu("CMP", self.reg(x, RAX), y)
        self.guard_jump("NE", i)

    op_guard_value_r = op_guard_value_i

    def op_guard_class(self, i: int, op: Any) -> None:
        x, t = self.al.args[i]
        r, disp = self.base(x, 8)
        if isinstance(t, Const):
            self.a.mov_imm(R11, _raw(t))
            tr = R11
        else:
            tr = self.reg(t, RCX)
        self.a.rm("CMP", tr, r, disp)
        self.guard_jump("NE", i)


def _missing(name: str) -> None:
    raise NotImplementedError(f"x86_64 backend: no code for {name}")
