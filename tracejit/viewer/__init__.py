"""The trace viewer: a report (:mod:`tracejit.report`) as one self-contained HTML page.

The page needs no server and no network: ``viewer.css`` and ``viewer.js``
(beside this file) are inlined, and the report travels inside the page as a
JSON ``<script>`` block that ``viewer.js`` turns into the loop sections,
the interleaved source/bytecode/trace listings, the guard and bridge trees,
the machine code and the overview chart.

The Python source is highlighted here, on the Python side, by Pygments: the
well-kept standard, it produces static HTML, so the page carries no
highlighting library of its own and works offline.  Without Pygments the
source is shown plain.  Machine code (LLVM IR, assembly) is kept as text and
lightly coloured by viewer.js when it is opened: highlighted by Pygments it
made a bpnn report ten times larger (a span per token, for every trace).
"""

from __future__ import annotations

import html
import json
import os
import re
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))


def _asset(name: str) -> str:
    with open(os.path.join(_HERE, name), encoding="utf-8") as f:
        return f.read()


class _Highlighter:
    def __init__(self) -> None:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            self.ok = False
            return
        self.ok = True
        self._highlight = highlight
        self._fmt = HtmlFormatter(nowrap=True)
        self._css = HtmlFormatter(style="default").get_style_defs(".hl")
        self.lexers = {"python": PythonLexer()}

    @property
    def css(self) -> str:
        return self._css if self.ok else ""

    def lines(self, text_lines: list[str], lang: str) -> list[str]:
        """Highlighted HTML of each line (Pygments closes its spans at line
        ends, so the output splits back into the same lines)."""
        if not self.ok or not text_lines:
            return [html.escape(t) for t in text_lines]
        out = self._highlight("\n".join(text_lines) + "\n", self.lexers[lang], self._fmt)
        parts = out.split("\n")
        if len(parts) >= len(text_lines):
            return parts[:len(text_lines)]
        return [html.escape(t) for t in text_lines]


def render(report: dict[str, Any]) -> str:
    """The HTML page of a report."""
    hl = _Highlighter()
    data = dict(report)
    codes = {}
    for key, code in (report.get("codes") or {}).items():
        code = dict(code)
        lines = code.get("lines") or []
        code["html"] = hl.lines([t for _, t in lines], "python")
        codes[key] = code
    data["codes"] = codes
    data["highlighted"] = hl.ok
    blob = json.dumps(data, separators=(",", ":"), default=repr)
    blob = blob.replace("</", "<\\/").replace("<!--", "<\\!--")
    title = "tracejit report"
    argv = (report.get("meta") or {}).get("argv") or []
    if argv:
        title += ": " + os.path.basename(str(argv[0]))
    values = {"TITLE": html.escape(title), "CSS": _asset("viewer.css") + "\n" + hl.css,
              "DATA": blob, "JS": _asset("viewer.js")}
    # one pass, so that nothing inserted is substituted again
    return re.sub(r"\{\{(TITLE|CSS|DATA|JS)\}\}", lambda m: values[m.group(1)],
                  _asset("viewer.html"))


def write(report: dict[str, Any], path: str) -> None:
    text = render(report)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
