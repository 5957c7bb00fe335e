"""Hot-loop detection with ``sys.monitoring`` backward-jump events.

Each backward jump calls :func:`_on_jump`.  Jumps that will never matter
(forward jumps, code not selected by :func:`tracejit.jit`, blacklisted loops)
return ``DISABLE`` so CPython stops reporting them; a loop with compiled code
keeps its event and is entered from here.

While a debugger, profiler or coverage tool is active (:mod:`tracejit.tools`)
the slow path neither enters compiled code nor traces: CPython runs the loop
and the tool sees every event.  Such loops are only counted again, never
disabled, so the JIT takes them up again within ``threshold`` back-jumps of
the tool going away.  ``DISABLE`` is per tool: the locations tracejit
silences still report to every other tool.
"""

from __future__ import annotations

import os
import sys
import time
import types
from typing import Any

from tracejit import cpython as cp
from tracejit import lifetime, meta, reentry, tiers
from tracejit.codemap import CodeMap
from tracejit.loopkey import LoopKey
from tracejit.params import log, log_enabled, params
from tracejit.runtime import runtime
from tracejit.tools import describe, watched

_mon = sys.monitoring
_JIT_CODE = (os.path.dirname(__file__) + os.sep, os.path.dirname(os.__file__) + os.sep,
             "<frozen ")
TOOL = _mon.OPTIMIZER_ID
DISABLE = _mon.DISABLE

_state: dict[str, Any] = {"active": False, "everything": False}
_selected = CodeMap()  # the code objects jit(f) chose (weakly)
# Back-jump counts per loop location, keyed by id(code) + (header << 48): the
# fast path below is all that cold code ever pays.  A location whose count is
# at or above the threshold takes the slow path (trace it, or enter its code).
_counts: dict[int, int] = {}
_threshold = [params["threshold"]]
_stepped_aside = [False]  # the last slow path found a tool active
_QUIET = (meta.SILENT + meta.DISARMED) // 2
# a dispatch loop armed again within this many seconds of the last time its
# back-jumps were made to report again keeps reporting (restarting events
# costs more than the events when it happens this often)
RESTART_GAP = 0.01


def _on_jump(code: types.CodeType, src: int, dst: int, _get: Any = _counts.get,
             _limit: list[int] = _threshold) -> Any:
    if dst > src:
        return DISABLE
    key = id(code) + (dst << 48)  # LoopKey.counter_id(code, dst), inlined
    n = _get(key, 0) + 1
    if n < _limit[0]:
        if n < _QUIET:  # a dispatch loop's back-jump while nothing is asked of it
            return DISABLE
        _counts[key] = n
        return None
    hold = None
    try:
        hold = _hold_tuples()
        return _slow_path(code, dst, key)
    except RecursionError as e:
        # the JIT's own frames went past the limit of a program running near
        # it before they did anything (once entering or tracing, they have
        # room above the limit: see Runtime.enter), so CPython runs on
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None and tb.tb_frame.f_code.co_filename.startswith(_JIT_CODE):
            return None  # raised in the JIT's code or the library code it called
        raise
    finally:
        del hold  # last: the program's next small tuples reuse memory as before


_NONES = [None] * 4


def _hold_tuples() -> list[tuple]:
    """One fresh tuple of each small size.  CPython reuses the memory of the
    tuple freed last (per size), and programs can see it (``id()`` of
    consumed generator items, test_genexps): made first and freed last, these
    keep what the JIT allocates meanwhile (caches, traces) from taking the
    memory the program's next tuple would get."""
    return [tuple(_NONES[:n]) for n in (1, 2, 3, 4)]


