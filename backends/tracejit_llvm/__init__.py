"""The LLVM backend: traces to native code through llvmlite (LLVM IR, the new
pass manager at -O2, object code linked by MCJIT).

This module turns traces into LLVM IR; :mod:`tracejit_llvm.worker` optimizes
it and generates object code in a helper process, and
:mod:`tracejit_llvm.engines` links that into MCJIT engines.

Every IR value is an LLVM ``i64`` (ints, addresses, references) or
``double``.  Guards branch to a cold exit block per guard that stores the
fail arguments to the exit buffer and either tail-calls the bridge attached
to the guard's slot or returns the exit number.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from tracejit.backend import (
    BackendUnavailable,
    Const,
    MachineCodeTrace,
    Trace,
    c_symbol,
)

try:
    import llvmlite.binding as llvm
    import llvmlite.ir as lir
except ImportError as e:  # pragma: no cover - reported by check_available
    llvm = None
    lir = None
    _IMPORT_ERROR: Exception | None = e
else:
    _IMPORT_ERROR = None
    from tracejit_llvm import engines

total_compile_seconds = 0.0
RAW = "raw memory"  # tag for raw_load/raw_store: no alias information at all


class _Gen:
    """Generates the LLVM function for one trace."""

    def __init__(self, trace: Trace, name: str, module: Any = None,
                 siblings: dict[int, Any] | None = None,
                 symbols: dict[str, int] | None = None) -> None:
        self.trace = trace
        # C functions the code calls by address: the program's addresses,
        # passed in (the helper process's own would differ)
        self.symbols = symbols or process_symbols()
        self.i64 = lir.IntType(64)
        self.i32 = lir.IntType(32)
        self.i1 = lir.IntType(1)
        self.f64 = lir.DoubleType()
        self.ptr = lir.PointerType()
        if module is None:
            module = lir.Module(name=name)
            module.triple = llvm.get_process_triple()
        self.module = module
        self.siblings = siblings or {}
        self.fnty = lir.FunctionType(self.i64, [self.i64, self.ptr])
        self.fn = self.siblings.get(id(trace)) or lir.Function(self.module, self.fnty, name=name)
        self.frame, self.buf = self.fn.args
        self.vals: dict[int, Any] = {}
        self._leave: Any = None
        self._leave_number: Any = None
        self._leave_slot: Any = None
        self._intrinsics: dict[str, Any] = {}
        self._tbaa_root = self.module.add_metadata([lir.MetaDataString(self.module, "tracejit")])
        self._tbaa: dict[str, Any] = {}
        self._weights = self.module.add_metadata(
            [lir.MetaDataString(self.module, "branch_weights"), self.i32(1000), self.i32(1)])

    # -- helpers -----------------------------------------------------------

    def ty(self, t: str) -> Any:
        return self.f64 if t == "f" else self.i64

    def val(self, v: Any) -> Any:
        if isinstance(v, Const):
            if v.type == "f":
                return self.f64(v.value)
            if v.type == "r":
                return self.i64(v.raw())  # (an address: see wire.AddressConst)
            return self.i64(v.value)
        return self.vals[id(v)]

    def addr(self, base: Any, offset: int, ty: Any) -> Any:
        b = self.b
        a = b.add(base, self.i64(int(offset))) if offset else base
        return b.inttoptr(a, self.ptr)

    def tbaa(self, name: str) -> Any:
        """Type-based alias info: accesses with different tags never overlap.

        Object fields are tagged by offset and type (objects never overlap and
        field bases are object starts), list/tuple item slots, frame slots and
        the exit buffer each get their own tag."""
        tag = self._tbaa.get(name)
        if tag is None:
            node = self.module.add_metadata(
                [lir.MetaDataString(self.module, name), self._tbaa_root, self.i64(0)])
            tag = self.module.add_metadata([node, node, self.i64(0)])
            self._tbaa[name] = tag
        return tag

    def load(self, base: Any, offset: int, ty: Any, tag: str | None = None) -> Any:
        """``tag=RAW``: raw memory, which may alias anything (no TBAA)."""
        v = self.b.load(self.addr(base, offset, ty), typ=ty)
        if tag is not RAW:
            tag = tag or getattr(offset, "tag", None) or f"{ty}@{offset}"
            v.set_metadata("tbaa", self.tbaa(tag))
        return v

    def store(self, value: Any, base: Any, offset: int, tag: str | None = None) -> None:
        st = self.b.store(value, self.addr(base, offset, value.type))
        if tag is not RAW:
            tag = tag or getattr(offset, "tag", None) or f"{value.type}@{offset}"
            st.set_metadata("tbaa", self.tbaa(tag))

    def intrinsic(self, name: str, ret: Any, args: list[Any]) -> Any:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = lir.Function(self.module, lir.FunctionType(ret, args), name=name)
        return fn

    def cfunc(self, address: int, ret: Any, args: list[Any]) -> Any:
        fnty = lir.FunctionType(ret, args)
        return fnty, self.b.inttoptr(self.i64(address), self.ptr)

    def call_addr(self, address: int, ret: Any, args: list[Any]) -> Any:
        fnty, fp = self.cfunc(address, ret, [a.type for a in args])
        return self.b.call(_FnPtr(fp, fnty), args)

    def to_raw(self, v: Any) -> Any:
        return self.b.bitcast(v, self.i64) if v.type == self.f64 else v

    def store_buf(self, values: list[Any]) -> None:
        for k, v in enumerate(values):
            p = self.b.gep(self.buf, [self.i64(k)], source_etype=self.i64)
            self.b.store(self.to_raw(v), p).set_metadata("tbaa", self.tbaa("buf"))

    # -- generation ---------------------------------------------------------

    def generate(self) -> str:
        entry = self.fn.append_basic_block("entry")
        self.b = lir.IRBuilder(entry)
        for k, a in enumerate(self.trace.inputargs):
            p = self.b.gep(self.buf, [self.i64(k)], source_etype=self.i64)
            raw = self.b.load(p, typ=self.i64)
            raw.set_metadata("tbaa", self.tbaa("buf"))
            self.vals[id(a)] = self.b.bitcast(raw, self.f64) if a.type == "f" else raw
        self.loop_block = None
        self.phis: list[Any] = []
        for op in self.trace.ops:
            handler = getattr(self, "op_" + op.name, None)
            if handler is None:
                _missing(op.name)
            handler(op)
        if not self.b.block.is_terminated:
            self.b.unreachable()
        return str(self.module)

    def _missing(self, name: str) -> None:
        raise NotImplementedError(name)

    def exit_block(self, op: Any) -> Any:
        """A cold block that leaves the trace through ``op``'s exit."""
        blk = self.fn.append_basic_block("exit%d" % op.exit.number)
        saved = self.b.block
        self.b.position_at_end(blk)
        self.store_buf([self.val(a) for a in op.fail_args])
        self.leave(op.exit.number, op.exit.slot_address)
        self.b.position_at_end(saved)
        return blk

    def leave(self, number: int, slot_address: int) -> None:
        """Branch to the function's one shared leaving block, which reads the
        exit's bridge slot and either tail-calls the bridge or returns the exit
        number (one copy of that code instead of one per guard)."""
        b = self.b
        if self._leave is None:
            saved = b.block
            self._leave = self.fn.append_basic_block("leave")
            b.position_at_end(self._leave)
            self._leave_number = b.phi(self.i64)
            self._leave_slot = b.phi(self.i64)
            target = b.load(b.inttoptr(self._leave_slot, self.ptr), typ=self.i64)
            target.set_metadata("tbaa", self.tbaa("slot"))
            has = b.icmp_unsigned("!=", target, self.i64(0))
            tail_blk = self.fn.append_basic_block()
            ret_blk = self.fn.append_basic_block()
            b.cbranch(has, tail_blk, ret_blk)
            b.position_at_end(tail_blk)
            fp = b.inttoptr(target, self.ptr)
            r = b.call(_FnPtr(fp, self.fnty), [self.frame, self.buf], tail="musttail")
            b.ret(r)
            b.position_at_end(ret_blk)
            b.ret(self._leave_number)
            b.position_at_end(saved)
        if not slot_address:
            b.ret(self.i64(number))
            return
        self._leave_number.add_incoming(self.i64(number), b.block)
        self._leave_slot.add_incoming(self.i64(slot_address), b.block)
        b.branch(self._leave)

    def guard(self, op: Any, ok: Any) -> None:
        cont = self.fn.append_basic_block()
        br = self.b.cbranch(ok, cont, self.exit_block(op))
        br.set_metadata("prof", self._weights)
        self.b.position_at_end(cont)

    def set(self, op: Any, v: Any) -> None:
        self.vals[id(op)] = v

    # -- control ------------------------------------------------------------

    def op_label(self, op: Any) -> None:
        b = self.b
        loop = self.fn.append_basic_block("loop")
        pre = b.block
        b.branch(loop)
        b.position_at_end(loop)
        self.loop_block = loop
        for a in op.args:
            phi = b.phi(self.ty(a.type))
            phi.add_incoming(self.val(a), pre)
            self.phis.append(phi)
        for a, phi in zip(op.args, self.phis):
            self.vals[id(a)] = phi
        self.label_args = op.args

    def op_jump(self, op: Any) -> None:
        b = self.b
        args = [self.val(a) for a in op.args]
        if op.descr is None:
            for phi, v in zip(self.phis, args):
                phi.add_incoming(v, b.block)
            b.branch(self.loop_block)
            return
        self.store_buf(args)
        sibling = self.siblings.get(id(op.descr))
        if sibling is not None:  # compiled in the same module: a direct call
            r = b.call(sibling, [self.frame, self.buf], tail="musttail")
        else:
            fp = b.inttoptr(self.i64(op.descr.compiled.address), self.ptr)
            r = b.call(_FnPtr(fp, self.fnty), [self.frame, self.buf], tail="musttail")
        b.ret(r)

    def op_finish(self, op: Any) -> None:
        self.store_buf([self.val(a) for a in op.fail_args])
        self.leave(op.exit.number, op.exit.slot_address)

    # -- integers -----------------------------------------------------------

    def _bin(self, op: Any, fn: Any) -> None:
        a, c = (self.val(x) for x in op.args)
        self.set(op, fn(a, c))

    def op_int_add(self, op: Any) -> None:
        self._bin(op, self.b.add)

    def op_int_sub(self, op: Any) -> None:
        self._bin(op, self.b.sub)

    def op_int_mul(self, op: Any) -> None:
        self._bin(op, self.b.mul)

    def op_int_and(self, op: Any) -> None:
        self._bin(op, self.b.and_)

    def op_int_or(self, op: Any) -> None:
        self._bin(op, self.b.or_)

    def op_int_xor(self, op: Any) -> None:
        self._bin(op, self.b.xor)

    def op_int_lshift(self, op: Any) -> None:
        self._bin(op, self.b.shl)

    def op_int_rshift(self, op: Any) -> None:
        self._bin(op, self.b.ashr)

    def op_int_neg(self, op: Any) -> None:
        self.set(op, self.b.sub(self.i64(0), self.val(op.args[0])))

    def op_int_invert(self, op: Any) -> None:
        self.set(op, self.b.xor(self.val(op.args[0]), self.i64(-1)))

    def op_int_floordiv(self, op: Any) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        q = b.sdiv(x, y)
        r = b.srem(x, y)
        adjust = b.and_(b.icmp_signed("!=", r, self.i64(0)),
                        b.icmp_signed("<", b.xor(r, y), self.i64(0)))
        self.set(op, b.sub(q, b.zext(adjust, self.i64)))

    def op_int_mod(self, op: Any) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        # x % -1 is 0, but srem traps (x86 idiv) for INT64_MIN % -1
        safe_y = b.select(b.icmp_signed("==", y, self.i64(-1)), self.i64(1), y)
        r = b.srem(x, safe_y)
        adjust = b.and_(b.icmp_signed("!=", r, self.i64(0)),
                        b.icmp_signed("<", b.xor(r, y), self.i64(0)))
        self.set(op, b.select(adjust, b.add(r, y), r))

    def _cmp(self, op: Any, pred: str) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        self.set(op, b.zext(b.icmp_signed(pred, x, y), self.i64))

    def op_int_lt(self, op: Any) -> None:
        self._cmp(op, "<")

    def op_int_le(self, op: Any) -> None:
        self._cmp(op, "<=")

    def op_int_eq(self, op: Any) -> None:
        self._cmp(op, "==")

    def op_int_ne(self, op: Any) -> None:
        self._cmp(op, "!=")

    def op_int_gt(self, op: Any) -> None:
        self._cmp(op, ">")

    def op_int_ge(self, op: Any) -> None:
        self._cmp(op, ">=")

    def op_ref_address(self, op: Any) -> None:
        self.set(op, self.val(op.args[0]))  # references are i64 already

    def op_ptr_eq(self, op: Any) -> None:
        self._cmp(op, "==")

    def op_ptr_ne(self, op: Any) -> None:
        self._cmp(op, "!=")

    def _ovf(self, op: Any, method: str) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        pair = getattr(b, method)(x, y)
        self.guard(op, b.not_(b.extract_value(pair, 1)))
        self.set(op, b.extract_value(pair, 0))

    def op_int_add_ovf(self, op: Any) -> None:
        self._ovf(op, "sadd_with_overflow")

    def op_int_sub_ovf(self, op: Any) -> None:
        self._ovf(op, "ssub_with_overflow")

    def op_int_mul_ovf(self, op: Any) -> None:
        self._ovf(op, "smul_with_overflow")

    def op_int_lshift_ovf(self, op: Any) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        r = b.shl(x, y)
        self.guard(op, b.icmp_signed("==", b.ashr(r, y), x))
        self.set(op, r)

    # -- floats ---------------------------------------------------------------

    def op_float_add(self, op: Any) -> None:
        self._bin(op, self.b.fadd)

    def op_float_sub(self, op: Any) -> None:
        self._bin(op, self.b.fsub)

    def op_float_mul(self, op: Any) -> None:
        self._bin(op, self.b.fmul)

    def op_float_truediv(self, op: Any) -> None:
        self._bin(op, self.b.fdiv)

    def _fcall(self, name: str, *args: Any) -> Any:
        fn = self.intrinsic(name, self.f64, [self.f64] * len(args))
        return self.b.call(fn, list(args))

    def op_float_mod(self, op: Any) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        mod = b.frem(x, y)
        self.set(op, self._fix_mod(mod, y)[0])

    def _fix_mod(self, mod: Any, y: Any) -> tuple[Any, Any]:
        """CPython's sign fix of fmod: returns (mod, adjusted)."""
        b = self.b
        zero = self.f64(0.0)
        nonzero = b.fcmp_unordered("!=", mod, zero)
        signs_differ = b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
        adjust = b.and_(nonzero, signs_differ)
        fixed = b.select(adjust, b.fadd(mod, y), mod)
        signed_zero = self._fcall("llvm.copysign.f64", zero, y)
        return b.select(nonzero, fixed, signed_zero), adjust

    def op_float_floordiv(self, op: Any) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        zero = self.f64(0.0)
        mod = b.frem(x, y)
        div = b.fdiv(b.fsub(x, mod), y)
        _, adjust = self._fix_mod(mod, y)
        div = b.select(adjust, b.fsub(div, self.f64(1.0)), div)
        floordiv = self._fcall("llvm.floor.f64", div)
        bump = b.fcmp_ordered(">", b.fsub(div, floordiv), self.f64(0.5))
        floordiv = b.select(bump, b.fadd(floordiv, self.f64(1.0)), floordiv)
        div_nonzero = b.fcmp_unordered("!=", div, zero)
        signed_zero = self._fcall("llvm.copysign.f64", zero, b.fdiv(x, y))
        self.set(op, b.select(div_nonzero, floordiv, signed_zero))

    def _fcmp(self, op: Any, pred: str, ordered: bool = True) -> None:
        b = self.b
        x, y = (self.val(a) for a in op.args)
        c = b.fcmp_ordered(pred, x, y) if ordered else b.fcmp_unordered(pred, x, y)
        self.set(op, b.zext(c, self.i64))

    def op_float_lt(self, op: Any) -> None:
        self._fcmp(op, "<")

    def op_float_le(self, op: Any) -> None:
        self._fcmp(op, "<=")

    def op_float_eq(self, op: Any) -> None:
        self._fcmp(op, "==")

    def op_float_ne(self, op: Any) -> None:
        self._fcmp(op, "!=", ordered=False)

    def op_float_gt(self, op: Any) -> None:
        self._fcmp(op, ">")

    def op_float_ge(self, op: Any) -> None:
        self._fcmp(op, ">=")

    def op_float_neg(self, op: Any) -> None:
        self.set(op, self.b.fneg(self.val(op.args[0])))

    def op_float_abs(self, op: Any) -> None:
        self.set(op, self._fcall("llvm.fabs.f64", self.val(op.args[0])))

    def op_cast_int_to_float(self, op: Any) -> None:
        self.set(op, self.b.sitofp(self.val(op.args[0]), self.f64))

    def op_cast_float_to_int(self, op: Any) -> None:
        self.set(op, self.b.fptosi(self.val(op.args[0]), self.i64))

    # -- memory ---------------------------------------------------------------

    def op_getfield_i(self, op: Any) -> None:
        self.set(op, self.load(self.val(op.args[0]), op.descr, self.i64))

    op_getfield_r = op_getfield_i

    def op_raw_load_i(self, op: Any) -> None:
        self.set(op, self.load(self.val(op.args[0]), op.descr, self.i64, RAW))

    op_raw_load_r = op_raw_load_i

    def op_raw_store_i(self, op: Any) -> None:
        self.store(self.val(op.args[1]), self.val(op.args[0]), op.descr, RAW)

    op_raw_store_r = op_raw_store_i

    def op_getfield_f(self, op: Any) -> None:
        self.set(op, self.load(self.val(op.args[0]), op.descr, self.f64))

    def op_setfield_i(self, op: Any) -> None:
        self.store(self.val(op.args[1]), self.val(op.args[0]), op.descr)

    op_setfield_r = op_setfield_i

    def op_getarrayitem_r(self, op: Any) -> None:
        b = self.b
        base, idx = (self.val(a) for a in op.args)
        a = b.add(base, b.shl(idx, self.i64(3)))
        self.set(op, self.load(a, op.descr, self.i64, "item"))

    def op_getlistitem_r(self, op: Any) -> None:
        b = self.b
        lst, idx = (self.val(a) for a in op.args)
        items = self.load(lst, op.descr, self.i64)
        self.set(op, self.load(b.add(items, b.shl(idx, self.i64(3))), 0, self.i64, "item"))

    def op_setlistitem_r(self, op: Any) -> None:
        b = self.b
        lst, idx, v = (self.val(a) for a in op.args)
        items = self.load(lst, op.descr, self.i64)
        self.store(v, b.add(items, b.shl(idx, self.i64(3))), 0, "item")

    def op_get_frame(self, op: Any) -> None:
        self.set(op, self.frame)

    def op_incref(self, op: Any) -> None:
        b = self.b
        r = self.val(op.args[0])
        rc = self.load(r, 0, self.i64)
        immortal = b.icmp_signed("<", b.trunc(rc, self.i32), self.i32(0))
        with b.if_then(b.not_(immortal), likely=True):
            self.store(b.add(rc, self.i64(1)), r, 0)

    def op_decref(self, op: Any) -> None:
        b = self.b
        r = self.val(op.args[0])
        rc = self.load(r, 0, self.i64)
        immortal = b.icmp_signed("<", b.trunc(rc, self.i32), self.i32(0))
        with b.if_then(b.not_(immortal), likely=True):
            last = b.icmp_signed("==", rc, self.i64(1))
            with b.if_else(last, likely=False) as (then, otherwise):
                with then:
                    self.call_addr(self.symbols["Py_DecRef"], lir.VoidType(), [r])
                with otherwise:
                    self.store(b.sub(rc, self.i64(1)), r, 0)

    def op_unbox_int(self, op: Any) -> None:
        b = self.b
        lay = op.descr
        r = self.val(op.args[0])
        tag = self.load(r, lay.tag_offset, self.i64)
        compact = b.icmp_unsigned("<", tag, self.i64(2 << lay.non_size_bits))
        fast = b.block
        with b.if_else(compact, likely=True) as (then, otherwise):
            with then:
                digit = b.zext(self.load(r, lay.digit_offset, self.i32), self.i64)
                sign = b.sub(self.i64(1), b.and_(tag, self.i64(3)))
                fast_val = b.mul(sign, digit)
                fast = b.block
            with otherwise:
                slot = b.alloca(self.i32)
                b.store(self.i32(0), slot)
                slow_val = self.call_addr(lay.slow_helper, self.i64,
                                          [r, b.ptrtoint(slot, self.i64)])
                ovf = b.load(slot, typ=self.i32)
                slow = b.block
        phi = b.phi(self.i64)
        phi.add_incoming(fast_val, fast)
        phi.add_incoming(slow_val, slow)
        ovf_phi = b.phi(self.i32)
        ovf_phi.add_incoming(self.i32(0), fast)
        ovf_phi.add_incoming(ovf, slow)
        self.guard(op, b.icmp_signed("==", ovf_phi, self.i32(0)))
        self.set(op, phi)

    # -- calls ------------------------------------------------------------------

    def _call(self, op: Any) -> Any:
        d = op.descr
        ret = {"i": self.i64, "f": self.f64, "r": self.i64, "v": lir.VoidType()}[d.restype]
        args = [self.val(a) for a in op.args]
        return self.call_addr(d.address, ret, args)

    def op_call_i(self, op: Any) -> None:
        self.set(op, self._call(op))

    op_call_f = op_call_i
    op_call_r = op_call_i

    def op_call_v(self, op: Any) -> None:
        self._call(op)

    # -- guards -------------------------------------------------------------------

    def op_guard_true(self, op: Any) -> None:
        self.guard(op, self.b.icmp_signed("!=", self.val(op.args[0]), self.i64(0)))

    def op_guard_false(self, op: Any) -> None:
        self.guard(op, self.b.icmp_signed("==", self.val(op.args[0]), self.i64(0)))

    def op_guard_value_i(self, op: Any) -> None:
        x, y = (self.val(a) for a in op.args)
        self.guard(op, self.b.icmp_signed("==", x, y))

    op_guard_value_r = op_guard_value_i

    def op_guard_nonnull(self, op: Any) -> None:
        self.guard(op, self.b.icmp_signed("!=", self.val(op.args[0]), self.i64(0)))

    def op_guard_class(self, op: Any) -> None:
        r, t = (self.val(a) for a in op.args)
        self.guard(op, self.b.icmp_signed("==", self.load(r, 8, self.i64), t))


