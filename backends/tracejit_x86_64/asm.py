"""A small x86-64 assembler whose bytes all come from PeachPy's encoder.

Building a PeachPy instruction object costs 15-35 us, far too much for a
compile budget of about 2 ms per trace.  So every instruction *form* (the
mnemonic, its registers, and the kind of each immediate, displacement or
branch offset) is encoded by PeachPy once per process: twice per patchable
field, with two sentinel values, and the bytes that differ locate the field.
Later instructions of the same form copy the cached bytes and patch the
fields (about 1 us).  A new form does not build a PeachPy instruction either
(see :func:`_build`): one instruction object per operand *kind* supplies the
encoding functions, which are then called with the form's real operands.

Operands are plain ints: general-purpose registers 0-15 (hardware numbers:
rax=0, rcx=1, ... r15=15), xmm registers 16-31, 32-bit views 32-47 and 8-bit
views 48-63.  Memory operands are ``base + index*8 + disp`` with ``RIP`` as a
base for constant-pool entries.  Branches and RIP-relative loads refer to
labels (ints from :meth:`Asm.new_label`) and are fixed up in :meth:`Asm.finish`.
"""

from __future__ import annotations

import struct
from typing import Any

XMM, GP32, GP8 = 16, 32, 48
RIP = 99
NO_INDEX = -1

# field classes: (width in bytes, struct format, sentinel A, sentinel B).  The
# sentinels of a class lie in the range of values the class accepts and differ
# in every byte, so that PeachPy picks the same encoding for both.
_FIELDS: dict[str, tuple[int, str, int, int]] = {
    "s8": (1, "<b", -0x5B, 0x25),
    "u8": (1, "<B", 0x25, 0x3A),
    "s32": (4, "<i", -0x11223344, -0x55667788),
    "u32": (4, "<I", 0x91223344, 0xA5667788),
    "i64": (8, "<q", 0x1122334455667788, 0x2233445566778899),
    "rel": (4, "<i", 0x11223344, 0x55667788),
}

_peachpy: Any = None
_templates: dict[tuple, tuple[bytes, tuple]] = {}
_encoders: dict[tuple, list[Any]] = {}


def cache_info() -> dict[str, int]:
    """Instruction forms encoded so far, and PeachPy instructions built."""
    return {"forms": len(_templates), "peachpy_instructions": len(_encoders)}


def _pp() -> Any:
    global _peachpy
    if _peachpy is None:
        import peachpy.x86_64 as px
        from peachpy.x86_64 import operand, registers

        regs = registers
        gp64 = [regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
                regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15]
        gp32 = [regs.eax, regs.ecx, regs.edx, regs.ebx, regs.esp, regs.ebp, regs.esi, regs.edi,
                regs.r8d, regs.r9d, regs.r10d, regs.r11d, regs.r12d, regs.r13d, regs.r14d,
                regs.r15d]
        gp8 = [regs.al, regs.cl, regs.dl, regs.bl, regs.spl, regs.bpl, regs.sil, regs.dil,
               regs.r8b, regs.r9b, regs.r10b, regs.r11b, regs.r12b, regs.r13b, regs.r14b,
               regs.r15b]
        xmm = [getattr(regs, f"xmm{i}") for i in range(16)]
        _peachpy = (px, operand, gp64 + xmm + gp32 + gp8, regs.rip)
    return _peachpy


_SIZE = {1: "byte", 2: "word", 4: "dword", 8: "qword"}


def _disp_class(disp: int) -> str | None:
    if disp == 0:
        return None
    return "s8" if -128 <= disp < 128 else "s32"


def _operands(spec: tuple, values: list[int]) -> list[Any]:
    """PeachPy operand objects for a form and its patchable field values."""
    px, operand, regs, rip = _pp()
    vals = iter(values)
    ops: list[Any] = []
    for s in spec:
        kind = s[0]
        if kind == "r":
            ops.append(regs[s[1]])
        elif kind == "m":
            _, base, index, size, dcls = s
            disp = next(vals) if dcls else 0
            if base == RIP:
                expr = rip + disp
            elif index != NO_INDEX:
                expr = regs[base] + regs[index] * 8 + disp
            else:
                expr = regs[base] + disp
            ops.append(getattr(px, _SIZE[size])[expr])
        elif kind == "rel":
            ops.append(operand.RIPRelativeOffset(next(vals)))
        elif kind == "lit":
            ops.append(s[1])
        else:  # immediate of class s[1]
            ops.append(next(vals))
    return ops


