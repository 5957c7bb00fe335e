"""Translate traces to C source: one C function per trace.

Every IR value becomes a C local: ``int64_t`` for ints and references (an
object is its address), ``double`` for floats.  Ops become one line of C each,
mostly from the format tables below.  A guard becomes an ``if`` that stores
the fail arguments in ``buf`` and leaves through the function's single exit
block, which tail-calls the bridge in the exit's slot or returns the exit
number.  The loop ``label`` is a C label, and ``jump`` back to it a ``goto``.
"""

from __future__ import annotations

from tracejit.backend import FLOAT, INT, Const, Op, Trace, c_symbol, float_bits

# Shared by every generated file.  The code is compiled with -fwrapv (int ops
# wrap, as the IR says) and -fno-strict-aliasing (object fields, frame slots
# and buf are all read through int64_t pointers and doubles).
PRELUDE = r"""
#include <stdint.h>
typedef int64_t (*tj_trace)(int64_t frame, int64_t *buf);
#define I64(a) (*(int64_t *)(a))
#define F64(a) (*(double *)(a))
#define UNLIKELY(c) __builtin_expect(!!(c), 0)
/* calls to other traces must not grow the C stack: gcc -O2 turns them into
   jumps (sibling calls); compilers that have musttail are told to insist */
#if defined(__has_attribute)
#if __has_attribute(musttail)
#define TAIL __attribute__((musttail))
#endif
#endif
#ifndef TAIL
#define TAIL
#endif

static inline double tj_f(int64_t bits) { union { int64_t i; double d; } u = {bits}; return u.d; }
static inline int64_t tj_b(double d) { union { double d; int64_t i; } u = {d}; return u.i; }

static inline int64_t tj_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b, r = a % b;
    return q - (r != 0 && (r ^ b) < 0);
}
static inline int64_t tj_mod(int64_t a, int64_t b) {
    if (b == -1) return 0;  /* INT64_MIN % -1 traps on x86 */
    int64_t r = a % b;
    return (r != 0 && (r ^ b) < 0) ? r + b : r;
}
/* CPython's float_floor_div / float_rem (Objects/floatobject.c) */
static inline double tj_fmod(double x, double y) {
    double mod = __builtin_fmod(x, y);
    if (mod) { if ((y < 0) != (mod < 0)) mod += y; }
    else mod = __builtin_copysign(0.0, y);
    return mod;
}
static inline double tj_ffloordiv(double x, double y) {
    double mod = __builtin_fmod(x, y), div = (x - mod) / y, floordiv;
    if (mod && (y < 0) != (mod < 0)) div -= 1.0;
    if (div) {
        floordiv = __builtin_floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else floordiv = __builtin_copysign(0.0, x / y);
    return floordiv;
}

/* immortal objects (3.12+) have a negative low 32-bit count: never touched */
static inline void tj_incref(int64_t o) {
    int64_t rc = I64(o);
    if ((int32_t)rc >= 0) I64(o) = rc + 1;
}
static inline void tj_decref(int64_t o, int64_t dealloc) {
    int64_t rc = I64(o);
    if ((int32_t)rc < 0) return;
    if (UNLIKELY(rc == 1)) ((void (*)(int64_t))dealloc)(o);
    else I64(o) = rc - 1;
}

/* unbox_int: compact ints inline; others through PyLong_AsLongAndOverflow in
   a separate function, so that no local of a trace has its address taken
   (which would stop gcc from turning the trace's exits into tail calls) */
struct tj_long { int64_t value; int overflow; };
static __attribute__((noinline)) struct tj_long tj_unbox_slow(int64_t o, int64_t helper) {
    int overflow = 0;
    int64_t v = ((int64_t (*)(int64_t, int *))helper)(o, &overflow);
    return (struct tj_long){v, overflow};
}
static inline struct tj_long tj_unbox(int64_t o, int64_t tag_at, int64_t digit_at,
                                      int bits, int64_t helper) {
    uint64_t tag = (uint64_t)I64(o + tag_at);
    if (__builtin_expect(tag < (2ULL << bits), 1))
        return (struct tj_long){(1 - (int64_t)(tag & 3)) * *(uint32_t *)(o + digit_at), 0};
    return tj_unbox_slow(o, helper);
}
"""

_CMP = {"lt": "<", "le": "<=", "eq": "==", "ne": "!=", "gt": ">", "ge": ">="}
_INT = {"add": "+", "sub": "-", "mul": "*", "and": "&", "or": "|", "xor": "^", **_CMP}
_FLOAT = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", **_CMP}

