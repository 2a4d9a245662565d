"""The report's style sheet, inlined into the page (no file or network is fetched)."""

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2733; background: #fafbfc; }
header { padding: 10px 18px; background: #1f3a5f; color: #fff; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header p { margin: 2px 0; font-size: 12px; opacity: 0.9; }
section { padding: 8px 18px; }
h2 { font-size: 15px; margin: 10px 0 6px; }
nav button, .controls button, .controls select, .controls input {
  font: inherit; font-size: 12px; margin-right: 6px; padding: 2px 8px; }
nav button.active { background: #1f3a5f; color: #fff; border: 1px solid #1f3a5f; }
.controls { margin: 4px 0 8px; font-size: 12px; }
.split { display: flex; gap: 14px; align-items: flex-start; }
#graph-box { flex: 1 1 auto; height: 70vh; overflow: auto; border: 1px solid #d0d7de;
             background: #fff; }
#details { flex: 0 0 430px; max-height: 70vh; overflow: auto; border: 1px solid #d0d7de;
           background: #fff; padding: 8px 10px; font-size: 12px; }
#details pre, pre.derivation { font: 12px/1.35 ui-monospace, Menlo, Consolas, monospace;
  white-space: pre-wrap; margin: 6px 0; background: #f3f5f7; padding: 6px; }
#details table td { padding: 1px 8px 1px 0; }
svg text { font: 11px system-ui, sans-serif; pointer-events: none; }
.node rect { stroke: #4a5a6a; stroke-width: 1; cursor: pointer; }
.node.group rect { stroke-width: 2.5; stroke-dasharray: 6 2; }
.node.selected rect { stroke: #d1242f; stroke-width: 3; }
.frame rect { fill: none; stroke: #9aa7b4; stroke-dasharray: 3 3; }
.frame text.toggle { pointer-events: all; cursor: pointer; fill: #3a5a7a; }
.edges { fill: none; stroke: #8795a1; stroke-width: 1.2; }
table.layers { border-collapse: collapse; font-size: 12px; background: #fff; }
table.layers th, table.layers td { border-bottom: 1px solid #e3e7eb; padding: 2px 8px;
  white-space: nowrap; }
table.layers th { cursor: pointer; background: #eef1f4; position: sticky; top: 0;
  text-align: left; }
table.layers td.num, table.layers th.num { text-align: right;
  font-variant-numeric: tabular-nums; }
table.layers tbody tr { cursor: pointer; }
table.layers tbody tr:hover { background: #f2f6fb; }
table.layers tr.selected { background: #ffe9a8; }
table.layers tfoot td { font-weight: 600; border-top: 2px solid #9aa7b4; }
#table-box { max-height: 60vh; overflow: auto; border: 1px solid #d0d7de; }
.chart { display: block; margin: 4px 0 10px; background: #fff; border: 1px solid #e3e7eb; }
.chart.small { display: inline-block; margin-right: 8px; }
.chart .line1 { fill: none; stroke: #4a7ab0; stroke-width: 1.5; }
.chart .line2 { fill: none; stroke: #d9822b; stroke-width: 1.5; }
.caption { font-size: 12px; color: #4a5a6a; }
"""