def _representative(spec: tuple) -> tuple:
    """The form with its registers replaced by stand-ins that PeachPy encodes
    the same way (rax/al and cl have special encodings, so they stay)."""
    out = []
    for s in spec:
        if s[0] == "r":
            r = s[1]
            cls, n = r & ~15, r & 15
            special = n == 0 or (cls == GP8 and n == 1)
            out.append(s if special else ("r", cls + 3))
        elif s[0] == "m" and s[1] != RIP:
            out.append(("m", 3, NO_INDEX if s[2] == NO_INDEX else 6, s[3], s[4]))
        else:
            out.append(s)
    return tuple(out)


def _build(mn: str, spec: tuple, values: list[int]) -> bytes:
    """Encode one instruction with PeachPy's encoder.

    Constructing a PeachPy instruction object is what costs (15-35 us): its
    list of candidate encodings depends only on the kinds of the operands,
    so it is built once per kind and its encoding functions are then called
    with the real operands, picking the shortest result as
    ``Instruction.encode`` does.
    """
    px = _pp()[0]
    rep = _representative(spec)
    key = (mn, rep)
    encoders = _encoders.get(key)
    if encoders is None:
        ins = getattr(px, mn)(*_operands(rep, values))
        encoders = _encoders[key] = [e for _, e in ins._filter_encodings()]
    # (check_operand would only copy these fresh objects)
    ops = tuple(_operands(spec, values))
    return bytes(min((e(ops) for e in encoders), key=len))


def _template(mn: str, spec: tuple) -> tuple[bytes, tuple]:
    """The cached encoding of a form and where its patchable fields are."""
    classes = []
    for s in spec:
        if s[0] == "m" and s[4]:
            classes.append(s[4])
        elif s[0] == "rel":
            classes.append("rel")
        elif s[0] == "i":
            classes.append(s[1])
    base_vals = [_FIELDS[c][2] for c in classes]
    base = _build(mn, spec, base_vals)
    fields = []
    for j, c in enumerate(classes):
        width, fmt, _, b = _FIELDS[c]
        vals = list(base_vals)
        vals[j] = b
        other = _build(mn, spec, vals)
        diff = [k for k in range(len(base)) if base[k] != other[k]]
        if len(other) != len(base) or not diff or diff[-1] - diff[0] >= width:
            raise AssertionError(f"cannot locate field {c} in {mn} {spec}")
        pos = diff[0]
        if pos + width > len(base):
            pos = len(base) - width
        fields.append((pos, fmt))
    return base, tuple(fields)