def _slow_path(code: types.CodeType, dst: int, key: int) -> Any:
    if not _state["everything"] and code not in _selected and meta.site_at(key) is None:
        return DISABLE
    ts = runtime.threads
    if ts.busy or lifetime.sweeping():
        # inside tracing or an exit, or a full collection: CPython runs
        if ts.compiler:
            _counts[key] = 0  # the compiler thread's own loops: back to the fast path
        return None
    if runtime.pending_limit:  # the program's recursion limit, back at last
        runtime.restore_limit()
    if watched():
        # another tool wants this loop's events: CPython runs it; look again
        # after `threshold` back-jumps counted on the fast path
        _counts[key] = 0
        if not _stepped_aside[0]:
            _stepped_aside[0] = True
            _log_tools()
        return None
    if _stepped_aside[0]:
        _stepped_aside[0] = False
        _log_tools()
    frame = sys._getframe(2)
    site = meta.site_at(key)
    if site is None:
        info = runtime.loop_at(code, dst, key)
    else:  # an interpreter's dispatch loop: the loop of its greens (tracejit.meta)
        disarm(site)
        values = site.greens_of(frame)
        greens = meta.green_key(values)
        info = runtime.loop_info(LoopKey(code, site.header, greens))
        if not info.guest:
            info.guest = site.driver.printable_location(values)
    reentry.drop_stale()
    ts.busy = True
    try:
        if info.versions and runtime.enter(info, frame):
            if site is not None:
                _chain(site, frame)
            return None
        if site is not None:
            _driver_loop(site, greens, info, frame)
            return None
        if info.blacklisted:
            return None if info.versions else DISABLE
        if not info.versions and is_own_code(code):
            # the JIT's own loops (the reference backend's interpreter, say)
            # run while compiled code calls out: never traced
            info.blacklisted = True
            return DISABLE
        if info.pending:  # being compiled in the background: look again soon
            _counts[key] = _threshold[0] - 32
            return None
        if not info.versions and not info.interp_time:
            wait = tiers.sample_interpreter(info, frame, _threshold[0])
            if wait:  # CPython runs `wait` more iterations, timed (see tiers)
                _counts[key] = _threshold[0] - wait
                return None
        if not info.versions or info.entry_misses >= _threshold[0]:
            info.entry_misses = 0
            if len(info.versions) < params["max_versions"] and \
                    runtime.trace_lock.acquire(blocking=False):
                try:
                    runtime.trace_loop(info, frame)
                finally:
                    runtime.trace_lock.release()
        if info.retry_soon:
            info.retry_soon = False
            _counts[key] = _threshold[0] - 1
        elif not info.versions:
            # not compiled (aborted): count again from a lower start (back-off)
            _counts[key] = _threshold[0] - info.threshold
    except BaseException as e:  # never let a JIT bug escape into the program
        from tracejit.runtime import is_user_exception

        if is_user_exception(e):
            raise  # e.g. KeyboardInterrupt from a signal handler: the program's own
        log(f"internal error in the JIT hook: {e!r}; loop {info.name} blacklisted")
        info.blacklisted = True
        info.versions.clear()
        return DISABLE
    finally:
        ts.busy = False
        if lifetime.wanted():
            lifetime.collect_if_wanted()
    return None


def _driver_loop(site: meta.DriverSite, greens: tuple, info: Any, frame: Any) -> None:
    """A dispatch loop's merge point whose interpreted loop has no code that
    fits: trace it if it is hot (counted by ``can_enter_jit``)."""
    if info.pending or len(info.versions) >= params["max_versions"]:
        return
    if info.versions and info.entry_misses < _threshold[0]:
        return
    hot = meta.take_armed(site)
    if hot is None:
        return
    if info.blacklisted:
        meta.never(site, hot)
        return
    info.entry_misses = 0
    if not runtime.trace_lock.acquire(blocking=False):
        return
    try:
        runtime.trace_loop(info, frame)
    finally:
        runtime.trace_lock.release()
    if info.blacklisted:
        meta.never(site, hot)
    elif not info.versions and not info.pending and not info.retry_soon:
        meta.cool(site, hot)
    info.retry_soon = False


# compiled loops of one dispatch loop entered one after the other, from one
# back-jump, before CPython runs again
CHAIN_LIMIT = 64


def _chain(site: meta.DriverSite, frame: Any) -> None:
    """Compiled code of an interpreted loop left at the merge point (a bridge
    that ended there): enter the compiled loop of the greens it holds now,
    if there is one, as the next back-jump would."""
    for _ in range(CHAIN_LIMIT):
        if cp.resume_offset(frame) != site.header:
            return
        values = site.greens_of(frame)
        greens = meta.green_key(values)
        key = LoopKey(site.code, site.header, greens)
        info = runtime.loops.get(key)
        if info is not None and info.versions and runtime.enter(info, frame):
            continue
        if site.armed is not None:  # (a bridge asked for this loop to be traced)
            info = runtime.loop_info(key)
            if not info.guest:
                info.guest = site.driver.printable_location(values)
            _driver_loop(site, greens, info, frame)
        return


