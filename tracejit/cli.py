"""The command line: ``python -m tracejit [options] script.py [args]``.

Runs a program with the JIT on everywhere, the way ``python -m cProfile`` and
``python -m pdb`` do: the program sees the ``sys.argv``, ``sys.path[0]``,
``__main__`` module, ``__name__``, exit status, exceptions and tracebacks it
would see under plain ``python script.py`` / ``python -m module``.  Also:

    python -m tracejit backends        which backends work here, what is missing
    python -m tracejit view LOG.jsonl  the HTML viewer for a JSON-lines log

and :func:`autostart`, which the ``tracejit_autostart.pth`` file installed
with the package calls at interpreter start-up when ``TRACEJIT=1`` is set.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
import types
from typing import Any

USAGE = """\
python -m tracejit [options] script.py [args ...]
       python -m tracejit [options] -m module [args ...]
       python -m tracejit backends
       python -m tracejit view LOGFILE [-o REPORT.html]"""

DESCRIPTION = """\
Run a Python program with tracejit compiling its hot loops to machine code.
The program sees the same sys.argv, __main__, exit status and exceptions as
under plain python.  Without editing a program, TRACEJIT=1 in the environment
switches the JIT on for any python process of this installation (with
TRACEJIT_STATS=1 and TRACEJIT_REPORT=FILE.html as the --stats and --report of
this command)."""

EPILOG = """\
examples:
  python -m tracejit --stats bench/nbody.py
  python -m tracejit --report out.html --backend x86_64 -m mypackage.tool --fast
  python -m tracejit --log run.jsonl script.py && python -m tracejit view run.jsonl
