"""Tiered compilation, and handing losing loops back to CPython.

A *tier* is a backend at one optimization level (``"x86_64"``,
``"llvm:O0"``, ``"llvm"``).  ``params["tiers"]`` lists them, fastest to
compile first.  Every trace is compiled by the first tier; a loop whose
compiled code has run for ``tier_up_ms`` (the time ``Runtime.enter``
measures around every entry anyway: no work per iteration) is recompiled by
the next one, together with everything that runs inside it: the loop and
entry trace of each of its versions, the bridges attached to their exits and
the loops they jump to (an inner loop reached from its outer loop's code is
never entered from CPython: its time is the outer loop's), recursively.
That *group* is one batch, so its jumps are direct.  Old code that jumps
into it (and code of loops outside it) keeps working: all backends share one
calling convention (see :mod:`tracejit.backend`), and a jump goes to the
code its target had when the jump was compiled.

Swapping in: a recompiled trace keeps its ``ExitDescr``s, so its guards read
the same bridge slots and the bridges already attached stay attached; the
new entry traces replace the old ones in ``LoopVersion.entry_trace.compiled``
and each recompiled bridge's address is written into its slot.  Old code
stays alive (``Runtime.keepalive``): code of other loops may still jump to
it, or be running it.  The next tier compiles on the compiler thread when
the backend releases the GIL (``tier_async``).

Giving back: before a loop is first traced, the interpreter's time per
iteration is sampled once (the hooks count ``threshold // 4`` more
back-jumps of the same frame and :func:`sample_interpreter` reads the clock
at both ends).  Every 64 entries :func:`slower_compiled` compares it with
the time per iteration in compiled code, entering and leaving included; a
loop that loses is handed back to CPython, in ``stats()["given_back"]`` and
a ``give_back`` log event.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

from tracejit.backend import Backend, BackendUnavailable
from tracejit.params import log, params, stats
from tracejit.registry import backend_names, get_backend

clock = time.perf_counter  # what sample_interpreter reads (tests replace it)
SAMPLE_MIN = 8  # fewer back-jumps than this to sample: no sample (low thresholds)
SAMPLE_TRIES = 3  # samples started that ended in another frame, before giving up
GIVE_BACK = "slower compiled than interpreted"
NEVER = float("inf")


keep_listings = False  # set by tracejit.report: backends keep IR and assembly text


def listings(backend: Backend) -> None:
    if hasattr(backend, "keep_listing"):
        backend.keep_listing = True  # type: ignore[attr-defined]


class Tier:
    """One backend at one level; ``index`` is its place in the chain.  Later
    tiers load their backend only when a loop first needs them (on the
    compiler thread, see :func:`promote`): a program that never keeps a loop
    hot never imports LLVM."""

    def __init__(self, name: str, level: str | None, index: int) -> None:
        self.name = name
        self.level = level
        self.index = index
        self._backend: Backend | None = None
        self.failed = False  # could not be loaded (logged)
        self.loading = False  # being loaded on the compiler thread

    @property
    def label(self) -> str:
        return self.name if self.level is None else f"{self.name}:{self.level}"

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def load(self) -> bool:
        """Load the backend (True) or log why it is unusable here (False)."""
        if self._backend is None and not self.failed:
            backend = _load(self.name, self.level)
            if backend is not None and keep_listings:
                listings(backend)
            self._backend = backend
            self.failed = backend is None
        self.loading = False
        return not self.failed

    @property
    def backend(self) -> Backend:
        if not self.load():
            raise BackendUnavailable(f"tier {self.label} is unavailable")
        assert self._backend is not None
        return self._backend

    def __repr__(self) -> str:
        return f"Tier({self.label!r}, {self.index})"


def parse_tiers(spec: Any) -> list[tuple[str, str | None]]:
    """``"x86_64,llvm:O3"`` -> ``[("x86_64", None), ("llvm", "O3")]``;
    ``"auto"`` -> ``[]``.  Raises ValueError for anything else."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"tiers must be 'auto' or backend names separated by commas, "
                         f"not {spec!r}")
    if spec.strip() == "auto":
        return []
    out: list[tuple[str, str | None]] = []
    for part in spec.split(","):
        name, _, level = part.strip().partition(":")
        if name not in backend_names():
            raise ValueError(f"unknown backend {name!r} in tiers={spec!r}; "
                             f"installed: {backend_names()}")
        out.append((name, level or None))
    return out