# result-producing ops: {0}, {1}.. are the arguments, {d} the offset descriptor
EXPR: dict[str, str] = {
    **{f"int_{k}": f"{{0}} {v} {{1}}" for k, v in _INT.items()},
    **{f"float_{k}": f"{{0}} {v} {{1}}" for k, v in _FLOAT.items()},
    "int_lshift": "(int64_t)((uint64_t){0} << {1})",
    "int_rshift": "{0} >> {1}",
    "int_floordiv": "tj_floordiv({0}, {1})",
    "int_mod": "tj_mod({0}, {1})",
    "int_neg": "-{0}",
    "int_invert": "~{0}",
    "float_floordiv": "tj_ffloordiv({0}, {1})",
    "float_mod": "tj_fmod({0}, {1})",
    "float_neg": "-{0}",
    "float_abs": "__builtin_fabs({0})",
    "cast_int_to_float": "(double){0}",
    "cast_float_to_int": "(int64_t){0}",
    "ptr_eq": "{0} == {1}",
    "ptr_ne": "{0} != {1}",
    "ref_address": "{0}",
    **dict.fromkeys(["getfield_i", "getfield_r", "raw_load_i", "raw_load_r"], "I64({0} + {d})"),
    "getfield_f": "F64({0} + {d})",
    "getarrayitem_r": "I64({0} + {d} + 8 * {1})",
    "getlistitem_r": "I64(I64({0} + {d}) + 8 * {1})",
    "get_frame": "frame",
}
# ops without a result
STMT: dict[str, str] = {
    **dict.fromkeys(["setfield_i", "setfield_r", "raw_store_i", "raw_store_r"],
                    "I64({0} + {d}) = {1};"),
    "setlistitem_r": "I64(I64({0} + {d}) + 8 * {1}) = {2};",
    "incref": "tj_incref({0});",
    "decref": "tj_decref({0}, {dealloc});",
}
# guards: the condition under which the guard fails (the trace leaves)
GUARD_FAILS: dict[str, str] = {
    "guard_true": "!{0}",
    "guard_false": "{0}",
    **dict.fromkeys(["guard_value_i", "guard_value_r"], "{0} != {1}"),
    "guard_class": "I64({0} + 8) != {1}",  # ob_type
    "guard_nonnull": "!{0}",
}
_CTYPE = {INT: "int64_t", "r": "int64_t", FLOAT: "double", "v": "void"}


def c_int(v: int) -> str:
    """An int64 literal (INT64_MIN has none: it is written as an expression)."""
    if v == -(1 << 63):
        return "(-0x7fffffffffffffffLL - 1)"
    return f"({v}LL)" if v < 0 else f"{v}LL"


def declaration(name: str) -> str:
    return f"int64_t {name}(int64_t frame, int64_t *buf)"


