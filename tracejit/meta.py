"""Meta-tracing: the JIT side of :class:`tracejit.hints.JitDriver`.

The first ``jit_merge_point`` with the JIT on registers the interpreter's
dispatch loop (a :class:`DriverSite`: its code, the header of the loop around
the merge point, the frame slots of the greens).  From then on that loop is
no longer an ordinary loop of the hooks: its back-jumps cost the fast path's
one dict increment, from a count that never gets hot by itself.
``can_enter_jit`` counts the interpreted program's loops by their greens;
when one is hot (or has compiled code) it *arms* the site, so that the next
back-jump takes the slow path, which reads the greens from the frame and
enters or traces the loop ``LoopKey(code, header, greens)``
(:func:`tracejit.hooks.driver_path`).  A driver that never calls
``can_enter_jit`` is counted at its merge point instead.

The key's greens are the green values themselves for ints, and the identity
of any other object (the trace keeps those alive, so an identity is not
reused while code for it exists).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any

from tracejit import cpython as cp
from tracejit.hints import JitDriver, JitHintError, _jit_on
from tracejit.loopkey import LoopKey
from tracejit.params import log, params

# counts the hooks' fast path never brings to the threshold: SILENT ones make
# the JUMP event of the location go quiet (DISABLE) until the site is armed
# again (sys.monitoring.restart_events: see hooks.arm); DISARMED ones keep it
DISARMED = -(1 << 60)
SILENT = -(1 << 62)


@dataclass(eq=False)
class DriverSite:
    """Where one driver's dispatch loop is."""

    driver: JitDriver
    code: types.CodeType
    header: int  # the loop header around the merge point
    merge_offset: int  # the CALL of jit_merge_point
    green_slots: list[int]  # frame slots of the greens, in the driver's order
    counter_id: int
    where: str  # file:line of the merge point
    armed: tuple | None = None  # a hot count's key: the next merge point traces
    requested: set = field(default_factory=set)  # keys bridges asked to be traced
    silenced: bool = False  # its back-jumps report no event (see hooks.disarm)
    last_restart: float = 0.0  # when arming last made them report again
    headers: list = field(default_factory=list)  # back-jump targets of the dispatch loop

    def greens_of(self, frame: types.FrameType) -> tuple[Any, ...]:
        """The green values the frame holds now."""
        return tuple(cp.read_local(frame, i) for i in self.green_slots)


_sites: dict[int, DriverSite] = {}  # by the hooks' counter id
_by_code: dict[types.CodeType, DriverSite] = {}


def green_key(values: tuple[Any, ...] | list[Any]) -> tuple:
    """The key part of green values: ints by value, other objects by identity."""
    return tuple(v if type(v) is int else id(v) for v in values)


def site_at(counter_id: int) -> DriverSite | None:
    return _sites.get(counter_id)


def site_of(code: types.CodeType) -> DriverSite | None:
    return _by_code.get(code)


def key_of(site: DriverSite, greens: tuple[Any, ...]) -> LoopKey:
    return LoopKey(site.code, site.header, green_key(greens))


def merge_point(driver: JitDriver, variables: dict[str, Any], frame: types.FrameType) -> None:
    """``driver.jit_merge_point(**variables)`` called from ``frame`` with the JIT on."""
    site = driver.site
    if site is None or site.code is not frame.f_code:
        site = _register(driver, variables, frame)
    elif frame.f_lasti != site.merge_offset:
        raise JitHintError(f"{driver.name}.jit_merge_point() at {_where(frame)}: a second "
                           f"merge point of the driver (the first is at {site.where}); a "
                           f"driver has one merge point")
    if not driver.entered:
        _count(site, green_key([variables[n] for n in driver.greens]))


def count(driver: JitDriver, variables: dict[str, Any], frame: types.FrameType) -> None:
    """``driver.can_enter_jit(**variables)`` with the JIT on."""
    site = driver.site
    if site is None:
        return  # no merge point seen yet: nothing to enter
    if frame.f_code is not site.code:
        raise JitHintError(f"{driver.name}.can_enter_jit() at {_where(frame)}: called from "
                           f"another function than its jit_merge_point ({site.where})")
    driver.entered = True
    driver.watching = False  # (a merge point in another function: the tracer says so)
    _count(site, green_key([variables[n] for n in driver.greens]))


def _count(site: DriverSite, key: tuple) -> None:
    counts = site.driver.counts
    n = counts.get(key, 0) + 1
    counts[key] = n
    if n >= params["threshold"]:
        # the next merge point traces or enters the loop of its greens
        site.armed = key
        _hooks().arm(site)