def process_symbols() -> dict[str, int]:
    """The addresses, in this process, of the C functions that generated code
    calls without a call descriptor."""
    return {"Py_DecRef": c_symbol("Py_DecRef")}


def module_text(traces: list[Any], names: list[str], module_name: str,
                symbols: dict[str, int] | None = None) -> str:
    """The LLVM IR of one module holding ``traces`` as functions ``names``
    (jumps between them are direct calls); ``symbols`` as
    :func:`process_symbols` gives them in the program."""
    module = lir.Module(name=module_name)
    module.triple = llvm.get_process_triple()
    fnty = lir.FunctionType(lir.IntType(64), [lir.IntType(64), lir.PointerType()])
    siblings = {id(t): lir.Function(module, fnty, name=n) for t, n in zip(traces, names)}
    symbols = symbols or process_symbols()
    for t, n in zip(traces, names):
        _Gen(t, n, module, siblings, symbols).generate()
    return str(module)


class _FnPtr:
    """Lets llvmlite call through a pointer value with a known function type."""

    def __init__(self, ptr: Any, fnty: Any) -> None:
        self.ptr = ptr
        self.function_type = fnty
        self.type = ptr.type

    def get_reference(self) -> str:
        return self.ptr.get_reference()

    def __str__(self) -> str:
        return str(self.ptr)


