"""The pause counter: the int64 cell every compiled loop counts down.

Compiled loops return to CPython at their header every ``PAUSE_EVERY``
iterations (counted across all loops), so that signal handlers, thread
switches and other pending work run as they would in the interpreter.  The
runtime also reads the cell to count iterations run in machine code.
"""

from __future__ import annotations

import ctypes

PAUSE_EVERY = 1 << 20


class PauseCounter:
    def __init__(self) -> None:
        self.cell = ctypes.c_int64(PAUSE_EVERY)
        self.address = ctypes.addressof(self.cell)

    def reset(self) -> None:
        self.cell.value = PAUSE_EVERY


PAUSE_COUNTER = PauseCounter()
