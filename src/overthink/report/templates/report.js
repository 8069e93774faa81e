/* overthink report: sortable tables and the sample browser.
 * Model and task text only ever reaches the page through textContent, never innerHTML,
 * so a response that contains markup is shown as text and runs nothing. */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* ---- sortable tables ------------------------------------------------------------ */
  function sortTable(table, col, th) {
    var numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
      c.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-sort");
      var y = b.cells[col].getAttribute("data-sort");
      // Blanks sort last in both directions: a missing CI is not a small one.
      if (x === "" || x === null) { return (y === "" || y === null) ? 0 : 1; }
      if (y === "" || y === null) { return -1; }
      if (numeric) { return dir * (parseFloat(x) - parseFloat(y)); }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortTable(table, col, th); }
      });
    });
  });

  /* ---- sample browser ------------------------------------------------------------- */
  var source = document.getElementById("ot-data");
  var root = document.getElementById("sample-browser");
  if (!source || !root) { document.body.setAttribute("data-ready", "1"); return; }
  var data = JSON.parse(source.textContent);
  var T = data.tables;
  var D = data.columns;  // one array per field, indexed by record
  var total = D.task.length;
  var PAGE = 50;
  var page = 0;
  var matches = [];
  var haystack = null;

  var fTask = document.getElementById("f-task");
  var fModel = document.getElementById("f-model");
  var fBudget = document.getElementById("f-budget");
  var fStatus = document.getElementById("f-status");
  var fFlag = document.getElementById("f-flag");
  var fText = document.getElementById("f-text");
  var fSort = document.getElementById("f-sort");
  var list = document.getElementById("sb-list");
  var count = document.getElementById("sb-count");
  var pageLabel = document.getElementById("sb-page");
  var prev = document.getElementById("sb-prev");
  var next = document.getElementById("sb-next");

  function fillSelect(select, values, labels) {
    values.forEach(function (v, i) {
      var opt = el("option", null, labels ? labels[i] : v);
      opt.value = String(v);
      select.appendChild(opt);
    });
  }
  function indexOrder(table) {
    return table.map(function (_, i) { return i; }).sort(function (a, b) {
      return String(table[a]).localeCompare(String(table[b]), undefined, {numeric: true});
    });
  }
  fillSelect(fTask, indexOrder(T.task), indexOrder(T.task).map(function (i) { return T.task[i]; }));
  fillSelect(fModel, indexOrder(T.model), indexOrder(T.model).map(function (i) { return T.model[i]; }));
  fillSelect(fBudget, indexOrder(T.budget), indexOrder(T.budget).map(function (i) { return T.budget[i]; }));

  // Built on the first text search only: lower-casing every text costs memory and time.
  function buildHaystack() {
    haystack = new Array(total);
    for (var i = 0; i < total; i++) {
      haystack[i] = [D.sample_id[i], D.answer[i], D.target[i], T.meta[D.meta[i]], D.response[i],
                     D.reasoning[i], D.error[i], T.prompt[D.prompt[i]]].join("\u0000").toLowerCase();
    }
  }

  function status(i) { return data.status[D.status[i]]; }

  function applyFilters() {
    var task = fTask.value, model = fModel.value, budget = fBudget.value;
    var st = fStatus.value, flag = fFlag.value;
    var text = fText.value.trim().toLowerCase();
    if (text && haystack === null) { buildHaystack(); }
    matches = [];
    for (var i = 0; i < total; i++) {
      if (task !== "" && String(D.task[i]) !== task) { continue; }
      if (model !== "" && String(D.model[i]) !== model) { continue; }
      if (budget !== "" && String(D.budget[i]) !== budget) { continue; }
      if (st !== "") {
        var s = status(i);
        if (st === "wrong" ? (s !== "wrong" && s !== "unparsed") : s !== st) { continue; }
      }
      if (flag !== "" && (D.flags[i] & parseInt(flag, 10)) === 0) { continue; }
      if (text && haystack[i].indexOf(text) < 0) { continue; }
      matches.push(i);
    }
    var key = fSort.value;
    if (key) {
      var col = D[key.slice(1)], dir = key.charAt(0) === "-" ? -1 : 1;
      matches.sort(function (a, b) {
        var x = col[a], y = col[b];
        if (x === null) { return y === null ? a - b : 1; }
        if (y === null) { return -1; }
        return dir * (x - y) || a - b;
      });
    }
    page = 0;
    render();
  }

  function field(dl, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    dl.appendChild(el("dt", null, label));
    dl.appendChild(el("dd", null, value));
  }

  function textBlock(parent, title, text) {
    parent.appendChild(el("h4", null, title));
    parent.appendChild(el("pre", null, text === "" ? "(empty)" : text));
  }

  function body(i) {
    var box = el("div", "rec-body");
    var dl = el("dl");
    field(dl, "task", T.task[D.task[i]]);
    field(dl, "model", T.model[D.model[i]]);
    field(dl, "budget", T.budget[D.budget[i]]);
    field(dl, "strategy", T.strategy[D.strategy[i]]);
    field(dl, "sample", D.sample_id[i] + "  (sample index " + D.sample_index[i] + ")");
    field(dl, "meta", T.meta[D.meta[i]]);
    field(dl, "parsed answer", D.answer[i] === null ? "(none parsed)" : D.answer[i]);
    field(dl, "target", D.target[i]);
    field(dl, "score", D.score[i]);
    field(dl, "tokens", "prompt " + D.prompt_tokens[i] + " \u00b7 reasoning " +
          D.reasoning_tokens[i] + " \u00b7 answer " + D.answer_tokens[i]);
    field(dl, "latency", D.latency_s[i] + " s");
    field(dl, "finish reason", T.finish_reason[D.finish_reason[i]]);
    field(dl, "error", D.error[i]);
    box.appendChild(dl);
    textBlock(box, "Prompt", T.prompt[D.prompt[i]]);
    var reasoning = el("details", "reasoning");
    reasoning.appendChild(el("summary", null, "Reasoning (" + D.reasoning_tokens[i] + " tokens)"));
    reasoning.appendChild(el("pre", null, D.reasoning[i] === "" ? "(empty)" : D.reasoning[i]));
    box.appendChild(reasoning);
    textBlock(box, "Response", D.response[i]);
    return box;
  }

  function item(i) {
    var st = status(i);
    var li = el("li", "st-" + st);
    li.setAttribute("data-row", String(i));
    var det = el("details");
    var sum = el("summary");
    var mark = {correct: "\u2713 correct", wrong: "\u2717 wrong", unparsed: "\u2717 unparsed",
                error: "! error", scored: "scored", unscored: "unscored"}[st] || st;
    sum.appendChild(el("span", "badge", mark));
    var bits = [T.task[D.task[i]], D.sample_id[i], T.budget[D.budget[i]], "#" + D.sample_index[i],
                "answer: " + (D.answer[i] === null ? "\u2014" : D.answer[i]),
                "target: " + D.target[i], D.reasoning_tokens[i] + " reasoning tokens"];
    var strategy = T.strategy[D.strategy[i]];
    if (strategy && strategy !== "single") { bits.splice(3, 0, strategy); }
    if (T.model.length > 1) { bits.splice(1, 0, T.model[D.model[i]]); }
    if (st === "scored") { bits.push("error " + D.score[i]); }
    sum.appendChild(document.createTextNode(bits.join(" \u00b7 ")));
    if (D.flags[i] & 1) { sum.appendChild(el("span", "flag", "cut in thinking")); }
    if (D.flags[i] & 2) { sum.appendChild(el("span", "flag", "empty answer")); }
    if (D.flags[i] & 4) { sum.appendChild(el("span", "flag", "over budget")); }
    if (data.shortened > 0 && !(D.flags[i] & 8)) {
      sum.appendChild(el("span", "flag cut", "text shortened"));
    }
    det.appendChild(sum);
    // The body is built on first open: a page of 50 collapsed rows stays cheap.
    det.addEventListener("toggle", function () {
      if (det.open && det.childNodes.length === 1) { det.appendChild(body(i)); }
    });
    li.appendChild(det);
    return li;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(matches.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    var frag = document.createDocumentFragment();
    var end = Math.min(matches.length, (page + 1) * PAGE);
    for (var k = page * PAGE; k < end; k++) { frag.appendChild(item(matches[k])); }
    list.textContent = "";
    list.appendChild(frag);
    count.textContent = matches.length.toLocaleString() + " of " + total.toLocaleString() +
      " records match";
    pageLabel.textContent = "page " + (page + 1) + " of " + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  var timer = null;
  fText.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 250);
  });
  [fTask, fModel, fBudget, fStatus, fFlag, fSort].forEach(function (s) {
    s.addEventListener("change", applyFilters);
  });
  prev.addEventListener("click", function () { page -= 1; render(); });
  next.addEventListener("click", function () { page += 1; render(); });
  applyFilters();
  // How long the page took to become usable, for the benchmark (ms since navigation).
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-ready", "1");
})();
