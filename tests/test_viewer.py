"""The trace viewer in a real browser: headless Chromium opens the reports of
bench/bpnn and bench/raytracer (small sizes) and the page, once its script
has run, shows the loops, their source lines and guards, with no JavaScript
error (the page writes errors into #errors and sets body[data-status]).

Skipped, with the reason, when no Chromium is installed (scripts/setup.sh
installs Debian's ``chromium`` when it runs as root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _chromium() -> str | None:
    if os.environ.get("TRACEJIT_CHROMIUM"):
        return os.environ["TRACEJIT_CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (apt-get install chromium, or set "
                             "TRACEJIT_CHROMIUM); scripts/setup.sh installs it as root")

DRIVER = """
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
import bpnn, raytracer
if sys.argv[2] == "bpnn":
    print(bpnn.bpnn(6, 16, 4, 30))
else:
    print(raytracer.render(40, 30))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("TRACEJIT", "TRACEJIT_LOG", "TRACEJIT_STATS", "TRACEJIT_REPORT"):
        env.pop(k, None)
    path = [ROOT, os.path.join(ROOT, "backends")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    return env


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    driver = out / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER))
    pages = {}
    for name in ("bpnn", "raytracer"):
        page = out / f"{name}.html"
        r = subprocess.run([sys.executable, "-m", "tracejit", "--backend", "llvm", "--report",
                            str(page), str(driver), ROOT, name], env=_env(), cwd=str(out),
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        pages[name] = str(page)
    return pages


def dump_dom(page: str, tmp_path) -> tuple[str, str]:
    """The DOM after the page's script ran, and Chromium's log (console
    messages included)."""
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                        "--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + page],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    # what the page shows: leave out the scripts (the report's JSON, the code)
    return re.sub(r"<script\b.*?</script>", "", r.stdout, flags=re.S), r.stderr


def _check_clean(dom: str, log: str) -> None:
    assert re.search(r'<body[^>]*data-status="ok"', dom), "the page's script did not finish"
    assert 'class="js-error"' not in dom
    console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console


def _loops(page: str) -> list[dict]:  # from the report itself
    text = open(page, encoding="utf-8").read()
    start = text.index('id="report-data">') + len('id="report-data">')
    return json.loads(text[start:text.index("</script>", start)].replace("<\\/", "</"))["loops"]


@needs_chromium
def test_bpnn_report_shows_loops_source_lines_and_guards(reports, tmp_path):
    dom, log = dump_dom(reports["bpnn"], tmp_path)
    _check_clean(dom, log)
    loops = _loops(reports["bpnn"])
    assert sum(1 for lp in loops if lp["versions"]) >= 3
    sections = re.findall(r'<section class="loop" id="loop-\d+" data-loop="([^"]+)"', dom)
    assert sections == [lp["name"] for lp in loops]  # every loop, hottest first
    assert "loop in NeuralNet.back_propagate at bpnn.py:" in dom
    # source lines of the hot loop, with operations and guards under them
    assert re.search(r'class="src hot" data-line="\d+"', dom)
    src = re.sub(r"<[^>]+>", "", dom)
    assert "for k in range(n_out):" in src
    assert "out_deltas[k] = dsigmoid(act_out[k]) * (targets[k] - act_out[k])" in src
    assert dom.count('class="guard-item') >= 20 and "failures" in src
    assert 'class="op guard' in dom
    assert "bridge" in src  # bridges grown from guards
    assert "<svg" in dom and 'class="bar"' in dom  # the overview chart
    assert "LLVM IR after LLVM's -O2" in src  # machine code section


@needs_chromium
def test_raytracer_report_shows_its_loops_and_aborts(reports, tmp_path):
    dom, log = dump_dom(reports["raytracer"], tmp_path)
    _check_clean(dom, log)
    src = re.sub(r"<[^>]+>", "", dom)
    assert 'class="loop"' in dom and "raytracer.py:" in src
    # the abort table: a reason with the place it was met
    table = re.search(r'<table class="abort-table">(.*?)</table>', dom, re.S)
    assert table and re.search(r"raytracer\.py:\d+", re.sub(r"<[^>]+>", " ", table.group(1)))
    assert re.search(r'class="src( hot)?" data-line="\d+"', dom)


@needs_chromium
def test_a_script_error_in_the_page_is_reported_not_hidden(tmp_path):
    from tracejit import viewer

    broken = {"meta": {}, "stats": {}, "codes": {}, "traces": {}, "exits": [], "aborts": [],
              "loops": [{"name": "x", "versions": 5, "compiled_time": 1.0}]}
    page = tmp_path / "broken.html"
    viewer.write(broken, str(page))
    dom, _ = dump_dom(str(page), tmp_path)
    assert re.search(r'<body[^>]*data-status="error"', dom)
    assert re.search(r'<p class="js-error">viewer error: [^<]*TypeError', dom)


# -- what the viewer is given: traces with their bytecode positions ------------


def _sample(n):
    total = 0
    for i in range(n):
        total += i * 3
    return total


def _toy_trace(with_pos: bool):
    """add, compare, guard, jump; ops that carry ``pos`` when asked."""
    import dis

    from tracejit.ir import ExitDescr, InputArg, Op, Trace, const_int

    class PosOp(Op):  # ops of the tracer being rewritten carry .pos
        pass

    offsets = {i.opname: i.offset for i in dis.get_instructions(_sample)}
    code = _sample.__code__
    a = InputArg("i")
    add = PosOp("int_add", [a, const_int(3)])
    lt = PosOp("int_lt", [add, const_int(10)])
    guard = PosOp("guard_true", [lt])
    guard.exit, guard.fail_args = ExitDescr(number=7), [add]
    jump = PosOp("jump", [add])
    if with_pos:
        add.pos = (code, offsets["BINARY_OP"])
        lt.pos = guard.pos = (code, offsets["FOR_ITER"])
    return Trace([a], [add, lt, guard, jump]), code


def test_trace_record_places_ops_under_their_bytecode_when_they_carry_pos():
    from tracejit import report

    trace, code = _toy_trace(with_pos=True)
    rec = report.trace_record(trace)
    add, lt, guard, jump = rec["ops"]
    assert add["line"] == code.co_firstlineno + 3 and not add.get("approx")  # total += i * 3
    assert lt["line"] == guard["line"] == code.co_firstlineno + 2  # the for line
    assert guard["guard"] and guard["exit"] == 7
    assert jump["approx"] and jump["line"] == guard["line"]  # inherited from the guard
    assert add["text"].startswith("i1 = int_add(i0, 3)")


def test_trace_record_without_positions_has_no_invented_ones():
    from tracejit import report

    trace, _ = _toy_trace(with_pos=False)
    rec = report.trace_record(trace)
    assert all("line" not in op for op in rec["ops"])  # no guard resume data either


def test_record_trace_hook_reaches_the_collector_and_the_report(tmp_path):
    from tracejit import report

    trace, code = _toy_trace(with_pos=True)
    report.record_trace("toy0", "traced", trace)  # nobody listens: nothing kept
    collector = report.start_collecting(keep_listing=False)
    try:
        report.record_trace("toy1", "traced", trace, loop="_sample@1:2", code=code)
        assert "toy0" not in collector.traces
        assert collector.traces["toy1"]["traced"]["ops"][0]["line"] == code.co_firstlineno + 3
        data = report.gather(machine_code=False)
    finally:
        report.stop_collecting()
    assert data["traces"]["toy1"]["traced"]["ops"]
    lines = data["codes"][report.code_key(code)]["lines"]
    assert any("total += i * 3" in text for _, text in lines)