def request_trace(site: DriverSite, key: tuple) -> bool:
    """A bridge reached the loop ``key`` of the interpreted program, which
    has no code: the next back-jump of the dispatch loop traces the loop it
    is in.  False if that was asked for before."""
    if key in site.requested:
        return False
    if len(site.requested) > 1000:
        site.requested.clear()
    site.requested.add(key)
    site.armed = key
    _hooks().arm(site)
    return True


def take_armed(site: DriverSite) -> tuple | None:
    """The hot green key that armed the site since the last slow path."""
    armed, site.armed = site.armed, None
    return armed


def cool(site: DriverSite, key: tuple) -> None:
    """Count the key from a lower start again (its trace aborted: back-off)."""
    counts = site.driver.counts
    counts[key] = min(counts.get(key, 0), 0) - params["threshold"]


def never(site: DriverSite, key: tuple) -> None:
    """The key is never traced again (blacklisted)."""
    site.driver.counts[key] = DISARMED


def _hooks() -> Any:
    return sys.modules["tracejit.hooks"]


def _where(frame: types.FrameType) -> str:
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _register(driver: JitDriver, variables: dict[str, Any], frame: types.FrameType
              ) -> DriverSite:
    code = frame.f_code
    where = _where(frame)
    if driver.site is not None:
        raise JitHintError(f"{driver.name}.jit_merge_point() at {where} in {code.co_name}(): "
                           f"the driver is already used by {driver.site.code.co_name}() at "
                           f"{driver.site.where}; each function needs its own JitDriver")
    if code in _by_code:
        raise JitHintError(f"{driver.name}.jit_merge_point() at {where}: {code.co_name}() "
                           f"already holds the merge point of {_by_code[code].driver.name}")
    offset = frame.f_lasti
    ts = sys.modules["tracejit.runtime"].runtime.threads
    busy, ts.busy = ts.busy, True  # (the loops of dis below are the JIT's work, never traced)
    try:
        header = _enclosing_loop(code, offset)
        headers = _dispatch_headers(code, header) if header is not None else []
    finally:
        ts.busy = busy
    if header is None:
        raise JitHintError(f"{driver.name}.jit_merge_point() at {where} is not inside a "
                           f"loop: it belongs at the top of the interpreter's dispatch loop")
    slots = []
    names = cp.local_names(code)
    for name in driver.greens:
        idx = names.get(name)
        if idx is None or cp.read_local(frame, idx) is not variables[name]:
            raise JitHintError(f"{driver.name}.jit_merge_point() at {where}: green {name!r} "
                               f"must be passed as {name}={name}, a local variable of "
                               f"{code.co_name}()")
        slots.append(idx)
    site = DriverSite(driver, code, header, offset, slots,
                      LoopKey.counter_id(code, header), where)
    driver.site = site
    site.headers = headers
    for h in site.headers:
        _sites[LoopKey.counter_id(code, h)] = site
    _by_code[code] = site
    _hooks().adopt_driver_loop(site)
    log(f"jit driver {driver.name}: dispatch loop {code.co_name}@{code.co_firstlineno}:"
        f"{header} (merge point {where}, greens {list(driver.greens)})", kind="driver",
        driver=driver.name, code=code, offset=header)
    return site


def _dispatch_headers(code: types.CodeType, header: int) -> list[int]:
    """``header`` and the other back-jump targets that lead straight to it
    (``while True:`` jumps to its NOP from a ``continue``, and to the loop
    body from its end)."""
    targets = {i.argval for i in cp.instructions(code) if i.opname.startswith("JUMP_BACKWARD")}
    out = [header]
    for h in sorted(targets):
        if h < header and all(i.opname == "NOP" for i in cp.instructions(code)
                              if h <= i.offset < header):
            out.append(h)
    return out


def _enclosing_loop(code: types.CodeType, offset: int) -> int | None:
    """The header of the innermost loop whose body holds ``offset``."""
    best = None
    for ins in cp.instructions(code):
        if ins.opname.startswith("JUMP_BACKWARD") and ins.argval <= offset <= ins.offset:
            if best is None or ins.argval > best:
                best = ins.argval
    return best


def forget() -> None:
    """Drop every registration (tracejit.reset, disable)."""
    for site in _sites.values():
        site.driver.site = None
        site.driver.counts.clear()
        site.driver.entered = False
        site.driver.watching = True
    _sites.clear()
    _by_code.clear()


def switch(on: bool) -> None:
    _jit_on[0] = sys.modules[__name__] if on else None
    if not on:
        forget()