_chains: dict[str, list[Tier]] = {}


def chain() -> list[Tier]:
    """The tiers of ``params["tiers"]``; the first is loaded and usable."""
    spec = params["tiers"]
    tiers = _chains.get(spec)
    if tiers is None:
        tiers = _chains[spec] = _resolve(spec)
    return tiers


def _load(name: str, level: str | None) -> Backend | None:
    label = name if level is None else f"{name}:{level}"
    try:
        backend = get_backend(name)
        if level is not None:
            at_level = getattr(backend, "at_level", None)
            if at_level is None:
                raise BackendUnavailable(f"backend {name} has no optimization levels")
            try:
                backend = at_level(level)
            except ValueError as e:
                raise BackendUnavailable(str(e)) from e
    except BackendUnavailable as e:
        log(f"backend {label} unavailable ({e}); using the reference backend",
            kind="backend_unavailable", backend=label, reason=str(e))
        return None
    return backend


def _resolve(spec: str) -> list[Tier]:
    """The chain for ``spec``: its first usable tier loaded, the rest lazy."""
    wanted = parse_tiers(spec)
    if not wanted:  # auto: x86_64 then llvm; llvm:O0 then llvm without PeachPy
        try:
            get_backend("x86_64")
            wanted = [("x86_64", None), ("llvm", None)]
        except BackendUnavailable:
            wanted = [("llvm", "O0"), ("llvm", None)]
    while wanted:
        first = Tier(*wanted[0], 0)
        if first.load():
            return [first] + [Tier(n, lv, k) for k, (n, lv) in enumerate(wanted[1:], 1)]
        wanted = wanted[1:]
    first = Tier("reference", None, 0)
    first.load()
    return [first]


def describe() -> str:
    """The backend(s) in use, for stats(): the pinned backend's name, or the
    chain's tiers once resolved (``"x86_64,llvm"``), else the spec."""
    spec = params["tiers"]
    if spec == params["backend"]:
        return spec
    tiers = _chains.get(spec)
    return ",".join(t.label for t in tiers) if tiers else spec


def reset() -> None:
    """Resolve the chain again at the next compile (after a backend changed)."""
    _chains.clear()


# -- promotion -----------------------------------------------------------------


def first_check(info: Any) -> None:
    """A loop's first version is installed: when to look at promoting it."""
    if len(chain()) > 1 and not chain()[1].failed:
        info.tier_up_at = info.compiled_time + params["tier_up_ms"] / 1000


def group(runtime: Any, info: Any, below: int) -> list[tuple[Any, int]]:
    """The compiled traces running inside ``info`` compiled by a tier before
    ``below``, each with its bridge slot (0: none): its versions' loop and
    entry traces, the bridges on their exits, and the loops they jump to
    (an inner loop reached from an outer loop's trace is never entered from
    CPython, so its time counts as the outer loop's), all recursively.
    Write-back stubs stay as they are: they only leave the loop."""
    seen: set[int] = set()
    out: list[tuple[Any, int]] = []
    owners: dict[int, Any] = {}  # loop trace -> its LoopInfo, built when needed

    def add_loop(loop: Any) -> None:
        for version in loop.versions:
            add(version.trace, 0)
            add(version.entry_trace, 0)

    def add(trace: Any, slot: int) -> None:
        if trace is None or id(trace) in seen or trace.compiled is None:
            return
        seen.add(id(trace))
        if trace.name.startswith("writeback"):
            return
        if trace.tier < below:
            out.append((trace, slot))
        for op in trace.ops:
            if op.exit is not None:
                ex = runtime.exit_info(op.exit)
                if ex is not None:
                    add(ex.bridge, ex.descr.slot_address)
            elif op.name == "jump" and op.descr is not None and id(op.descr) not in seen:
                if not owners:
                    owners.update((id(v.trace), i) for i in list(runtime.loops.values())
                                  for v in i.versions)
                other = owners.get(id(op.descr))
                if other is not None:
                    add_loop(other)
                else:
                    add(op.descr, 0)

    add_loop(info)
    return out