docs: docs/usage.md (parameters, log format, viewer)"""

# one line per parameter of tracejit.set_param (tracejit.params.DEFAULTS)
PARAM_HELP = {
    "threshold": "backward jumps of a loop before it is traced (default %(default)s)",
    "trace_limit": "operations in one trace before tracing gives up (default %(default)s)",
    "bridge_threshold": "failures of a guard before a bridge is traced from it "
                        "(default %(default)s)",
    "max_versions": "compiled variants of one loop for different input types "
                    "(default %(default)s)",
    "max_aborts": "failed traces of one loop before it is blacklisted (default %(default)s)",
    "inline_depth": "nested inlined calls (default %(default)s)",
    "background_compile": "1: compile on a helper thread (default %(default)s)",
    "compiled_exits": "0: leave compiled code always through Python (default %(default)s)",
    "virtuals": "0: build every object where the program makes it, never keep it "
                "virtual (default %(default)s)",
    "inject_nth": "debug: every guard fails once, on its N-th run (default %(default)s: off)",
    "inject_guard": "debug: with --inject-nth, only the K-th guard compiled "
                    "(default %(default)s: all)",
    "tiers": "backends a hot trace goes through, e.g. x86_64,llvm or llvm:O0,llvm "
             "(default %(default)s; --backend NAME: that one only)",
    "tier_up_ms": "ms in a loop's compiled code before its next tier (default %(default)s)",
    "tier_async": "0: compile the next tier on the main thread (default %(default)s)",
    "give_back": "0: keep loops compiled even when they run slower than CPython did "
                 "(default %(default)s)",
}

# what to do when a backend is unavailable, by backend name
BACKEND_HINTS = {
    "llvm": "pip install 'llvmlite>=0.50' (wheels for CPython 3.12/3.13 on PyPI)",
    "c": "pip install 'cffi>=2.0' and make sure a C compiler (cc) is on the PATH",
    "x86_64": (
        "PyPI's PeachPy (0.0.1) is Python 2 only; use Debian's python3-peachpy:\n"
        "    apt-get download python3-peachpy python3-six\n"
        "    dpkg -x python3-peachpy_*.deb ~/peachpy && dpkg -x python3-six_*.deb ~/peachpy\n"
        "    echo ~/peachpy/usr/lib/python3/dist-packages > {purelib}/peachpy.pth\n"
        "    {python} -W ignore -m compileall -q ~/peachpy   # no SyntaxWarnings at import\n"
        "  (or apt-get install python3-peachpy and put /usr/lib/python3/dist-packages on\n"
        "  PYTHONPATH; scripts/setup.sh does the former for the project's venvs)"),
}


def build_parser() -> argparse.ArgumentParser:
    from tracejit.params import DEFAULTS
    from tracejit.registry import backend_names

    p = argparse.ArgumentParser(prog="python -m tracejit", usage=USAGE, description=DESCRIPTION,
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=backend_names(), default=None,
                   help=f"code generator (default {DEFAULTS['backend']}; "
                        "see: python -m tracejit backends)")
    for name, default in DEFAULTS.items():
        if name == "backend":
            continue
        text = name == "tiers"
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=str if text else int,
                       default=None, metavar="LIST" if text else "N",
                       help=PARAM_HELP.get(name, "see docs/usage.md") % {"default": default})
    p.add_argument("--stats", action="store_true",
                   help="print a summary at exit (to stderr): hottest loops with source "
                        "locations, estimated speed-up, guard failures, aborts with reasons")
    p.add_argument("--report", metavar="FILE.html",
                   help="write the trace viewer, one self-contained HTML file, at exit")
    p.add_argument("--log", metavar="FILE",
                   help="append the JIT's events to FILE (JSON lines unless --log-format text)")
    p.add_argument("--log-format", choices=["json", "text"], default=None,
                   help="json (default; the format the viewer reads, docs/log-format.md) or "
                        "text (human-readable)")
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="module",
                   help="run library module as a script, like python -m (terminates the "
                        "option list)")
    p.add_argument("program", nargs=argparse.REMAINDER, metavar="script.py [args ...]",
                   help="the program to run and its arguments")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["backends"], ["view"]):
        try:
            return cmd_backends() if argv[0] == "backends" else cmd_view(argv[1:])
        except BrokenPipeError:  # e.g. piped into head: no traceback for that
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    parser = build_parser()
    opts = parser.parse_args(argv)
    if opts.module is not None:
        if not opts.module:
            parser.error("argument -m: expected a module name")
        target, args, is_module = opts.module[0], opts.module[1:], True
    elif opts.program:
        target, args, is_module = opts.program[0], opts.program[1:], False
    else:
        parser.print_usage(sys.stderr)
        print("python -m tracejit: error: no script or -m module given", file=sys.stderr)
        return 2
    import tracejit
    from tracejit.params import DEFAULTS

    params = {k: v for k, v in vars(opts).items() if k in DEFAULTS and v is not None}
    try:
        tracejit.set_param(**params)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    if opts.log:
        from tracejit import log

        log.configure(opts.log, opts.log_format)
    elif opts.log_format:
        os.environ["TRACEJIT_LOG_FORMAT"] = opts.log_format
    at_exit(stats=opts.stats, report=opts.report, log_path=opts.log)
    if not is_module and not os.path.exists(target):
        print(f"python -m tracejit: can't open file {target!r}: "
              f"[Errno 2] No such file or directory", file=sys.stderr)
        return 2
    tracejit.enable()
    try:
        if is_module:
            run_module(target, args)
        else:
            run_script(target, args)
    except BaseException:
        _strip_own_frames_when_printed()
        raise
    return 0


# -- running the program as python would --------------------------------------


def _fresh_main() -> dict[str, Any]:
    """Empty the real ``__main__`` module (this command's own, which only
    waits for :func:`main` to return) for the program, as pdb does: then
    ``sys.modules['__main__']`` is the program's module (pickle and
    multiprocessing find its classes)."""
    import __main__

    d = __main__.__dict__
    d.clear()
    import builtins

    d.update({"__name__": "__main__", "__doc__": None, "__package__": None,
              "__loader__": None, "__spec__": None, "__annotations__": {},
              "__builtins__": builtins})
    return d


def run_script(path: str, args: list[str]) -> None:
    """``python path args``: argv[0] is the path as given, sys.path[0] its
    directory, ``__file__`` and the code's file name its absolute path."""
    import importlib.machinery
    import io

    full = os.path.abspath(path)
    with io.open_code(full) as f:
        source = f.read()
    code = compile(source, full, "exec")
    sys.argv[:] = [path, *args]
    sys.path[0] = os.path.dirname(os.path.realpath(full))
    d = _fresh_main()
    d.update({"__file__": full, "__cached__": None,
              "__loader__": importlib.machinery.SourceFileLoader("__main__", full)})
    _started[0] = time.perf_counter()
    exec(code, d)


