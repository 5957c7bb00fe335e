"""``python -m tracejit``: programs see what plain ``python`` shows them (argv,
``__main__``, exit status, exceptions and tracebacks), and ``--stats``,
``--report``, ``--log``, ``view``, ``backends`` and ``TRACEJIT=1`` do what
docs/usage.md says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra: str) -> dict[str, str]:
    """The test's environment with this checkout first on the path (works both
    with PYTHONPATH set and with an editable install, as in CI)."""
    env = dict(os.environ)
    for k in ("TRACEJIT", "TRACEJIT_LOG", "TRACEJIT_STATS", "TRACEJIT_REPORT",
              "TRACEJIT_LOG_FORMAT"):
        env.pop(k, None)
    path = [ROOT, os.path.join(ROOT, "backends")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.setdefault("TRACEJIT_BACKEND", "llvm")
    env.update(extra)
    return env


def run(args: list[str], cwd: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=300)


def both(tmp_path, target: list[str], options: tuple[str, ...] = ("--threshold", "50")):
    """The same program under plain python and under python -m tracejit."""
    plain = run(target, str(tmp_path))
    jit = run(["-m", "tracejit", *options, *target], str(tmp_path))
    return plain, jit


def outcome(r: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return r.returncode, r.stdout, r.stderr


def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


HOT = """
def hot(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
"""

SHOWS_ITSELF = HOT + """
import sys, pickle, __main__

class Point:
    pass

print("argv", sys.argv)
print("name", __name__, "file", __file__)
print("path0", sys.path[0])
print("main is me", sys.modules["__main__"].__dict__ is globals(), __main__.__dict__ is globals())
print("globals", sorted(k for k in globals() if k.startswith("__")))
print("loader", type(__loader__).__name__, "spec", __spec__ and __spec__.name)
print("pickled", type(pickle.loads(pickle.dumps(Point()))).__qualname__)
print("hot", hot(5000))
"""


def test_script_sees_argv_name_main_and_path_as_under_plain_python(tmp_path):
    script = write(tmp_path / "sub" / "prog.py", SHOWS_ITSELF)
    plain, jit = both(tmp_path, [os.path.relpath(script, tmp_path), "a", "--flag", "-m", "x"])
    assert plain.returncode == 0, plain.stderr
    assert jit.stdout == plain.stdout
    assert jit.stderr == plain.stderr == ""
    assert jit.returncode == 0
    assert "argv ['sub/prog.py', 'a', '--flag', '-m', 'x']" in jit.stdout


def test_module_sees_argv_name_and_spec_as_under_python_dash_m(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "tool.py", SHOWS_ITSELF + """
print("spec name", __spec__.name, "package", __package__)
""")
    write(tmp_path / "pkg" / "__main__.py", """
import sys
print("package main", __name__, __spec__.name, sys.argv[1:])
""")
    plain, jit = both(tmp_path, ["-m", "pkg.tool", "1", "--two"])
    assert plain.returncode == 0, plain.stderr
    assert jit.stdout == plain.stdout and jit.stderr == plain.stderr == ""
    plain, jit = both(tmp_path, ["-m", "pkg", "x"])
    assert jit.stdout == plain.stdout == "package main __main__ pkg.__main__ ['x']\n"


@pytest.mark.parametrize("ending, code", [
    ("pass", 0), ("sys.exit(3)", 3), ("sys.exit(None)", 0), ("raise SystemExit(0)", 0),
    ("sys.exit('bad input')", 1), ("raise SystemExit(300)", 300 & 0xFF),
    ("os._exit(7)", 7),
])
def test_exit_status_and_message_are_those_of_plain_python(tmp_path, ending, code):
    script = write(tmp_path / "exits.py", HOT + f"""
import os, sys
print(hot(3000))
{ending}
""")
    plain, jit = both(tmp_path, [script])
    assert plain.returncode == code
    assert outcome(jit) == outcome(plain)


RAISES = """
def divide(xs, k):
    total = 0.0
    for i, x in enumerate(xs):
        total += x / (k - i)   # k - i reaches 0 after many iterations
    return total

def outer():
    return divide([1.0] * 20000, 15000)

print("start", flush=True)
outer()
"""


def test_exception_traceback_from_a_compiled_loop_is_plain_pythons(tmp_path):
    script = write(tmp_path / "raises.py", RAISES)
    plain, jit = both(tmp_path, [script])
    assert plain.returncode == 1 and "ZeroDivisionError" in plain.stderr
    assert outcome(jit) == outcome(plain)
    assert "tracejit" not in jit.stderr and "runpy" not in jit.stderr


def test_exception_traceback_of_a_module_is_plain_pythons(tmp_path):
    write(tmp_path / "failing.py", RAISES)
    plain, jit = both(tmp_path, ["-m", "failing"])
    assert plain.returncode == 1
    assert outcome(jit) == outcome(plain)
    assert "_run_module_as_main" in jit.stderr  # python -m shows runpy's frames too


def test_chained_exception_and_keyboard_interrupt_match_plain_python(tmp_path):
    script = write(tmp_path / "chain.py", """
try:
    {}["missing"]
except KeyError as e:
    raise RuntimeError("wrapped") from e
""")
    plain, jit = both(tmp_path, [script])
    assert (jit.returncode, jit.stderr) == (plain.returncode, plain.stderr)
    script = write(tmp_path / "interrupt.py", "raise KeyboardInterrupt\n")
    plain, jit = both(tmp_path, [script])
    assert plain.returncode != 0
    assert (jit.returncode, jit.stderr) == (plain.returncode, plain.stderr)


def test_missing_script_and_missing_module_fail_like_python(tmp_path):
    r = run(["-m", "tracejit", "nope.py"], str(tmp_path))
    assert r.returncode == 2 and "can't open file 'nope.py'" in r.stderr
    plain, jit = both(tmp_path, ["-m", "no_such_module_here"])
    assert jit.returncode == plain.returncode == 1
    assert "No module named no_such_module_here" in jit.stderr
    r = run(["-m", "tracejit"], str(tmp_path))
    assert r.returncode == 2 and "no script" in r.stderr


def test_help_documents_every_option_and_parameter(tmp_path):
    r = run(["-m", "tracejit", "--help"], str(tmp_path))
    assert r.returncode == 0
    from tracejit.params import DEFAULTS

    for name in DEFAULTS:
        assert "--" + name.replace("_", "-") in r.stdout
    for opt in ("--stats", "--report", "--log", "--log-format", "-m module", "TRACEJIT=1",
                "backends", "view LOGFILE"):
        assert opt in r.stdout


def test_parameters_reach_the_jit_and_bad_ones_are_refused(tmp_path):
    script = write(tmp_path / "params.py", """
import tracejit
print(tracejit.get_param("threshold"), tracejit.get_param("bridge_threshold"),
      tracejit.get_param("backend"))
""")
    r = run(["-m", "tracejit", "--threshold", "77", "--bridge-threshold", "5",
             "--backend", "reference", script], str(tmp_path))
    assert r.stdout == "77 5 reference\n", r.stderr
    r = run(["-m", "tracejit", "--threshold", "0", script], str(tmp_path))
    assert r.returncode == 2 and "threshold" in r.stderr


def test_stats_prints_the_hottest_loop_with_its_location_and_aborts(tmp_path):
    script = write(tmp_path / "work.py", HOT + """
def with_dict(n):
    d = {}
    for i in range(n):
        d[i] = i
    return len(d)

print(hot(200000), with_dict(5000))
""")
    r = run(["-m", "tracejit", "--stats", script], str(tmp_path))
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert "tracejit summary" in err and "hottest loops" in err
    first = err.split("hottest loops")[1].splitlines()[2]
    assert "work.py:4" in first and "hot" in first and "x" in first  # the est. speed-up
    dict_loop = textwrap.dedent(HOT).count("\n") + 4  # "for i in range(n):" of with_dict
    assert "aborts" in err and f"work.py:{dict_loop}" in err and "item assignment" in err
    assert "est. speed-up" in err


def test_report_log_and_view_write_what_they_promise(tmp_path):
    script = write(tmp_path / "work.py", HOT + "print(hot(100000))\n")
    report, log = tmp_path / "r.html", tmp_path / "run.jsonl"
    r = run(["-m", "tracejit", "--report", str(report), "--log", str(log), script],
            str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"report written to {report}" in r.stderr
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="report-data"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # no network
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(e["v"] == 1 and "t" in e and "kind" in e for e in events)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "report"
    traces = [e for e in events if e["kind"] == "trace"]
    assert {e["stage"] for e in traces} == {"traced", "optimized"}
    loop = next(e for e in traces if e["name"] == "loop1" and e["stage"] == "optimized")
    assert any(op.get("line") == 5 for op in loop["trace"]["ops"])  # total += ...
    assert any(e["kind"] == "code" and e["name"] == "hot" for e in events)
    out = tmp_path / "viewed.html"
    r = run(["-m", "tracejit", "view", str(log), "-o", str(out)], str(tmp_path))
    assert r.returncode == 0, r.stderr
    data = _embedded(out.read_text())
    assert data["loops"][0]["name"].startswith("hot@")
    assert data["traces"]["loop1"]["traced"]["ops"]  # before optimization, from the log


def test_text_log_format_keeps_the_readable_form(tmp_path):
    script = write(tmp_path / "work.py", HOT + "print(hot(20000))\n")
    log = tmp_path / "run.log"
    r = run(["-m", "tracejit", "--log", str(log), "--log-format", "text", script],
            str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert "before optimization" in text and "after optimization" in text
    assert not text.lstrip().startswith("{")


def test_log_env_var_alone_writes_json_lines(tmp_path):
    script = write(tmp_path / "work.py", "import tracejit\ntracejit.enable()\n" + HOT
                   + "print(hot(20000))\n")
    log = tmp_path / "env.jsonl"
    r = run([script], str(tmp_path), TRACEJIT_LOG=str(log))
    assert r.returncode == 0, r.stderr
    kinds = {json.loads(line)["kind"] for line in log.read_text().splitlines()}
    assert {"start", "trace", "code"} <= kinds


def test_backends_command_says_what_is_missing(tmp_path):
    r = run(["-m", "tracejit", "backends"], str(tmp_path))
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert any(line.startswith("llvm") and "usable" in line for line in lines)
    assert any(line.startswith("reference") and "usable" in line for line in lines)
    if "x86_64" in r.stdout and "x86_64     unavailable" in r.stdout:
        assert "python3-peachpy" in r.stdout and "apt-get download" in r.stdout
    assert "optional tools" in r.stdout


def test_autostart_switches_the_jit_on_only_when_asked(tmp_path):
    script = write(tmp_path / "work.py", HOT + """
import sys
print(hot(100000), "tracejit.hooks" in sys.modules)
""")
    start = ("import sys, runpy; import tracejit.cli; tracejit.cli.autostart(); "
             "runpy.run_path(sys.argv[1], run_name='__main__')")
    on = run(["-c", start, script], str(tmp_path), TRACEJIT="1", TRACEJIT_STATS="1")
    assert on.returncode == 0, on.stderr
    assert on.stdout.endswith("True\n") and "hottest loops" in on.stderr
    off = run(["-c", start, script], str(tmp_path), TRACEJIT="0")
    assert off.stdout.endswith("False\n") and off.stderr == ""


def test_pth_line_costs_nothing_when_the_variable_is_unset(tmp_path):
    # list(): enable() warms the backend up on a helper thread, which imports
    # while this iterates
    code = _pth_line() + ("import sys; print(sorted(m for m in list(sys.modules) "
                          "if m.split('.')[0] == 'tracejit'))\n")
    r = run(["-c", code], str(tmp_path))
    assert r.stdout == "[]\n", r.stderr
    r = run(["-c", code], str(tmp_path), TRACEJIT="1")
    assert "tracejit.hooks" in r.stdout


def _pth_line() -> str:
    """The line setup.py installs (read without importing setuptools)."""
    import ast

    tree = ast.parse(open(os.path.join(ROOT, "setup.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PTH_LINE":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no PTH_LINE")


def _installed_pth() -> str | None:
    path = os.path.join(sysconfig.get_paths()["purelib"], "tracejit_autostart.pth")
    return path if os.path.exists(path) else None


@pytest.mark.skipif(_installed_pth() is None,
                    reason="tracejit_autostart.pth is not installed in this interpreter "
                           "(installed by pip install . / -e . since the CLI commit)")
def test_installed_pth_makes_TRACEJIT_1_work_on_plain_python(tmp_path):
    script = write(tmp_path / "work.py", HOT + "print(hot(100000))\n")
    r = run([script], str(tmp_path), TRACEJIT="1", TRACEJIT_STATS="1")
    assert r.returncode == 0, r.stderr
    assert "hottest loops" in r.stderr and "work.py:4" in r.stderr


def _embedded(page: str) -> dict:
    start = page.index('id="report-data">') + len('id="report-data">')
    end = page.index("</script>", start)
    return json.loads(page[start:end].replace("<\\/", "</"))