def _missing(name: str) -> None:
    raise NotImplementedError(f"llvm backend: no code for {name}")


class LLVMTrace(MachineCodeTrace):
    # llvm_ir: the module before optimization; llvm_name: this trace's function
    # in it; with Backend.keep_listing also the optimized module and assembly
    __slots__ = ("compile_seconds", "llvm_ir", "llvm_name", "llvm_ir_optimized", "asm")

    def release(self) -> None:
        """With the engine's last object, the engine goes (at the next link)."""
        self.owner.release()


class Backend:
    """Compiles traces with LLVM."""

    name = "llvm"
    releases_gil = True  # llvmlite calls release the GIL: compile in the background
    # set by tracejit.report for --report: keep the optimized IR and assembly
    # text of every compiled module (costs a code generation round each)
    keep_listing = False

    # optimization levels (tiers, see tracejit.backend): the new pass
    # manager's speed level; code generation is the same for all
    levels = ("O0", "O1", "O2", "O3")
    level = "O2"
    # numbers modules over every level (their names must differ); next() on
    # it is atomic, and two levels may compile on two threads at once
    _numbers = itertools.count(1)

    def __init__(self, level: str = "O2") -> None:
        if level not in self.levels:
            raise ValueError(f"llvm backend: no level {level!r} (levels: {self.levels})")
        self.level = level

    def at_level(self, level: str) -> Backend:
        """The same backend optimizing at ``level`` ("O0" is the cheapest)."""
        return self if level == self.level else Backend(level)

    def check_available(self) -> None:
        if _IMPORT_ERROR is not None:
            raise BackendUnavailable(f"llvmlite cannot be imported: {_IMPORT_ERROR}")
        try:
            engines.Machine.get()
        except Exception as e:
            raise BackendUnavailable(f"LLVM native target unavailable: {e}") from e

    def compile(self, trace: Trace) -> MachineCodeTrace:
        return self.compile_many([trace])[0]

    def compile_many(self, traces: list[Trace]) -> list[MachineCodeTrace]:
        """Compile traces that may jump to each other in one LLVM module
        (one optimization and code generation round instead of several)."""
        global total_compile_seconds
        t0 = time.perf_counter()
        count = next(Backend._numbers)
        module_name = f"tj_module_{count}"
        names = [f"tj_{t.name}_{count}_{k}" for k, t in enumerate(traces)]
        dump = os.environ.get("TRACEJIT_LLVM_DUMP")
        want_listing = self.keep_listing or bool(dump)
        # the helper builds the IR too when it can (no GIL held for it here)
        done = engines.Machine.object_code_of_traces(
            traces, names, module_name, int(self.level[1]), want_listing)
        if done is None:
            text = module_text(traces, names, module_name)
            code, optimized_ir, asm = engines.Machine.object_code(
                text, int(self.level[1]), want_listing)
        else:
            text, code, optimized_ir, asm = done
        if dump:
            with open(dump, "a") as f:
                f.write(optimized_ir or "")
        owner, addresses = engines.link(code, names)
        seconds = time.perf_counter() - t0
        total_compile_seconds += seconds
        results = []
        for n, address in zip(names, addresses):
            result = LLVMTrace(address, owner=owner)
            result.llvm_ir = text
            result.llvm_name = n
            result.llvm_ir_optimized = optimized_ir
            result.asm = asm
            result.compile_seconds = seconds / len(names)
            results.append(result)
        return results
