"""The page's charts, drawn as inline SVG: per-layer bars (activation memory, params,
MACs; one path per kind colour, as `archcalc plot` colours them), cumulative memory
(forward activations and bytes saved for backward), and the comparison's totals.

Uses ``svg``, ``html``, ``clip`` and ``st`` from script_page.py (one script on the page).
"""

CHARTS_SCRIPT = r"""
function barChart(title, values, maxText, pick) {
  // one path per bar colour (the kinds' colours of `archcalc plot`)
  const W = 960, H = 130, top = 18, n = values.length, bw = W / n, m = st.model;
  const largest = Math.max(...values), total = values.reduce((s, v) => s + v, 0);
  const e = svg("svg", {"class": "chart", width: W, height: H + top + 4,
                        viewBox: `0 0 ${W} ${H + top + 4}`});
  const paths = {};
  const w = Math.max(bw * 0.85, 0.3).toFixed(2);
  values.forEach((v, i) => {
    if (v > 0 && largest > 0) {
      const h = Math.max(0.5, H * v / largest).toFixed(2);
      const colour = m.kind_colours[m.kinds[i]];
      const bar = `M${(i * bw).toFixed(2)},${top + H}v-${h}h${w}v${h}z`;
      paths[colour] = (paths[colour] || "") + bar;
    }
  });
  for (const colour in paths) e.appendChild(svg("path", {fill: colour, d: paths[colour]}));
  const at = values.indexOf(largest);
  const share = total ? Math.round(100 * largest / total) : 0;
  e.appendChild(svg("text", {x: 4, y: 12},
    `${title}: largest ${m.rows[at][0]}, ${share}% of the total (axis top ${maxText})`));
  e.addEventListener("click", ev => {
    const r = e.getBoundingClientRect();
    pick(Math.min(n - 1, Math.floor((ev.clientX - r.left) / r.width * n)));
  });
  return e;
}

function kindLegend() {
  const p = html("p", "bar colours: ", "caption");
  const m = st.model;
  for (const kind in m.kind_colours) {
    const swatch = html("span", "\u25a0 ");
    swatch.style.color = m.kind_colours[kind];  // CSSOM, allowed by the page's policy
    p.append(swatch, kind + "  ");
  }
  return p;
}

function lineChart(title, series, labels) {
  const W = 960, H = 130, top = 18, n = series[0].length;
  const largest = Math.max(...series.map(s => s[s.length - 1]), 1);
  const e = svg("svg", {"class": "chart", width: W, height: H + top + 4,
                        viewBox: `0 0 ${W} ${H + top + 4}`});
  series.forEach((s, k) => {
    let d = "";
    s.forEach((v, i) => { d += (i ? "L" : "M") + (i * W / Math.max(1, n - 1)).toFixed(1) +
                                "," + (top + H - H * v / largest).toFixed(1); });
    e.appendChild(svg("path", {"class": "line" + (k + 1), d}));
  });
  e.appendChild(svg("text", {x: 4, y: 12}, `${title}: ${labels}`));
  return e;
}

function cumulative(values) {
  let s = 0;
  return values.map(v => (s += v));
}

function drawCharts() {
  const m = st.model, box = document.getElementById("charts");
  const pick = r => select(r, true);
  box.replaceChildren(
    kindLegend(),
    barChart("activation memory", m.values.memory, m.chart_labels.memory, pick),
    barChart("params", m.values.params, m.chart_labels.params, pick),
    barChart("MACs", m.values.macs, m.chart_labels.macs, pick),
    lineChart("cumulative memory", [cumulative(m.values.memory), cumulative(m.values.saved)],
              `forward activations (blue) reach ${m.chart_labels.cum_memory}, ` +
              `saved for backward (orange) ${m.chart_labels.cum_saved}`));
}

function drawCompare() {
  const c = DATA.compare, box = document.getElementById("compare");
  if (!c) { box.hidden = true; return; }
  box.appendChild(html("h2", "models side by side"));
  const t = html("table", null, "layers");
  const head = html("tr");
  c.headers.forEach((h, i) => head.appendChild(html("th", h, i >= 2 ? "num" : "")));
  t.appendChild(html("thead")).appendChild(head);
  const body = t.appendChild(html("tbody"));
  for (const row of c.rows) {
    const tr = html("tr");
    row.forEach((v, i) => tr.appendChild(html("td", v, i >= 2 ? "num" : "")));
    body.appendChild(tr);
  }
  box.appendChild(t);
  box.appendChild(html("p", c.caption, "caption"));
  for (const s of c.sentences) box.appendChild(html("p", s));
  const panels = html("div");
  for (const label in c.bars) {
    const bars = c.bars[label], W = 190, H = 120, n = bars.values.length;
    const largest = Math.max(...bars.values, 1);
    const e = svg("svg", {"class": "chart small", width: W, height: H + 70});
    e.appendChild(svg("text", {x: 4, y: 12}, label));
    bars.values.forEach((v, i) => {
      const bw = (W - 10) / n, h = H * v / largest, x = 5 + i * bw;
      e.appendChild(svg("rect", {x: x + 2, y: 16 + H - h, width: bw - 4, height: h,
                                 fill: `hsl(${(i * 67) % 360}, 55%, 55%)`}));
      e.appendChild(svg("text", {x: x + 2, y: 30 + H}, bars.texts[i]));
      e.appendChild(svg("text", {x: x + 2, y: 44 + H + 12 * (i % 2)}, clip(c.names[i], 14)));
    });
    panels.appendChild(e);
  }
  box.appendChild(panels);
}
"""