def run_module(name: str, args: list[str]) -> None:
    """``python -m name args``, through the same runpy function python uses
    (so tracebacks start with the same frames)."""
    import runpy

    sys.argv[:] = [name, *args]  # runpy replaces argv[0] by the module's file
    sys.path[0] = os.getcwd()
    _fresh_main()
    _started[0] = time.perf_counter()
    runpy._run_module_as_main(name, alter_argv=True)  # type: ignore[attr-defined]


_started = [time.perf_counter()]
_OWN_FILES = (os.path.abspath(__file__), os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "__main__.py"))


def _strip_own_frames_when_printed() -> None:
    """The program raised: let the exception leave as it would (exit status,
    KeyboardInterrupt's SIGINT, atexit order), but print its traceback
    without this command's frames, as plain python would show it."""
    previous = sys.excepthook

    def hook(tp: type[BaseException], value: BaseException, tb: types.TracebackType | None
             ) -> None:
        own = {os.path.normcase(f) for f in _OWN_FILES}
        runpy_frames = ("<frozen runpy>", getattr(sys.modules.get("runpy"), "__file__", ""))
        while tb is not None:
            filename = os.path.normcase(tb.tb_frame.f_code.co_filename)
            if filename in own:
                tb = tb.tb_next
            elif filename in runpy_frames and tb.tb_frame.f_code.co_name in (
                    "_run_module_as_main", "_run_code") and _is_outer_runpy(tb):
                tb = tb.tb_next
            else:
                break
        if value is not None and tb is not value.__traceback__:
            value.__traceback__ = tb
        previous(tp, value, tb)

    sys.excepthook = hook


def _is_outer_runpy(tb: types.TracebackType) -> bool:
    """True for the runpy frames that ran ``-m tracejit`` itself (followed by
    this module's frames), not those that run the program's ``-m module``."""
    own = {os.path.normcase(f) for f in _OWN_FILES}
    t = tb.tb_next
    while t is not None:
        filename = os.path.normcase(t.tb_frame.f_code.co_filename)
        if filename in own:
            return True
        if not filename.startswith("<frozen"):
            return False
        t = t.tb_next
    return False


# -- at exit -----------------------------------------------------------------


_plan: dict[str, Any] = {"stats": False, "report": None, "log": None, "registered": False}


def at_exit(stats: bool = False, report: str | None = None, log_path: str | None = None
            ) -> None:
    """Print the summary / write the report once the program has finished
    (after its own atexit handlers, which run first).  Calls add up: one
    summary, one report."""
    from tracejit import report as rep

    _plan["stats"] = _plan["stats"] or stats
    _plan["report"] = report or _plan["report"]
    _plan["log"] = log_path or _plan["log"]
    if _plan["report"]:
        rep.start_collecting(keep_listing=True)
    if not _plan["registered"]:
        _plan["registered"] = True
        atexit.register(_finish)


