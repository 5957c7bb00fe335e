"""Finding backends: the entry-point group ``tracejit.backends``."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata
from typing import Any

from tracejit.backend import ENTRY_POINT_GROUP, Backend, BackendUnavailable

# used when the package is run from a source checkout without being installed
_BUILTIN = {
    "llvm": "tracejit_llvm:Backend",
    "reference": "tracejit_reference:Backend",
    "x86_64": "tracejit_x86_64:Backend",
    "c": "tracejit_c:Backend",
}
_instances: dict[str, Backend] = {}


def _entry_points() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.value
    return found


def backend_names() -> list[str]:
    return sorted(_entry_points())


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        import os

        backends_dir = os.path.join(os.path.dirname(os.path.dirname(__file__)), "backends")
        if backends_dir not in sys.path and os.path.isdir(backends_dir):
            sys.path.append(backends_dir)
        mod = importlib.import_module(module)
    return getattr(mod, attr) if attr else mod


def get_backend(name: str) -> Backend:
    """The backend called ``name``, checked to be usable here.

    Raises :class:`BackendUnavailable` with the reason otherwise.
    """
    if name in _instances:
        return _instances[name]
    spec = _entry_points().get(name)
    if spec is None:
        raise BackendUnavailable(
            f"no tracejit backend named {name!r} (installed: {', '.join(backend_names())})")
    try:
        backend = _load(spec)()
        backend.check_available()
    except BackendUnavailable:
        raise
    except Exception as e:  # a broken backend package must not take the program down
        raise BackendUnavailable(f"backend {name!r} failed to load: {e!r}") from e
    _instances[name] = backend
    return backend


def available_backends() -> list[str]:
    out = []
    for name in backend_names():
        try:
            get_backend(name)
        except BackendUnavailable:
            continue
        out.append(name)
    return out


def describe() -> list[tuple[str, bool, str]]:
    """(name, usable, reason) for every installed backend."""
    rows = []
    for name in backend_names():
        try:
            get_backend(name)
            rows.append((name, True, "ok"))
        except BackendUnavailable as e:
            rows.append((name, False, str(e)))
    return rows