# code replaced by a later tier: other loops' code may still jump to it, or be
# running it, so it lives as long as the process (as machine code does anyway)
_retired: list[Any] = []


def promote(runtime: Any, info: Any) -> None:
    """``info`` stayed hot: recompile its group with the next tier (the last
    tier again for bridges grown since), on the compiler thread if possible."""
    info.tier_up_at = NEVER  # until this promotion is installed
    tiers = chain()
    target = min(info.tier + 1, len(tiers) - 1)
    if target == 0:
        return
    members = group(runtime, info, target)
    if not members:
        info.tier = target
        info.tier_up_at = info.compiled_time + 4 * params["tier_up_ms"] / 1000
        return
    tier = tiers[target]
    if tier.failed:
        return
    if not tier.loaded:
        if not params["tier_async"]:
            if not tier.load():
                return
        else:  # import and set it up off the main thread; look again soon
            if not tier.loading:
                tier.loading = True
                runtime.on_compiler(tier.load)
            info.tier_up_at = info.compiled_time + params["tier_up_ms"] / 4000
            return
    traces = [t for t, _ in members]

    def job() -> None:
        old = [t.compiled for t in traces]
        t0 = time.perf_counter()
        try:
            runtime.backend_compile(traces, tier)
        except Exception as e:  # stays in its tier, never tried again
            for t, compiled in zip(traces, old):
                t.compiled = compiled
            log(f"tier-up of {info.name} to {tier.label} failed: {e!r}", kind="tier_up_failed",
                loop=info.name, tier=tier.label, reason=repr(e))
            return
        _retired.extend(old)
        for t, slot in members:
            if slot:
                ctypes.c_int64.from_address(slot).value = t.compiled.address
        dt = time.perf_counter() - t0
        info.tier = target
        info.tier_up_at = info.compiled_time + params["tier_up_ms"] / 1000
        stats.tier_ups += 1
        log(f"tier-up {info.name}: {len(traces)} traces recompiled by {tier.label} in "
            f"{dt * 1000:.2f} ms after {info.compiled_time * 1000:.1f} ms in compiled code",
            kind="tier_up", loop=info.name, tier=tier.label, traces=len(traces), seconds=dt,
            compiled_time=info.compiled_time)

    if params["tier_async"] and getattr(tier.backend, "releases_gil", False):
        runtime.on_compiler(job)
    else:
        job()


# -- giving back ---------------------------------------------------------------


def sample_interpreter(info: Any, frame: Any, threshold: int) -> int:
    """Before ``info`` is first traced: the back-jumps to let CPython run
    before looking again (a sample of its time per iteration is under way),
    or 0 to trace now."""
    if info.interp_time or not params["give_back"] or info.sample_tries >= SAMPLE_TRIES:
        return 0
    n = threshold // 4
    if n < SAMPLE_MIN:
        return 0
    now = clock()
    started = info.sample
    if started is not None and started[0] == id(frame):
        info.interp_time = max(now - started[1], 1e-12) / started[2]
        info.sample = None
        return 0
    info.sample_tries += 1
    info.sample = (id(frame), now, n)
    return n


def slower_compiled(info: Any) -> bool:
    """True when ``info``'s compiled code, entries and exits included, takes
    longer per iteration than the interpreter's sample did."""
    if not info.interp_time or not params["give_back"]:
        return False
    return per_iteration(info) > info.interp_time


def per_iteration(info: Any) -> float:
    """Seconds per iteration in compiled code, entering and leaving included."""
    return (info.compiled_time + info.exit_time) / max(1, info.iterations + info.entries)


def describe_loss(info: Any) -> str:
    return (f"{per_iteration(info) * 1e9:.0f} ns per iteration compiled, "
            f"{info.interp_time * 1e9:.0f} ns interpreted")
