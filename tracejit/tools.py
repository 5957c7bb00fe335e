"""Other tools watching the program: debuggers, profilers, coverage.

Compiled code produces none of the events CPython would report for the
bytecode it replaces: no ``sys.settrace`` line or call events (pdb, settrace
based coverage), no ``sys.setprofile`` calls, and no ``sys.monitoring`` events
(LINE, BRANCH, JUMP, CALL, PY_START of inlined calls...) for any tool, cProfile
included (on 3.12 and 3.13 it is a ``sys.monitoring`` tool, invisible to
``sys.getprofile()``).  So while any such tool is active, :mod:`tracejit.hooks`
neither enters compiled code nor starts tracing, and CPython runs everything;
once the tools are gone, the JIT carries on with what it had compiled.

:func:`watched` is asked before every entry into compiled code, so it has to
be cheap: seven C calls and no allocation (~0.25 us of an entry's ~3 us, see
docs/usage.md).  Nothing cheaper is exact: ``sys.monitoring`` reports no
change of another tool's state; an audit hook for
``sys.monitoring.register_callback`` would put a Python call on every
``id()`` in the process (``builtins.id`` is an audit event); wrapping the
``sys.monitoring`` functions misses a tool that kept a reference to one; and
a cached answer lets compiled code skip the events of a tool switched on
since.  The rules, all conservative:

* ``sys.gettrace()`` or ``sys.getprofile()`` set in the current thread (both
  are per thread; ``threading.settrace``/``setprofile`` install them in each
  new thread, so they show up there);
* any ``sys.monitoring`` tool id other than tracejit's claimed
  (``get_tool(id) is not None``), whatever events it has asked for, globally
  or on single code objects.  A tool that frees its id without clearing its
  events (3.12 and 3.13.0 keep them) counts as gone; its callbacks typically
  do nothing any more (coverage.py's return ``DISABLE``).
"""

from __future__ import annotations

import sys
from typing import Any

_mon = sys.monitoring
OWN_TOOL = _mon.OPTIMIZER_ID  # 5 (PEP 669): the other ids are 0..4, unrolled below
OTHER_TOOLS = (0, 1, 2, 3, 4)
assert OWN_TOOL not in OTHER_TOOLS


def watched(_gettrace: Any = sys.gettrace, _getprofile: Any = sys.getprofile,
            _get_tool: Any = _mon.get_tool) -> bool:
    """True while a debugger, profiler, coverage or other tool may want events
    that compiled code would not produce."""
    return not (_gettrace() is None and _getprofile() is None
                and _get_tool(0) is None and _get_tool(1) is None
                and _get_tool(2) is None and _get_tool(3) is None
                and _get_tool(4) is None)


def describe() -> str:
    """The active tools, for the log, e.g. ``sys.monitoring tool 2
    ('cProfile')``; empty when there is none."""
    found = []
    if sys.gettrace() is not None:
        found.append(f"sys.settrace ({sys.gettrace()!r})")
    if sys.getprofile() is not None:
        found.append(f"sys.setprofile ({sys.getprofile()!r})")
    for tool in OTHER_TOOLS:
        name = _mon.get_tool(tool)
        if name is not None:
            found.append(f"sys.monitoring tool {tool} ({name!r})")
    return ", ".join(found)