def _finish() -> None:
    from tracejit import log
    from tracejit import report as rep

    stats, report = _plan["stats"], _plan["report"]
    logging = log.enabled() and bool(_plan["log"] or os.environ.get("TRACEJIT_LOG"))
    if not (stats or report or logging):
        return
    wall = time.perf_counter() - _started[0]
    try:
        import tracejit
        from tracejit.runtime import runtime

        tracejit.disable()  # the program is over: do not compile the report's own loops
        runtime.drain()
    except Exception:
        pass
    try:
        data = rep.gather(wall, machine_code=bool(report or logging))
        if logging:
            log.event("report", report=data)
        if stats:
            from tracejit import summary

            sys.stderr.write(summary.format_report(data))
        if report:
            from tracejit import viewer

            viewer.write(data, report)
            print(f"tracejit: report written to {report}", file=sys.stderr)
    except Exception as e:  # never turn a finished program into a failed one
        print(f"tracejit: could not write the summary/report: {e!r}", file=sys.stderr)
    sys.stderr.flush()


def autostart() -> None:
    """``TRACEJIT=1``: switch the JIT on in this process (called from the
    ``.pth`` file at start-up; ``TRACEJIT_STATS=1`` and
    ``TRACEJIT_REPORT=FILE.html`` as the command's ``--stats``/``--report``)."""
    if os.environ.get("TRACEJIT", "") in ("", "0"):
        return
    try:
        import tracejit

        at_exit(stats=os.environ.get("TRACEJIT_STATS", "") not in ("", "0"),
                report=os.environ.get("TRACEJIT_REPORT") or None)
        tracejit.enable()
    except Exception as e:
        print(f"tracejit: TRACEJIT=1 but the JIT could not be switched on: {e!r}",
              file=sys.stderr)


# -- subcommands ---------------------------------------------------------------


def cmd_backends() -> int:
    """List the backends, whether each works here, and what a missing one needs."""
    from tracejit import describe_backends, tiers
    from tracejit.params import params

    rows = describe_backends()
    width = max(len(n) for n, _, _ in rows)
    chain = [t.label for t in tiers.chain()]
    names = [label.split(":")[0] for label in chain]
    for name, ok, why in rows:
        default = f" (tier {names.index(name) + 1})" if name in names and len(chain) > 1 \
            else " (default)" if name in names else ""
        print(f"{name:{width}}  {'usable' if ok else 'unavailable'}{default}"
              + ("" if ok else f": {why}"))
        if not ok and name in BACKEND_HINTS:
            import sysconfig

            hint = BACKEND_HINTS[name].format(python=sys.executable,
                                              purelib=sysconfig.get_paths()["purelib"])
            print("    to get it: " + hint.replace("\n", "\n    "))
    print(f"tiers: {','.join(chain)} (set_param(tiers=...), --tiers; "
          f"{params['tiers']!r} now)")
    print("optional tools:")
    for module, what, how in (
            ("capstone", "x86_64 disassembly in reports", "pip install capstone"),
            ("pygments", "syntax highlighting in reports", "pip install pygments")):
        try:
            __import__(module)
            print(f"  {module:9} installed ({what})")
        except ImportError:
            print(f"  {module:9} missing ({what}): {how}")
    return 0


def cmd_view(argv: list[str]) -> int:
    """``view LOG [-o OUT.html]``: render the viewer from a JSON-lines log."""
    p = argparse.ArgumentParser(prog="python -m tracejit view",
                                description="Render the HTML trace viewer from a JSON-lines "
                                            "log written with --log or TRACEJIT_LOG.")
    p.add_argument("logfile")
    p.add_argument("-o", "--output", metavar="FILE.html",
                   help="where to write the page (default: LOGFILE with .html)")
    opts = p.parse_args(argv)
    from tracejit import report, viewer

    if not os.path.exists(opts.logfile):
        print(f"python -m tracejit view: no such file: {opts.logfile}", file=sys.stderr)
        return 2
    data = report.from_log(opts.logfile)
    out = opts.output or os.path.splitext(opts.logfile)[0] + ".html"
    viewer.write(data, out)
    print(f"tracejit: report written to {out}", file=sys.stderr)
    return 0