class FunctionWriter:
    """Writes the C function ``name`` for one trace.

    ``siblings`` maps traces compiled in the same C file to their function
    names: jumps to them are direct calls.
    """

    def __init__(self, trace: Trace, name: str, siblings: dict[int, str]) -> None:
        self.trace = trace
        self.name = name
        self.siblings = siblings
        self.names: dict[int, str] = {}
        self.lines: list[str] = []
        self.uses_leave = False

    def val(self, v: object) -> str:
        if isinstance(v, Const):
            if v.type == FLOAT:
                return f"tj_f({c_int(float_bits(v.value))})"
            if v.type == "r":
                return "0" if v.is_null() else c_int(id(v.value))
            return c_int(v.value)
        return self.names[id(v)]

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def define(self, op: Op, expr: str, prefix: str = "v") -> None:
        name = f"{prefix}{len(self.names)}"
        self.names[id(op)] = name
        self.emit(f"{_CTYPE[op.type]} {name} = {expr};")

    def store_buf(self, values: list) -> str:
        """C statements writing ``values`` to buf[0..n) (doubles as bits)."""
        return "".join(
            f"buf[{k}] = {f'tj_b({self.val(v)})' if v.type == FLOAT else self.val(v)}; "
            for k, v in enumerate(values))

    def leave(self, op: Op) -> str:
        """C code leaving through ``op``'s exit (its fail args are in buf)."""
        code = self.store_buf(op.fail_args)
        if not op.exit.slot_address:
            return f"{{ {code}return {op.exit.number}; }}"
        self.uses_leave = True
        return (f"{{ {code}exit_number = {op.exit.number}; "
                f"exit_slot = {c_int(op.exit.slot_address)}; goto leave; }}")

    def guard(self, op: Op, fails: str) -> None:
        self.emit(f"if (UNLIKELY({fails})) {self.leave(op)}")

    def write(self) -> str:
        for k, a in enumerate(self.trace.inputargs):
            raw = f"buf[{k}]"
            self.define(a, f"tj_f({raw})" if a.type == FLOAT else raw, "a")
        for op in self.trace.ops:
            self.op(op)
        body = "\n".join(self.lines)
        if self.uses_leave:  # the exits' shared tail: bridge or return
            body = ("    int64_t exit_number, exit_slot;\n" + body + "\n  leave: {\n"
                    "    int64_t bridge = I64(exit_slot);\n"
                    "    if (bridge) { TAIL return ((tj_trace)bridge)(frame, buf); }\n"
                    "    return exit_number;\n  }")
        return (f"/* {self.trace.name}: {len(self.trace.ops)} ops */\n"
                f"{declaration(self.name)} {{\n{body}\n}}\n")

    def op(self, op: Op) -> None:
        name = op.name
        args = [self.val(a) for a in op.args]
        d = c_int(int(op.descr)) if isinstance(op.descr, int) else ""
        if name in EXPR:
            self.define(op, EXPR[name].format(*args, d=d))
        elif name in STMT:
            self.emit(STMT[name].format(*args, d=d, dealloc=c_int(c_symbol("Py_DecRef"))))
        elif name in GUARD_FAILS:
            self.guard(op, GUARD_FAILS[name].format(*args))
        elif name in ("int_add_ovf", "int_sub_ovf", "int_mul_ovf"):
            self.define(op, "0")
            self.guard(op, f"__builtin_{name[4:7]}_overflow({args[0]}, {args[1]}, "
                           f"&{self.names[id(op)]})")
        elif name == "int_lshift_ovf":
            self.define(op, f"(int64_t)((uint64_t){args[0]} << {args[1]})")
            self.guard(op, f"({self.names[id(op)]} >> {args[1]}) != {args[0]}")
        elif name == "unbox_int":
            lay = op.descr
            tmp = f"u{len(self.names)}"
            self.emit(f"struct tj_long {tmp} = tj_unbox({args[0]}, {lay.tag_offset}, "
                      f"{lay.digit_offset}, {lay.non_size_bits}, {c_int(lay.slow_helper)});")
            self.guard(op, f"{tmp}.overflow")
            self.define(op, f"{tmp}.value")
        elif name.startswith("call_"):
            self.call(op, args)
        elif name == "label":
            self.label(op)
        elif name == "jump":
            self.jump(op, args)
        elif name == "finish":
            self.emit(self.leave(op))
        else:
            raise NotImplementedError(f"c backend: no code for {name}")

    def call(self, op: Op, args: list[str]) -> None:
        d = op.descr
        proto = ", ".join(_CTYPE[a.type] for a in op.args) or "void"
        fn = f"(({_CTYPE[d.restype]} (*)({proto})){c_int(d.address)})"
        call = f"{fn}({', '.join(args)})"
        if op.type == "v":
            self.emit(call + ";")
        else:
            self.define(op, call)

    def label(self, op: Op) -> None:
        # the loop-carried values become mutable variables l0, l1, ...
        self.carried = []
        for k, a in enumerate(op.args):
            var = f"l{k}"
            self.emit(f"{_CTYPE[a.type]} {var} = {self.val(a)};")
            self.carried.append((var, a.type))
        for (var, _), a in zip(self.carried, op.args):
            self.names[id(a)] = var
        self.lines.append("  loop: ;")

    def jump(self, op: Op, args: list[str]) -> None:
        if op.descr is None:  # back to the label: a parallel assignment, then goto
            temps = [f"{_CTYPE[t]} t{k} = {v};" for k, ((_, t), v)
                     in enumerate(zip(self.carried, args))]
            moves = [f"{var} = t{k};" for k, (var, _) in enumerate(self.carried)]
            self.emit("{ " + " ".join(temps + moves) + " goto loop; }")
            return
        self.emit(self.store_buf(op.args).rstrip())
        target = self.siblings.get(id(op.descr))
        if target is None:
            target = f"((tj_trace){c_int(op.descr.compiled.address)})"
        self.emit(f"TAIL return {target}(frame, buf);")


def c_source(traces: list[Trace], names: list[str]) -> str:
    """One C file defining a function per trace (``names[k]`` for ``traces[k]``)."""
    siblings = {id(t): n for t, n in zip(traces, names)}
    protos = "".join(f"{declaration(n)};\n" for n in names)
    bodies = "\n".join(FunctionWriter(t, n, siblings).write() for t, n in zip(traces, names))
    return f"{PRELUDE}\n{protos}\n{bodies}"
