"""The page's script apart from the graph layout and the charts: drawing the graph, the
sortable and filterable table, the details of a selected node, switching models.

Every text from the spec (names, titles) reaches the page through ``textContent`` or
``setAttribute``, never as markup, so a hostile node name stays text.
"""

PAGE_SCRIPT = r"""
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const SVGNS = document.getElementById("graph").namespaceURI;
const st = {model: null, groups: null, collapsed: null, cost: DATA.cost, selected: null,
            prefix: {}, sort: null};

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function html(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
// mirrors render/units.py: grouped() and size_bytes() (MB = 10^6 bytes)
function grouped(v) { return Math.round(v).toLocaleString("en-US"); }
function sizeBytes(v) {
  for (const [s, u] of [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "KB"]]) {
    if (Math.abs(v) >= s) return (v / s).toFixed(2) + " " + u;
  }
  return v + " B";
}
function costText(key, v) {
  return key === "memory" || key === "saved" ? sizeBytes(v) : grouped(v);
}

function sumOf(key, first, last) {
  const p = st.prefix[key];
  return p[last + 1] - p[first];
}
function shortName(path, within) {
  if (within && path.startsWith(within + ".")) return path.slice(within.length + 1);
  return path;
}
function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }

function fill(value, largest) {
  const t = value > 0 && largest > 0 ? Math.sqrt(value / largest) : 0;
  return [`hsl(212, ${30 + 50 * t}%, ${97 - 62 * t}%)`, t > 0.62 ? "#fff" : "#1d2733"];
}

function drawGraph() {
  const m = st.model, g = document.getElementById("graph");
  const lay = layoutGraph(m, st);
  g.replaceChildren();
  g.setAttribute("width", lay.width);
  g.setAttribute("height", lay.height);
  const values = m.values[st.cost];
  const valueOf = n => n.b.kind === "row" ? values[n.b.row]
    : sumOf(st.cost, st.groups[n.b.path].first, st.groups[n.b.path].last);
  const largest = Math.max(0, ...lay.nodes.map(valueOf));
  for (const f of lay.frames) {
    const e = svg("g", {"class": "frame"});
    e.appendChild(svg("rect", {x: f.x, y: f.y, width: f.b.w, height: f.b.h, rx: 4}));
    const t = svg("text", {x: f.x + 4, y: f.y + 12, "class": "toggle"},
                  "\u25be " + clip(f.b.path, 60));
    t.dataset.group = f.b.path;
    e.appendChild(t);
    g.appendChild(e);
  }
  g.appendChild(svg("path", {"class": "edges", d: lay.edges.join("")}));
  for (const n of lay.nodes) {
    const isRow = n.b.kind === "row", value = valueOf(n);
    const [bg, fg] = fill(value, largest);
    const e = svg("g", {"class": isRow ? "node" : "node group",
                        transform: `translate(${n.x},${n.y})`});
    if (isRow) e.dataset.row = n.b.row; else e.dataset.group = n.b.path;
    e.appendChild(svg("rect", {width: n.b.w, height: n.b.h, rx: 3, fill: bg}));
    let label;
    if (isRow) {
      const path = m.rows[n.b.row][0];
      label = clip(shortName(path, n.within) + " \u00b7 " + m.kinds[n.b.row], 30);
      e.appendChild(svg("title", {}, path + ": " + costText(st.cost, value)));
    } else {
      const gr = st.groups[n.b.path];
      label = "\u25b8 " + clip(n.b.path, 22) + " (" + (gr.last - gr.first + 1) + ")";
      e.appendChild(svg("title", {}, n.b.path + ": " + (gr.last - gr.first + 1) +
                                     " rows, " + costText(st.cost, value)));
    }
    e.appendChild(svg("text", {x: 6, y: n.b.h / 2 + 4, fill: fg}, label));
    if (isRow && n.b.row === st.selected) e.classList.add("selected");
    g.appendChild(e);
  }
  document.getElementById("shown").textContent =
    `${lay.nodes.length} nodes shown of ${m.rows.length}`;
}

function expandTo(row) {
  // open every collapsed group holding ``row``; true when something opened
  let opened = false;
  for (const p of Array.from(st.collapsed)) {
    const gr = st.groups[p];
    if (gr.first <= row && row <= gr.last) { st.collapsed.delete(p); opened = true; }
  }
  return opened;
}

function select(row, fromTable) {
  st.selected = row;
  if (expandTo(row)) drawGraph();
  for (const e of document.querySelectorAll(".selected")) e.classList.remove("selected");
  const node = document.querySelector(`#graph g.node[data-row="${row}"]`);
  if (node) {
    node.classList.add("selected");
    if (fromTable) node.scrollIntoView({block: "center", inline: "center"});
  }
  const tr = document.querySelector(`#layers tbody tr[data-row="${row}"]`);
  if (tr) {
    tr.classList.add("selected");
    if (!fromTable) tr.scrollIntoView({block: "nearest"});
  }
  showDetails(row);
}

function showDetails(row) {
  const m = st.model, box = document.getElementById("details");
  box.replaceChildren();
  box.appendChild(html("h2", m.rows[row][0] + " (" + m.kinds[row] + ")"));
  const t = html("table");
  m.headers.forEach((h, i) => {
    if (i < 2) return;
    const tr = html("tr");
    tr.append(html("td", h), html("td", m.rows[row][i]));
    t.appendChild(tr);
  });
  const tr = html("tr");
  tr.append(html("td", "saved for backward"), html("td", m.saved_texts[row]));
  t.appendChild(tr);
  box.appendChild(t);
  const lines = m.derivations[row];
  box.appendChild(html("h2", "derivation (archcalc explain)"));
  box.appendChild(html("pre", lines ? lines.join("\n") : "the network's input", "derivation"));
  if (m.formulas && m.formulas[row]) {
    box.appendChild(html("h2", "formulas at " + m.symbolic_input + " (per image)"));
    const f = m.formulas[row];
    box.appendChild(html("pre", Object.keys(f).map(k => k.padEnd(12) + f[k]).join("\n"),
                         "formula"));
  }
}

function showGroup(path) {
  const m = st.model, gr = st.groups[path], box = document.getElementById("details");
  box.replaceChildren();
  box.appendChild(html("h2", path + " (" + (gr.last - gr.first + 1) + " rows)"));
  const t = html("table");
  for (const key in m.costs) {
    const tr = html("tr");
    tr.append(html("td", m.costs[key]), html("td", costText(key, sumOf(key, gr.first, gr.last))));
    t.appendChild(tr);
  }
  box.appendChild(t);
}

function onGraphClick(ev) {
  const target = ev.target.closest("[data-row], [data-group]");
  if (!target) return;
  if (target.dataset.row !== undefined) { select(Number(target.dataset.row), false); return; }
  const path = target.dataset.group;
  if (st.collapsed.has(path)) st.collapsed.delete(path); else st.collapsed.add(path);
  drawGraph();
  showGroup(path);
}

function drawTable() {
  const m = st.model, table = document.getElementById("layers");
  const head = html("tr");
  m.headers.forEach((h, i) => {
    const th = html("th", h, i >= 3 ? "num" : "");
    th.dataset.col = i;
    head.appendChild(th);
  });
  table.tHead.replaceChildren(head);
  const body = document.createDocumentFragment();
  m.rows.forEach((cells, r) => {
    const tr = html("tr");
    tr.dataset.row = r;
    cells.forEach((c, i) => tr.appendChild(html("td", c, i >= 3 ? "num" : "")));
    body.appendChild(tr);
  });
  table.tBodies[0].replaceChildren(body);
  const foot = html("tr");
  m.footer.forEach((c, i) => foot.appendChild(html("td", c, i >= 3 ? "num" : "")));
  table.tFoot.replaceChildren(foot);
  st.sort = null;
  applyFilter();
}

const SORT_KEYS = [null, null, null, "activations", "memory", "params", "macs", "rf"];

function sortBy(col) {
  const m = st.model, key = SORT_KEYS[col];
  const same = st.sort && st.sort.col === col;
  const dir = same ? (st.sort.dir === -1 ? 1 : 0) : -1;  // descending, ascending, original
  st.sort = dir ? {col, dir} : null;
  const order = m.rows.map((_, r) => r);
  if (dir) {
    const v = key ? (r => m.values[key][r]) : (r => m.rows[r][col]);
    order.sort((a, b) => (v(a) < v(b) ? -1 : v(a) > v(b) ? 1 : a - b) * dir);
  }
  const body = document.getElementById("layers").tBodies[0];
  const byRow = {};
  for (const tr of body.rows) byRow[tr.dataset.row] = tr;
  const frag = document.createDocumentFragment();
  for (const r of order) frag.appendChild(byRow[r]);
  body.appendChild(frag);
  const arrow = dir === -1 ? " \u25bc" : " \u25b2";
  for (const th of document.querySelectorAll("#layers th")) {
    const sorted = st.sort && st.sort.col === Number(th.dataset.col);
    th.textContent = m.headers[th.dataset.col] + (sorted ? arrow : "");
  }
}

function applyFilter() {
  const q = document.getElementById("filter").value.trim().toLowerCase();
  let shown = 0;
  const m = st.model;
  for (const tr of document.getElementById("layers").tBodies[0].rows) {
    const hide = q !== "" && !m.rows[tr.dataset.row][0].toLowerCase().includes(q);
    tr.hidden = hide;
    if (!hide) shown += 1;
  }
  document.getElementById("matches").textContent = `${shown} of ${m.rows.length} rows`;
}

function showModel(index) {
  const m = DATA.models[index];
  st.model = m;
  st.selected = null;
  st.groups = indexGroups(m);
  st.collapsed = defaultCollapsed(m, st.groups);
  for (const key in m.values) {
    const p = [0];
    for (const v of m.values[key]) p.push(p[p.length - 1] + v);
    st.prefix[key] = p;
  }
  document.getElementById("model-title").textContent =
    m.name + (m.title ? ": " + m.title : "");
  document.getElementById("model-caption").textContent = m.caption +
    (m.symbolic_input ? ` Formulas (click a node) at ${m.symbolic_input}` +
     (m.assumptions.length ? ", assuming " + m.assumptions.join(", ") : "") +
     "; the numbers are at " + m.input + "." : "");
  document.getElementById("model-source").textContent = m.source ? "source: " + m.source : "";
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("active", Number(b.dataset.model) === index);
  }
  const select = document.getElementById("cost");
  if (!select.options.length) {
    for (const key in m.costs) select.appendChild(new Option(m.costs[key], key));
    select.value = st.cost;
  }
  drawGraph();
  drawTable();
  drawCharts();
  document.getElementById("details").replaceChildren(
    html("p", "Click a node or a table row for its derivation; " +
              "click a group to open or close it."));
}

function start() {
  const nav = document.getElementById("models");
  if (DATA.models.length > 1) {
    DATA.models.forEach((m, i) => {
      const b = html("button", m.name);
      b.dataset.model = i;
      b.addEventListener("click", () => showModel(i));
      nav.appendChild(b);
    });
  }
  document.getElementById("graph").addEventListener("click", onGraphClick);
  document.getElementById("cost").addEventListener("change", ev => {
    st.cost = ev.target.value; drawGraph();
  });
  document.getElementById("expand-all").addEventListener("click", () => {
    st.collapsed.clear(); drawGraph();
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    st.collapsed = new Set(Object.keys(st.groups)); drawGraph();
  });
  document.getElementById("filter").addEventListener("input", applyFilter);
  document.getElementById("layers").tHead.addEventListener("click", ev => {
    const th = ev.target.closest("th");
    if (th) sortBy(Number(th.dataset.col));
  });
  document.getElementById("layers").tBodies[0].addEventListener("click", ev => {
    const tr = ev.target.closest("tr");
    if (tr) select(Number(tr.dataset.row), true);
  });
  drawCompare();
  showModel(0);
  window.reportRenderMs = performance.now();
  document.body.dataset.ready = "1";
}

start();
"""