def arm(site: meta.DriverSite) -> None:
    """The next back-jump of this dispatch loop takes the slow path."""
    for header in site.headers:
        _counts[LoopKey.counter_id(site.code, header)] = _threshold[0]
    if site.silenced and not watched():  # (another tool's silenced events stay so)
        site.silenced = False
        site.last_restart = time.perf_counter()
        _mon.restart_events()


def disarm(site: meta.DriverSite) -> None:
    """Nothing is asked of the dispatch loop's back-jumps now: unless it was
    armed very recently, they stop reporting events (a Python call each)."""
    quiet = time.perf_counter() - site.last_restart > RESTART_GAP
    value = meta.SILENT if quiet else meta.DISARMED
    for header in site.headers:
        _counts[LoopKey.counter_id(site.code, header)] = value
    site.silenced = quiet


def adopt_driver_loop(site: meta.DriverSite) -> None:
    """A dispatch loop leaves the ordinary loops: what the hooks knew of it
    as one is dropped, and its back-jumps report again if they were silenced."""
    disarm(site)
    for header in site.headers:
        info = runtime.loop_info(LoopKey(site.code, header))
        info.versions.clear()
        if info.blacklisted:
            _mon.restart_events()
        info.blacklisted = True  # never an ordinary loop again


_OWN_DIR = os.path.dirname(__file__) + os.sep


def is_own_code(code: types.CodeType) -> bool:
    """Code of tracejit or of one of its loaded backend packages (asked once
    per loop, before its first trace)."""
    filename = code.co_filename
    if filename.startswith(_OWN_DIR):
        return True
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.startswith("tracejit_") and "." not in name and path and \
                filename.startswith(os.path.dirname(path) + os.sep):
            return True
    return False


def _log_tools() -> None:
    if not log_enabled():
        return
    active = describe()
    log(f"compiled code stays unused while these tools are active: {active}" if active
        else "no other tool active any more: compiled code is used again")


def _on_return(code: types.CodeType, offset: int, value: Any) -> Any:
    """One-shot: the frame that could not give the program its recursion
    limit back returns (see Runtime.defer_limit)."""
    if runtime.pending_limit and not runtime.restore_limit():
        return None  # still too deep: at the next return
    _mon.set_local_events(TOOL, code, _mon.get_local_events(TOOL, code) & ~_mon.events.PY_RETURN)
    return None


def install(everything: bool) -> None:
    _threshold[0] = params["threshold"]
    _counts.clear()
    if everything:
        _state["everything"] = True
    if _state["active"]:
        return
    current = _mon.get_tool(TOOL)
    if current is not None and current != "tracejit":
        raise RuntimeError(f"sys.monitoring tool id {TOOL} is already used by {current!r}")
    if current is None:
        _mon.use_tool_id(TOOL, "tracejit")
    _warm_up_tracing()
    reentry.install(TOOL)
    _mon.register_callback(TOOL, _mon.events.JUMP, _on_jump)
    _mon.register_callback(TOOL, _mon.events.PY_RETURN, _on_return)
    _mon.set_events(TOOL, _mon.events.JUMP)
    _mon.restart_events()
    _state["active"] = True
    meta.switch(True)


def _warm_up_tracing() -> None:
    """Make now what the first trace would make lazily (modules, helper
    descriptions): objects a program can count (``gc.get_objects()``) or
    whose memory it sees reused (``id()`` of freed tuples) must not appear
    in the middle of the program because a loop got hot."""
    import inspect

    from tracejit import cpython as cp
    from tracejit import helpers, log  # noqa: F401
    from tracejit.tracer import closing  # noqa: F401

    # (functools.cache wrappers are not functions to inspect.isfunction)
    for fn in list(vars(helpers).values()):
        if hasattr(fn, "cache_info") and not inspect.signature(fn).parameters:
            fn()
    cp.long_layout()
    lifetime.install()
    runtime.buffer()  # this thread's exit buffer and JIT state


def uninstall() -> None:
    if not _state["active"]:
        return
    _mon.set_events(TOOL, 0)
    meta.switch(False)
    reentry.uninstall()
    _mon.register_callback(TOOL, _mon.events.JUMP, None)
    _mon.register_callback(TOOL, _mon.events.PY_START, None)
    _mon.register_callback(TOOL, _mon.events.PY_RETURN, None)
    _mon.free_tool_id(TOOL)
    _state["active"] = False
    _state["everything"] = False
    _selected.clear()


def select(code: types.CodeType) -> None:
    _selected[code] = True
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            select(const)
