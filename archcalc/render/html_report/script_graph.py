"""The page's graph: a layered drawing of the spec's series-parallel structure.

A sequence stacks its children; a branch puts its paths side by side and joins them
at its merge node below; a named container is a dashed frame whose label collapses it
into one node. Laid out here, in the browser, because collapsing a group changes the
layout; the work is one pass over the visible nodes.
"""

GRAPH_SCRIPT = r"""
const NODE_W = 176, NODE_H = 24, GAP_Y = 14, GAP_X = 16, PAD = 8, LABEL_H = 16, ID_W = 18;
const VISIBLE_LIMIT = 300;  // nodes drawn at first; deeper groups start collapsed

function indexGroups(m) {
  // path -> {first, last, depth, size}; a branch's own paths are not groups
  const groups = {};
  function walk(node, isBranchPath) {
    if (typeof node === "number") return [node, node];
    let span = null;
    const kids = node.c || node.b;
    for (const kid of kids) {
      const s = walk(kid, !!node.b);
      if (s) span = span ? [span[0], s[1]] : s;
    }
    if (node.b) span = span ? [span[0], node.m] : [node.m, node.m];
    if (node.p && !isBranchPath && span) {
      groups[node.p] = {first: span[0], last: span[1], depth: node.p.split(".").length,
                        branch: !!node.b};
    }
    return span;
  }
  walk(m.tree, false);
  return groups;
}

function visibleCount(node, depth, groups) {
  if (typeof node === "number") return 1;
  const g = node.p && groups[node.p];
  if (g && g.depth > depth) return 1;
  let n = node.b ? 1 : 0;
  for (const kid of (node.c || node.b)) n += visibleCount(kid, depth, groups);
  return n;
}

function defaultCollapsed(m, groups) {
  let deepest = 0;
  for (const p in groups) deepest = Math.max(deepest, groups[p].depth);
  let depth = deepest;
  while (depth > 0 && visibleCount(m.tree, depth, groups) > VISIBLE_LIMIT) depth -= 1;
  const set = new Set();
  for (const p in groups) if (groups[p].depth > depth) set.add(p);
  return set;
}

function measure(node, st, isBranchPath) {
  if (typeof node === "number") return {kind: "row", row: node, w: NODE_W, h: NODE_H};
  const g = !isBranchPath && node.p ? st.groups[node.p] : null;
  if (g && st.collapsed.has(node.p)) {
    return {kind: "group", path: node.p, w: NODE_W + 24, h: NODE_H + 8};
  }
  const frame = g ? PAD : 0, label = g ? LABEL_H : 0;
  if (node.c) {
    const kids = node.c.map(k => measure(k, st, false));
    if (!kids.length) return {kind: "seq", kids, w: ID_W, h: 0, frame: 0, label: 0};
    const w = Math.max(...kids.map(k => k.w)) + 2 * frame;
    const h = kids.reduce((s, k) => s + k.h, 0) + GAP_Y * (kids.length - 1) + 2 * frame + label;
    return {kind: "seq", path: g ? node.p : null, kids, w, h, frame, label};
  }
  const paths = node.b.map(k => measure(k, st, true));
  const inner = paths.reduce((s, k) => s + k.w, 0) + GAP_X * (paths.length - 1);
  const pathsH = Math.max(...paths.map(k => k.h));
  return {kind: "branch", path: g ? node.p : null, paths, m: node.m, pathsH, frame, label,
          w: Math.max(inner, NODE_W) + 2 * frame,
          h: label + frame + pathsH + GAP_Y + NODE_H + frame};
}

function curve(a, b) {
  if (Math.abs(a[0] - b[0]) < 0.5) return `M${a[0]},${a[1]}L${b[0]},${b[1]}`;
  const my = (a[1] + b[1]) / 2;
  return `M${a[0]},${a[1]}C${a[0]},${my} ${b[0]},${my} ${b[0]},${b[1]}`;
}

function place(b, x, y, out, within) {
  // draws b with its top-left at (x, y) into out {nodes, frames, edges}; returns its
  // entry points (top) and exit point (bottom)
  if (b.kind === "row" || b.kind === "group") {
    out.nodes.push({b, x, y, within});
    return {ins: [[x + b.w / 2, y]], out: [x + b.w / 2, y + b.h]};
  }
  if (b.frame) out.frames.push({b, x, y});
  if (b.path) within = b.path;
  const mid = x + b.w / 2, top = y + b.frame + b.label;
  if (b.kind === "seq") {
    if (!b.kids.length) return {ins: [[mid, y]], out: [mid, y]};
    let cy = top, first = null, prev = null;
    for (const k of b.kids) {
      const r = place(k, mid - k.w / 2, cy, out, within);
      if (prev) for (const p of r.ins) out.edges.push(curve(prev.out, p));
      else first = r;
      prev = r;
      cy += k.h + GAP_Y;
    }
    return {ins: first.ins, out: prev.out};
  }
  const inner = b.paths.reduce((s, k) => s + k.w, 0) + GAP_X * (b.paths.length - 1);
  let px = mid - inner / 2;
  const bottom = top + b.pathsH, mergeY = bottom + GAP_Y, ins = [];
  out.nodes.push({b: {kind: "row", row: b.m, w: NODE_W, h: NODE_H}, x: mid - NODE_W / 2,
                  y: mergeY, within});
  for (const p of b.paths) {
    const r = place(p, px, top, out, within);
    ins.push(...r.ins);
    const down = r.out[1] < bottom ? `M${r.out[0]},${r.out[1]}L${r.out[0]},${bottom}` : "";
    out.edges.push(down + curve([r.out[0], bottom], [mid, mergeY]));
    px += p.w + GAP_X;
  }
  return {ins, out: [mid, mergeY + NODE_H]};
}

function layoutGraph(m, st) {
  const box = measure(m.tree, st, false);
  const out = {nodes: [], frames: [], edges: []};
  const width = Math.max(box.w, NODE_W) + 2 * PAD;
  const left = PAD + (width - 2 * PAD - NODE_W) / 2;
  out.nodes.push({b: {kind: "row", row: 0, w: NODE_W, h: NODE_H}, x: left, y: PAD});
  const r = place(box, (width - box.w) / 2, PAD + NODE_H + GAP_Y, out, null);
  for (const p of r.ins) out.edges.push(curve([width / 2, PAD + NODE_H], p));
  out.width = width;
  out.height = PAD + NODE_H + GAP_Y + box.h + PAD;
  return out;
}
"""
