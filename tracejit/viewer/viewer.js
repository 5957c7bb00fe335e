// tracejit trace viewer: draws the report embedded in #report-data.
// No libraries, no network.  Any error is shown in #errors (and sets
// body[data-status] to "error") so that tests and users see it.
"use strict";

(function () {
  const errors = [];
  function reportError(msg) {
    errors.push(String(msg));
    const box = document.getElementById("errors");
    if (box) {
      box.hidden = false;
      const p = document.createElement("p");
      p.className = "js-error";
      p.textContent = "viewer error: " + msg;
      box.appendChild(p);
    }
    document.body.dataset.status = "error";
  }
  window.addEventListener("error", (e) => reportError(e.message + " (" + (e.lineno || "?") + ")"));
  window.addEventListener("unhandledrejection", (e) => reportError(e.reason));

  // -- small DOM helpers ----------------------------------------------------
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "html") n.innerHTML = v;  // only for Pygments output (escaped there)
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      n.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return n;
  }
  function seconds(s) {
    if (s === null || s === undefined) return "-";
    if (s >= 1) return s.toFixed(2) + " s";
    if (s >= 1e-3) return (s * 1e3).toFixed(1) + " ms";
    return (s * 1e6).toFixed(0) + " \u00b5s";
  }
  function count(n) {
    if (n === null || n === undefined) return "-";
    if (n >= 1e7) return (n / 1e6).toFixed(0) + "M";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
    return String(n);
  }
  function basename(p) { return p ? String(p).split("/").pop() : "?"; }

  // filled by init(), inside the try at the end, so that a bad report shows
  // as an error on the page like any other
  let R = {}, codes = {}, traces = {};
  const exitsByNumber = {}, versionNames = new Set(), failuresByLoop = {};

  function init() {
    R = JSON.parse(document.getElementById("report-data").textContent);
    codes = R.codes || {};
    traces = R.traces || {};
    for (const e of R.exits || []) exitsByNumber[e.number] = e;
    for (const l of R.loops || []) for (const v of l.versions || []) { versionNames.add(v.trace); versionNames.add(v.entry); }
    for (const e of R.exits || []) {
      if (!e.periodic) failuresByLoop[e.loop] = (failuresByLoop[e.loop] || 0) + (e.failures || 0);
    }
  }

  function where(codeKey, line) {
    const c = codes[codeKey];
    return (c ? basename(c.file) : "?") + ":" + (line === null || line === undefined ? "?" : line);
  }

  function speedup(loop) {
    if (!loop.estimated_cpython_time || !loop.compiled_time) return null;
    return loop.estimated_cpython_time / loop.compiled_time;
  }

  // -- the op list of a trace, interleaved with source lines and bytecodes -------
  function opRow(op, idx, labelIdx) {
    const cls = ["op"];
    if (op.guard) cls.push("guard");
    if (op.approx) cls.push("approx");
    if (labelIdx >= 0 && idx < labelIdx) cls.push("preamble");
    const ex = op.exit !== undefined ? exitsByNumber[op.exit] : undefined;
    const tail = [];
    if (ex) {
      tail.push(el("span", { class: "exit" + (ex.failures ? " failed" : "") },
        "exit " + ex.number + (ex.failures ? ": " + ex.failures + " failures" : "")));
      if (ex.bridge) tail.push(el("a", { class: "bridge-link", href: "#trace-" + ex.bridge }, "\u2192 " + ex.bridge));
    }
    if (op.target) tail.push(el("a", { class: "target", href: "#trace-" + op.target }, "\u2192 " + op.target));
    return el("div", { class: cls.join(" "), title: op.approx ? "position inferred from the guard before it" : null },
      el("span", { class: "opidx" }, String(idx)), el("code", {}, op.text), ...tail);
  }

  function labelIndex(trace) {
    const ops = trace.ops || [];
    for (let i = 0; i < ops.length; i++) if (ops[i].name === "label") return i;
    return -1;
  }

  function interleaved(trace, mainCode) {
    const box = el("div", { class: "interleaved" });
    const ops = trace.ops || [];
    const labelIdx = labelIndex(trace);
    const byCode = new Map();
    const loose = [];
    ops.forEach((op, i) => {
      if (!op.code) { loose.push([op, i]); return; }
      if (!byCode.has(op.code)) byCode.set(op.code, []);
      byCode.get(op.code).push([op, i]);
    });
    if (mainCode && !byCode.has(mainCode)) byCode.set(mainCode, []);
    const order = [...byCode.keys()].sort((a, b) => (a === mainCode ? -1 : b === mainCode ? 1 : 0));
    if (loose.length) {
      box.appendChild(el("div", { class: "loose" },
        el("div", { class: "note" }, "operations without a bytecode position (trace inputs, loop entry):"),
        loose.map(([op, i]) => opRow(op, i, labelIdx))));
    }
    for (const key of order) {
      const c = codes[key];
      const items = byCode.get(key);
      if (!c) {
        box.appendChild(el("div", { class: "code-head" }, "code " + key + " (no source recorded)"));
        items.forEach(([op, i]) => box.appendChild(opRow(op, i, labelIdx)));
        continue;
      }
      box.appendChild(el("div", { class: "code-head" },
        (key === mainCode ? "" : "inlined: ") + c.name + "  \u2014  " + c.file));
      const byOffset = new Map();
      for (const [op, i] of items) {
        const k = op.offset;
        if (!byOffset.has(k)) byOffset.set(k, []);
        byOffset.get(k).push([op, i]);
      }
      const opLines = items.map(([op]) => op.line).filter((l) => l !== null && l !== undefined);
      const srcLines = c.lines || [];
      let lo = opLines.length ? Math.min(...opLines) : (srcLines.length ? srcLines[0][0] : 0);
      let hi = opLines.length ? Math.max(...opLines) : lo;
      const bytecodeByLine = new Map();
      for (const [off, line, name, arg] of c.bytecode || []) {
        if (!bytecodeByLine.has(line)) bytecodeByLine.set(line, []);
        bytecodeByLine.get(line).push([off, name, arg]);
      }
      const shown = new Set();
      srcLines.forEach(([n, text], k) => {
        if (n < lo || n > hi) return;
        shown.add(n);
        const hot = byOffsetHasLine(bytecodeByLine.get(n), byOffset);
        box.appendChild(el("div", { class: "src" + (hot ? " hot" : ""), "data-line": n },
          el("span", { class: "lineno" }, String(n)),
          el("code", { class: "hl", html: (c.html && c.html[k] !== undefined) ? c.html[k] : null },
            (c.html && c.html[k] !== undefined) ? null : text)));
        for (const [off, name, arg] of bytecodeByLine.get(n) || []) {
          const these = byOffset.get(off);
          if (!these) continue;
          box.appendChild(el("div", { class: "bc" },
            el("span", { class: "bcoff" }, String(off)), el("span", { class: "bcname" }, name),
            el("span", { class: "bcarg" }, arg)));
          these.forEach(([op, i]) => box.appendChild(opRow(op, i, labelIdx)));
          byOffset.delete(off);
        }
      });
      // ops whose offset was not found in the listing (or lines not shown)
      for (const [off, rest] of byOffset) {
        box.appendChild(el("div", { class: "bc" }, el("span", { class: "bcoff" }, String(off)),
          el("span", { class: "bcname" }, "(offset not in listing)")));
        rest.forEach(([op, i]) => box.appendChild(opRow(op, i, labelIdx)));
      }
    }
    return box;
  }

  function byOffsetHasLine(list, byOffset) {
    return (list || []).some(([off]) => byOffset.has(off));
  }

  function traceOrder(trace) {
    const labelIdx = labelIndex(trace);
    return el("div", { class: "trace-order" },
      el("div", { class: "inputs" }, el("code", {}, "inputs " + (trace.inputs || "[]"))),
      (trace.ops || []).map((op, i) => {
        const row = opRow(op, i, labelIdx);
        if (op.code) row.appendChild(el("span", { class: "pos" }, where(op.code, op.line) + " @" + op.offset));
        return row;
      }));
  }

  function traceViews(t, mainCode) {
    const box = el("div", { class: "views" });
    const stages = [["optimized", "after optimization"], ["traced", "before optimization"]];
    const bar = el("div", { class: "tabs" });
    const panes = [];
    let first = true;
    for (const [stage, label] of stages) {
      const tr = t[stage];
      if (!tr) continue;
      for (const [mode, mlabel] of [["src", "by source line"], ["seq", "in trace order"]]) {
        const pane = el("div", { class: "pane", "data-stage": stage, "data-mode": mode, hidden: !first },
          mode === "src" ? interleaved(tr, mainCode) : traceOrder(tr));
        panes.push(pane);
        const btn = el("button", { class: "tab" + (first ? " active" : ""), type: "button",
          onclick: () => {
            panes.forEach((p) => { p.hidden = p !== pane; });
            bar.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === btn));
          } }, label + ", " + mlabel + " (" + (tr.ops || []).length + " ops)");
        bar.appendChild(btn);
        first = false;
      }
    }
    if (!t.traced) bar.appendChild(el("span", { class: "note" },
      " (the trace before optimization was not recorded)"));
    box.appendChild(bar);
    panes.forEach((p) => box.appendChild(p));
    return box;
  }

  // -- guards and bridges ---------------------------------------------------------
  function guardTree(traceName, depth, seen) {
    const t = traces[traceName];
    const list = el("ul", { class: "guards" });
    if (!t || !t.optimized || seen.has(traceName) || depth > 12) return list;
    seen.add(traceName);
    for (const op of t.optimized.ops || []) {
      if (op.exit === undefined) continue;
      const ex = exitsByNumber[op.exit];
      if (!ex) continue;
      const item = el("li", { class: "guard-item" + (ex.failures ? " failed" : " quiet") },
        el("span", { class: "gname" }, op.name),
        el("span", { class: "gwhere" }, " " + where(ex.code || op.code, ex.line !== undefined ? ex.line : op.line)),
        el("span", { class: "gexit" }, " exit " + ex.number),
        el("span", { class: "gfail" }, " " + (ex.failures || 0) + " failures"),
        ex.periodic ? el("span", { class: "note" }, " (periodic pause for signals)") : null,
        ex.bridge ? el("span", { class: "gbridge" }, " \u2192 ",
          el("a", { href: "#trace-" + ex.bridge }, ex.bridge)) : null);
      if (ex.bridge && traces[ex.bridge]) item.appendChild(guardTree(ex.bridge, depth + 1, seen));
      list.appendChild(item);
    }
    return list;
  }

  // -- machine code ----------------------------------------------------------------
  // machine code is plain text in the report: colour comments and directives
  function listing(text, comment) {
    return el("pre", { class: "listing" }, String(text || "").split("\n").map((line) => {
      const t = line.trimStart();
      let cls = null;
      if (t.startsWith(comment)) cls = "cm";
      else if (t.startsWith(".") || /^[\w.$]+:/.test(t)) cls = "dir";
      return el("span", { class: cls }, line + "\n");
    }));
  }

  function machineCode(t) {
    const mc = t.machine_code;
    if (!mc) return el("p", { class: "note" }, "no machine code recorded");
    if (mc.kind === "x86_64") {
      const rows = (mc.lines || []).map(([addr, m, o]) => el("div", { class: "asm-line" },
        el("span", { class: "addr" }, addr), el("span", { class: "mn" }, m), " " + o));
      return el("div", { class: "machine" }, el("div", { class: "note" },
        "x86-64, " + (mc.bytes || "?") + " bytes, disassembled with capstone"), rows);
    }
    if (mc.kind === "llvm") {
      return el("div", { class: "machine" },
        el("div", { class: "note" }, "LLVM IR" + (mc.optimized_ir ? " after LLVM's -O2" : " as generated (before LLVM's passes)")
          + (mc.function ? ", function " + mc.function : "")),
        listing(mc.ir, ";"),
        mc.asm ? el("div", { class: "note" }, "assembly (AT&T syntax)") : null,
        mc.asm ? listing(mc.asm, "#") : null);
    }
    return el("p", { class: "note" }, mc.why || "no machine code");
  }

  function traceSection(name, mainCode) {
    const t = traces[name];
    if (!t) return el("p", { class: "note" }, "trace " + name + " not recorded");
    return el("details", { class: "trace", id: "trace-" + name, open: t.kind === "loop" ? true : null },
      el("summary", {}, el("span", { class: "tkind" }, t.kind), " " + name,
        t.compile_seconds ? el("span", { class: "note" }, "  compiled in " + seconds(t.compile_seconds)) : null,
        (t.dropped || ((t.kind === "loop" || t.kind === "entry") && !versionNames.has(name)))
          ? el("span", { class: "note" }, "  (no longer in use)") : null),
      traceViews(t, mainCode),
      el("details", { class: "mc" }, el("summary", {}, "machine code"), machineCode(t)));
  }

  // -- the page ----------------------------------------------------------------------
  function header() {
    const m = R.meta || {};
    const s = R.stats || {};
    const wall = m.wall_time;
    const cards = [
      ["run time", seconds(wall)],
      ["in machine code", seconds(s.compiled_time) + (wall ? " (" + Math.round(100 * (s.compiled_time || 0) / wall) + "%)" : "")],
      ["tracing", seconds(s.trace_time)], ["compiling", seconds(s.compile_time)],
      ["loops compiled", s.loops_compiled], ["bridges", s.bridges_compiled],
      ["guard failures", s.guard_failures], ["aborts", Object.values(s.aborts || {}).reduce((a, b) => a + b, 0)],
    ];
    return el("header", {},
      el("h1", {}, "tracejit report"),
      el("p", { class: "meta" }, "python " + (m.argv || []).join(" ") + "  \u2014  CPython " + (m.python || "?")
        + ", backend " + (m.backend || "?") + (m.created ? ", " + m.created : "")
        + (m.from_log ? ", from log " + m.from_log : "") + (m.incomplete ? " (the program did not reach its exit: counts missing)" : "")),
      el("div", { class: "cards" }, cards.map(([k, v]) => el("div", { class: "card" },
        el("div", { class: "cv" }, v === undefined ? "-" : String(v)), el("div", { class: "ck" }, k)))));
  }

  function overview(loops) {
    const svgNS = "http://www.w3.org/2000/svg";
    const top = loops.slice(0, 15);
    const box = el("section", { id: "overview" }, el("h2", {}, "Overview: time in machine code per loop"));
    if (!top.length) { box.appendChild(el("p", { class: "note" }, "no loop was compiled")); return box; }
    const max = Math.max(...top.map((l) => l.compiled_time || 0), 1e-9);
    const rowH = 22, labelW = 300, barW = 440, w = labelW + barW + 120;
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + (top.length * rowH + 8));
    svg.setAttribute("width", w);
    svg.setAttribute("class", "chart");
    top.forEach((l, i) => {
      const c = codes[l.code] || {};
      const y = 4 + i * rowH;
      const a = document.createElementNS(svgNS, "a");
      a.setAttribute("href", "#loop-" + i);
      const label = document.createElementNS(svgNS, "text");
      label.setAttribute("x", labelW - 8); label.setAttribute("y", y + 15);
      label.setAttribute("text-anchor", "end");
      label.textContent = (i + 1) + ". " + (c.name || l.name) + "  " + basename(c.file) + ":" + l.line;
      const rect = document.createElementNS(svgNS, "rect");
      rect.setAttribute("x", labelW); rect.setAttribute("y", y + 3);
      rect.setAttribute("height", rowH - 6);
      rect.setAttribute("width", Math.max(1, barW * (l.compiled_time || 0) / max));
      rect.setAttribute("class", l.blacklisted ? "bar bl" : "bar");
      const val = document.createElementNS(svgNS, "text");
      val.setAttribute("x", labelW + Math.max(1, barW * (l.compiled_time || 0) / max) + 6);
      val.setAttribute("y", y + 15);
      const sp = speedup(l);
      val.textContent = seconds(l.compiled_time) + (sp ? "  ~" + sp.toFixed(1) + "x" : "");
      a.appendChild(label); a.appendChild(rect); a.appendChild(val);
      svg.appendChild(a);
    });
    box.appendChild(svg);
    return box;
  }

  function loopSection(l, i) {
    const c = codes[l.code] || {};
    const sp = speedup(l);
    const aborts = (R.aborts || []).filter((a) => a.loop === l.name);
    const sec = el("section", { class: "loop", id: "loop-" + i, "data-loop": l.name },
      el("h2", {}, (i + 1) + ". loop in " + (c.name || "?") + " at " + basename(c.file) + ":" + l.line,
        el("span", { class: "lname" }, "  " + l.name)),
      el("table", { class: "metrics" }, el("tr", {},
        ["time in machine code", "entries", "iterations", "ops / iteration", "est. speed-up", "guard failures", "versions", "state"]
          .map((h) => el("th", {}, h))),
        el("tr", {}, [seconds(l.compiled_time), count(l.entries), count(l.iterations), l.ops_per_iteration || "-",
          sp ? "~" + sp.toFixed(1) + "x" : "-", failuresByLoop[l.name] || 0, (l.versions || []).length,
          l.blacklisted ? "blacklisted" : ((l.versions || []).length ? "compiled" : l.aborts + " aborts")]
          .map((v) => el("td", {}, String(v))))));
    if (aborts.length) {
      sec.appendChild(el("div", { class: "aborts-here" }, el("h3", {}, "aborts"),
        el("ul", {}, groupAborts(aborts).map(([text, n]) => el("li", {}, (n > 1 ? n + "\u00d7 " : "") + text)))));
    }
    for (const v of l.versions || []) {
      sec.appendChild(el("h3", {}, "guards and bridges of " + v.trace));
      sec.appendChild(guardTree(v.trace, 0, new Set()));
      sec.appendChild(traceSection(v.trace, l.code));
      if (v.entry) sec.appendChild(traceSection(v.entry, l.code));
    }
    // traces of versions no longer in use (a loop given up or blacklisted
    // drops them), then bridges grown from this loop's guards
    const inVersions = (name) => (l.versions || []).some((v) => v.trace === name || v.entry === name);
    const rest = Object.values(traces).filter((t) => t.loop === l.name && !inVersions(t.name));
    for (const t of rest.filter((t) => t.kind === "loop")) {
      sec.appendChild(el("h3", {}, "guards and bridges of " + t.name,
        el("span", { class: "note" }, " (version no longer in use)")));
      sec.appendChild(guardTree(t.name, 0, new Set()));
    }
    const kindOrder = { loop: 0, entry: 1, bridge: 2, writeback: 3 };
    rest.sort((a, b) => (kindOrder[a.kind] ?? 4) - (kindOrder[b.kind] ?? 4));
    for (const t of rest) sec.appendChild(traceSection(t.name, l.code));
    return sec;
  }

  function abortReason(a) {
    if (a.kind === "blacklist") return "blacklisted after repeated aborts";
    return (a.kind === "bridge_abort" ? "bridge: " : "") + (a.reason || a.kind);
  }

  function abortWhere(a) {
    return a.code ? where(a.code, a.line) : basename(a.file) + ":" + (a.line === undefined ? "?" : a.line);
  }

  function groupAborts(list) {
    const groups = new Map();
    for (const a of list) {
      const text = abortWhere(a) + ": " + abortReason(a);
      groups.set(text, (groups.get(text) || 0) + 1);
    }
    return [...groups.entries()];
  }

  function abortsSection() {
    const list = R.aborts || [];
    const sec = el("section", { id: "aborts" }, el("h2", {}, "Aborts"));
    if (!list.length) {
      const byReason = Object.entries((R.stats || {}).aborts || {});
      if (!byReason.length) { sec.appendChild(el("p", { class: "note" }, "none")); return sec; }
      sec.appendChild(el("table", {}, byReason.map(([r, n]) => el("tr", {}, el("td", {}, String(n)), el("td", {}, r)))));
      return sec;
    }
    const groups = new Map();
    for (const a of list) {
      const reason = abortReason(a);
      const loc = abortWhere(a);
      const key = loc + "\u0000" + (a.loop || "") + "\u0000" + reason;
      groups.set(key, (groups.get(key) || 0) + 1);
    }
    const rows = [...groups.entries()].sort((a, b) => b[1] - a[1]);
    sec.appendChild(el("table", { class: "abort-table" },
      el("tr", {}, ["count", "where", "loop", "reason"].map((h) => el("th", {}, h))),
      rows.map(([k, n]) => el("tr", {}, el("td", {}, String(n)), ...k.split("\u0000").map((x) => el("td", {}, x))))));
    return sec;
  }

  function notes() {
    const m = R.meta || {};
    return el("section", { id: "notes" }, el("h2", {}, "How to read this"),
      el("ul", {},
        el("li", {}, "Loops are ordered by time spent in their machine code (bridges included)."),
        el("li", {}, "est. speed-up: CPython's time for the same iterations is guessed as iterations \u00d7 operations per iteration \u00d7 "
          + (m.ns_per_op || 8) + " ns and divided by the measured time in machine code. It is a rough guide; time the program with and without tracejit for real figures."),
        el("li", {}, "Operations sit under the bytecode they came from; a dimmed one's position is inferred from the guard before it. Operations before the label (marked \u2018pre\u2019) run once per entry, those after it on every iteration."),
        el("li", {}, "A guard's failures send execution back to CPython, or into the bridge grown from it.")));
  }

  function render() {
    const app = document.getElementById("app");
    const loops = (R.loops || []).slice().sort((a, b) => (b.compiled_time || 0) - (a.compiled_time || 0));
    app.appendChild(header());
    app.appendChild(overview(loops));
    const list = el("div", { id: "loops" });
    loops.forEach((l, i) => list.appendChild(loopSection(l, i)));
    if (!loops.length) list.appendChild(el("p", { class: "note" }, "No loop was traced."));
    app.appendChild(list);
    const attached = new Set();
    for (const l of loops) for (const t of Object.values(traces)) if (t.loop === l.name) attached.add(t.name);
    const other = Object.keys(traces).filter((n) => !attached.has(n));
    if (other.length) {
      app.appendChild(el("section", { id: "other-traces" }, el("h2", {}, "Other traces"),
        other.map((n) => traceSection(n, null))));
    }
    app.appendChild(abortsSection());
    app.appendChild(notes());
  }

  try {
    init();
    render();
    if (!errors.length) document.body.dataset.status = "ok";
  } catch (e) {
    reportError((e && e.stack) || e);
  }
})();