class Asm:
    """Emits instructions into a bytearray; labels, fix-ups, constant pool."""

    def __init__(self) -> None:
        self.code = bytearray()
        self.labels: list[int] = []
        self.fixups: list[tuple[int, int, int]] = []  # (field pos, instr end, label)
        self.consts: dict[int, int] = {}  # float bits -> label

    # -- labels -------------------------------------------------------------

    def new_label(self) -> int:
        self.labels.append(-1)
        return len(self.labels) - 1

    def bind(self, label: int) -> None:
        self.labels[label] = len(self.code)

    def const_label(self, bits: int) -> int:
        lab = self.consts.get(bits)
        if lab is None:
            lab = self.consts[bits] = self.new_label()
        return lab

    # -- emission -----------------------------------------------------------

    def emit(self, mn: str, spec: tuple, values: tuple = (), label: int = -1) -> None:
        key = (mn, spec)
        t = _templates.get(key)
        if t is None:
            t = _templates[key] = _template(mn, spec)
        code = self.code
        start = len(code)
        raw, fields = t
        code += raw
        for (pos, fmt), v in zip(fields, values):
            struct.pack_into(fmt, code, start + pos, v)
        if label >= 0:  # the last field is a rel32 to a label
            pos = fields[-1][0]
            self.fixups.append((start + pos, len(code), label))

    def r(self, mn: str, *regs: int) -> None:
        """An instruction whose operands are all registers (or none)."""
        key = (mn, regs)
        t = _templates.get(key)
        if t is None:
            t = _templates[key] = _template(mn, tuple(("r", x) for x in regs))
        self.code += t[0]

    def ri(self, mn: str, reg: int, imm: int, cls: str = "") -> None:
        """Register and immediate: s8/s32 by value unless ``cls`` is given."""
        if not cls:
            cls = "s8" if -128 <= imm < 128 else "s32"
        self.emit(mn, (("r", reg), ("i", cls)), (imm,))

    def rri(self, mn: str, r1: int, r2: int, imm: int, cls: str = "") -> None:
        if not cls:
            cls = "s8" if -128 <= imm < 128 else "s32"
        self.emit(mn, (("r", r1), ("r", r2), ("i", cls)), (imm,))

    def rlit(self, mn: str, r1: int, r2: int, lit: int) -> None:
        """Two registers and a fixed immediate (e.g. ROUNDSD's mode)."""
        self.emit(mn, (("r", r1), ("r", r2), ("lit", lit)))

    @staticmethod
    def _mem(base: int, disp: int, size: int, index: int) -> tuple[tuple, tuple]:
        dcls = _disp_class(disp)
        return ("m", base, index, size, dcls), ((disp,) if dcls else ())

    def rm(self, mn: str, reg: int, base: int, disp: int, size: int = 8,
           index: int = NO_INDEX) -> None:
        """reg <- memory operand."""
        m, v = self._mem(base, disp, size, index)
        self.emit(mn, (("r", reg), m), v)

    def mr(self, mn: str, base: int, disp: int, reg: int, size: int = 8,
           index: int = NO_INDEX) -> None:
        """memory <- reg."""
        m, v = self._mem(base, disp, size, index)
        self.emit(mn, (m, ("r", reg)), v)

    def mi(self, mn: str, base: int, disp: int, imm: int, size: int = 8, cls: str = "") -> None:
        if not cls:
            cls = "s8" if -128 <= imm < 128 else "s32"
        m, v = self._mem(base, disp, size, NO_INDEX)
        self.emit(mn, (m, ("i", cls)), v + (imm,))

    def m(self, mn: str, base: int, disp: int, size: int = 8) -> None:
        m, v = self._mem(base, disp, size, NO_INDEX)
        self.emit(mn, (m,), v)

    def mov_imm(self, reg: int, value: int) -> None:
        """Load a 64-bit constant into a general-purpose register."""
        if value == 0:
            self.r("XOR", reg + GP32, reg + GP32)
        elif 0 < value < (1 << 32):
            self.emit("MOV", (("r", reg + GP32), ("i", "u32")), (value,))
        elif -(1 << 31) <= value < 0:
            self.emit("MOV", (("r", reg), ("i", "s32")), (value,))
        else:
            self.emit("MOV", (("r", reg), ("i", "i64")), (value,))

    def rip_load(self, mn: str, reg: int, label: int, size: int = 8) -> None:
        """reg <- [rip + label] (constant pool)."""
        self.emit(mn, (("r", reg), ("m", RIP, NO_INDEX, size, "s32")), (0x11223344,), label)

    def jcc(self, mn: str, label: int) -> None:
        """Conditional or unconditional (``JMP``) branch to a label, rel32."""
        self.emit(mn, (("rel",),), (0x11223344,), label)

    def align(self, n: int) -> None:
        self.code += b"\x90" * (-len(self.code) % n)

    # -- finishing ----------------------------------------------------------

    def finish(self) -> bytearray:
        """Append the constant pool and resolve every label reference."""
        if self.consts:
            self.align(8)
            for bits, lab in self.consts.items():
                self.bind(lab)
                self.code += struct.pack("<q", bits)
        code = self.code
        labels = self.labels
        for pos, end, lab in self.fixups:
            struct.pack_into("<i", code, pos, labels[lab] - end)
        return code
