"""Executable memory: code is written into a read-write mapping which is then
made read+execute with ``mprotect``; no page is ever writable and executable
at once, and no page is reopened for writing.  One mapping per compiled batch.

A mapping is unmapped by :meth:`CodeBlock.free` only, which tracejit calls
(through the trace's ``release``) when no thread can run the code (see
``tracejit.lifetime``), never when the Python object is garbage: a trace's
code can still be running below a C helper that calls back into Python, and
bridge slots of other traces of the same code may point into it.
"""

from __future__ import annotations

import ctypes
import mmap

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_long]
_mprotect = _libc.mprotect
_mprotect.restype = ctypes.c_int
_mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_munmap = _libc.munmap
_munmap.restype = ctypes.c_int
_munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

_MAP_FAILED = ctypes.c_void_p(-1).value
PAGE = mmap.PAGESIZE


class CodeBlock:
    """Owns one read+execute mapping holding machine code."""

    __slots__ = ("address", "size")

    def __init__(self, code: bytes | bytearray) -> None:
        size = max(PAGE, (len(code) + PAGE - 1) // PAGE * PAGE)
        addr = _mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if addr is None or addr == _MAP_FAILED:
            raise MemoryError(f"mmap of {size} bytes failed (errno {ctypes.get_errno()})")
        ctypes.memmove(addr, bytes(code), len(code))
        if _mprotect(addr, size, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            _munmap(addr, size)
            raise OSError(ctypes.get_errno(), "mprotect to read+exec failed")
        self.address = addr
        self.size = size

    def free(self) -> None:
        """Unmap the code (again: nothing)."""
        if self.address:
            _munmap(self.address, self.size)
            self.address = 0
