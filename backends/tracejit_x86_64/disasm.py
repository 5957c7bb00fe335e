"""``TRACEJIT_X86_DUMP=1``: print generated code to stderr, disassembled with
capstone when it is importable (hex bytes otherwise)."""

from __future__ import annotations

import sys
from typing import Any


def dump(traces: list[Any], code: bytes | bytearray, address: int, starts: list[int]) -> None:
    out = sys.stderr
    names = {s: t.name for s, t in zip(starts, traces)}
    try:
        import capstone
    except ImportError:
        capstone = None
    if capstone is None:
        for k, s in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(code)
            out.write(f"== {names[s]} at {address + s:#x} ({end - s} bytes)\n")
            chunk = bytes(code[s:end])
            for j in range(0, len(chunk), 32):
                out.write(f"  {address + s + j:#x}: {chunk[j:j + 32].hex(' ')}\n")
        return
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    for k, s in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(code)
        out.write(f"== {names[s]} at {address + s:#x} ({end - s} bytes)\n")
        for ins in md.disasm(bytes(code[s:end]), address + s):
            out.write(f"  {ins.address:#x}: {ins.mnemonic} {ins.op_str}\n")
    out.flush()
