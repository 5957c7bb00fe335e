"""The JIT's event log: JSON lines (the stable format tools read) or plain text.

Switched on by ``TRACEJIT_LOG=path`` (read at every event, so a program or a
test may set it late) or by :func:`configure`; ``TRACEJIT_LOG_FORMAT=text``
(or ``configure(path, "text")``) writes the human-readable form instead of
JSON.  Besides the file, in-process *listeners* (the report collector of
:mod:`tracejit.report`) can subscribe to events.

Cost when off: events are only ever emitted where the JIT traces, compiles
or gives up (never per loop iteration); with no file and no listener
:func:`event` is an environment lookup and a return, and callers that would
have to build an expensive field (a trace dump) ask :func:`enabled` first.

The JSON-lines format (``FORMAT_VERSION`` 1) is documented in
docs/log-format.md: one JSON object per line with at least ``"v"`` (format
version), ``"t"`` (seconds since the log started) and ``"kind"``.  New kinds
and new fields may be added; existing fields keep their meaning.
"""

from __future__ import annotations

import json
import os
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from tracejit.untracked import untrack

FORMAT_VERSION = 1

_T0 = time.perf_counter()
Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []
# Aborts and give-ups are remembered whether or not a log is on (they are
# rare), so that tracejit.print_stats() can say where they happened.
ABORT_KINDS = ("abort", "bridge_abort", "give_up", "give_back", "blacklist")
recent_aborts: deque[dict[str, Any]] = deque(maxlen=500)


class _Sink:
    """The open log file (reopened when ``TRACEJIT_LOG`` names another one)."""

    path: str | None = None
    fmt: str = "json"
    file: TextIO | None = None
    configured: str | None = None  # path given to configure(), beats the env
    configured_fmt: str | None = None


_sink = _Sink()


def configure(path: str | None, fmt: str | None = None) -> None:
    """Log to ``path`` (``None``: back to ``TRACEJIT_LOG``), as ``"json"`` or ``"text"``."""
    if fmt not in (None, "json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    _close()
    _sink.configured = path
    _sink.configured_fmt = fmt


def _target() -> tuple[str | None, str]:
    path = _sink.configured or os.environ.get("TRACEJIT_LOG") or None
    fmt = _sink.configured_fmt or os.environ.get("TRACEJIT_LOG_FORMAT") or "json"
    return path, ("text" if fmt == "text" else "json")


def enabled() -> bool:
    """True when some event would be written or heard."""
    return bool(_listeners) or bool(_sink.configured or os.environ.get("TRACEJIT_LOG"))


def add_listener(fn: Listener) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Listener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def event(kind: str, **fields: Any) -> None:
    """Record one event.  Field values are made JSON-ready by :func:`jsonable`
    (code objects become ``{"file", "name", "line"}``, other objects their repr)."""
    if kind in ABORT_KINDS:
        _remember(kind, fields)
    path = _sink.configured or os.environ.get("TRACEJIT_LOG")
    if not path and not _listeners:
        return
    code = fields.get("code")
    if hasattr(code, "co_lines") and isinstance(fields.get("offset"), int) \
            and "line" not in fields:
        fields["line"] = line_at(code, fields["offset"])
    record: dict[str, Any] = {"v": FORMAT_VERSION, "t": round(time.perf_counter() - _T0, 6),
                              "kind": kind}
    for k, v in fields.items():
        record[k] = jsonable(v)
    for fn in list(_listeners):
        try:
            fn(record)
        except Exception as e:  # a listener bug must not reach the program
            print(f"tracejit: log listener failed: {e!r}", file=sys.stderr)
    if path:
        _write(record)


def _remember(kind: str, fields: dict[str, Any]) -> None:
    rec: dict[str, Any] = {"kind": kind, "t": round(time.perf_counter() - _T0, 6)}
    for k, v in fields.items():
        if k == "code" and hasattr(v, "co_lines"):
            rec["code_object"] = weakref.ref(v)  # a log never keeps code alive
            rec["file"] = v.co_filename
            if isinstance(fields.get("offset"), int):
                rec["line"] = line_at(v, fields["offset"])
        elif k != "text":
            rec[k] = jsonable(v)
    untrack(rec, rec.get("code_object"))  # acyclic: not in a count a program makes
    recent_aborts.append(rec)


def line_at(code: Any, offset: int) -> int | None:
    """The source line of the instruction at ``offset`` of ``code``."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def _open() -> TextIO | None:
    path, fmt = _target()
    if path is None:
        return None
    if _sink.file is None or path != _sink.path or fmt != _sink.fmt:
        _close()
        _sink.file = open(path, "a", encoding="utf-8")  # noqa: SIM115
        _sink.path = path
        _sink.fmt = fmt
        start = _start_record()
        if fmt == "json":
            _sink.file.write(json.dumps(start) + "\n")
        else:
            _sink.file.write(f"[{time.strftime('%H:%M:%S')}] {as_text(start)}\n")
    return _sink.file


def _write(record: dict[str, Any]) -> None:
    f = _open()
    if f is None:
        return
    if _sink.fmt == "json":
        f.write(json.dumps(record) + "\n")
    else:
        f.write(f"[{time.strftime('%H:%M:%S')}] {as_text(record)}\n")
    f.flush()


def _close() -> None:
    if _sink.file is not None:
        try:
            _sink.file.close()
        except OSError:
            pass
    _sink.file = None
    _sink.path = None


def _start_record() -> dict[str, Any]:
    from tracejit.params import params

    return {"v": FORMAT_VERSION, "t": round(time.perf_counter() - _T0, 6), "kind": "start",
            "pid": os.getpid(), "argv": list(sys.argv), "python": sys.version.split()[0],
            "backend": params["backend"], "params": jsonable(dict(params))}


def as_text(record: dict[str, Any]) -> str:
    """The human-readable line (or lines) for one event."""
    if "text" in record:
        return str(record["text"])
    kind = record.get("kind", "?")
    if kind == "trace" and isinstance(record.get("trace"), dict):
        t = record["trace"]
        lines = [t.get("inputs", "[]")] + [o["text"] for o in t.get("ops", [])]
        return (f"trace {record.get('name')} ({record.get('loop')}) {record.get('stage')}:\n"
                + "\n".join(lines))
    rest = " ".join(f"{k}={v}" for k, v in record.items() if k not in ("v", "t", "kind"))
    return f"{kind} {rest}".rstrip()


def jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    co_name = getattr(v, "co_name", None)
    if co_name is not None and hasattr(v, "co_filename"):
        return {"file": v.co_filename, "name": co_name, "line": v.co_firstlineno}
    return repr(v)


def read(path: str) -> list[dict[str, Any]]:
    """The events of a JSON-lines log; lines that are not JSON objects (a text
    log, a torn last line) are skipped."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "kind" in rec:
                out.append(rec)
    return out
