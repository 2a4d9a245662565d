"""`archcalc report`: one HTML page that works offline.

Oracles: `archcalc table --format json` and `archcalc explain --format json` (the page's
cells and derivations must say what they say), the memory plan (the saved bytes credited
to nodes add up to its total), the spec's own structure (every row is one graph node),
and, in headless Chromium, the rendered page itself: nodes drawn, a table row's text,
a real mouse click on a node, no resource fetched, no injected script run.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc import load_spec
from archcalc.analysis.analyze import analyze
from archcalc.analysis.memory import plan
from archcalc.render.html_report import ReportOptions, report_html
from archcalc.render.html_report.document import document, embedded_json
from archcalc.render.html_report.model_data import graph_tree
from archcalc.render.html_report.saved_by_node import saved_bytes_by_node

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from chromium_page import BrowserUnavailable, Page  # noqa: E402

DATA_BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>',
                        re.DOTALL)
HOSTILE = """archcalc: 1
name: "</script><script>window.pwned=1</script>"
title: "<img src=x onerror=window.pwned=2> & \\u2028 <!-- title"
source: "<b>bold</b> https://example.com/x.png <svg onload=window.pwned=3>"
input: [1, 32, 32]
layers:
  - conv: {out: 6, kernel: 5, name: c1}
  - conv: {out: 6, kernel: 5, name: c2}
  - flatten
  - fc: {out: 10, name: out}
"""


def page_data(text: str) -> dict:
    return json.loads(DATA_BLOCK.search(text).group(1))


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def json_of(run_cli, *args):
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# -- the document, without a browser ---------------------------------------------------

def test_page_fetches_nothing_and_allows_only_its_own_script_and_style():
    text = report_html([load_spec("resnet18")])
    outside_data = DATA_BLOCK.sub("", text)
    for fetching in ("http:", "https:", "src=", "href=", "url(", "@import", "<link",
                     "fetch(", "XMLHttpRequest", "import(", "<iframe", "<img"):
        assert fetching not in outside_data, fetching
    policy = re.search(r'Content-Security-Policy" content="([^"]*)"', text).group(1)
    assert "default-src 'none'" in policy and "unsafe" not in policy
    assert len(re.findall(r"<script", text)) == 2  # the data and the one script


@pytest.mark.parametrize("name,args", [("vgg16", ()), ("resnet50", ("--batch", "2")),
                                       ("densenet121", ("--dtype", "fp16"))])
def test_table_cells_say_what_table_json_says(run_cli, tmp_path, name, args):
    out = tmp_path / "page.html"
    assert run_cli("report", name, "--out", out, *args).exit_code == 0
    data = page_data(out.read_text())["models"][0]
    table = json_of(run_cli, "table", name, *args)
    batch = table["batch"]
    assert len(data["rows"]) == len(table["layers"])
    for cells, layer in zip(data["rows"], table["layers"]):
        path, kind, shape, activations, memory, params, macs, rf = cells
        assert (path, kind) == (layer["name"], layer["kind"])
        assert shape == "x".join(map(str, layer["output_shape"]))
        assert number(activations) == layer["activations"] * batch
        assert number(params) == layer["params"]
        assert number(macs) == layer["macs"]
        whole, unit = memory.split()
        scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}[unit]
        assert abs(float(whole) * scale - layer["activation_bytes"]) <= scale * 0.005
        field = layer["receptive_field"]
        assert rf.split(" /")[0] == str(field["size"][0])
        assert rf.split(" /")[1] == str(field["stride"][0])
    footer = data["footer"]
    assert number(footer[5]) == table["totals"]["params"]
    assert number(footer[6]) == table["totals"]["macs"]


def test_derivations_are_explains_lines(run_cli):
    data = page_data(report_html([load_spec("alexnet")]))["models"][0]
    explained = {each["name"]: each for each in json_of(run_cli, "explain", "alexnet")}
    assert data["derivations"][0] is None  # the input row has none
    for cells, lines in zip(data["rows"][1:], data["derivations"][1:]):
        each = explained[cells[0]]
        text = "\n".join(lines)
        assert lines[0] == f"{each['name']} ({each['kind']})"
        for value in [*each["output"].values(), each["params"], each["activations"],
                      each["macs"]]:
            assert value in text
    conv1 = data["derivations"][1]
    assert "  height      (227 - 11)/4 + 1 = 55" in conv1
    assert "  params      11*11*3*96 + 96 = 34,944   [11*11*3*96 = 34,848 + 96]" in conv1


def test_symbolic_input_gives_each_node_its_formulas(run_cli):
    spec = load_spec("resnet18")
    from archcalc.analysis.shape_text import parse_symbolic_shape

    page = report_html([spec], ReportOptions(symbolic_shape=parse_symbolic_shape("3xHxW")))
    data = page_data(page)["models"][0]
    symbolic = json_of(run_cli, "table", "resnet18", "--input", "3xHxW")
    assert data["symbolic_input"] == "3 x H x W"
    assert data["rows"][1][2] == "64x112x112"  # the numbers stay at the spec's input
    for formulas, layer in zip(data["formulas"], symbolic["layers"]):
        assert formulas["MACs"] == layer["macs"]["expr"]
        assert formulas["activations"] == layer["activations"]["expr"]
        assert list(formulas.values())[:len(layer["output_shape"])] == layer["output_shape"]


def test_every_row_is_one_graph_node_and_saved_bytes_add_up_to_the_plan():
    """For every bundled spec, at batch 1 and 2 (some tensors are kept at batch 1 only)."""
    from archcalc.spec.catalog import bundled

    for name in sorted(bundled()):
        spec = load_spec(name)
        for batch in (1, 2):
            report = analyze(spec, batch=batch, check_expect=False)
            index = {row.path: n for n, row in enumerate(report.rows)}
            seen: list[int] = []
            tree_rows(graph_tree(spec.root, index), seen)
            # each row once, in row order: a group's rows are one range, which the page sums
            assert seen == list(range(1, len(report.rows))), name  # 0: the input
            saved = saved_bytes_by_node(spec, report)
            assert sum(saved.values()) == \
                plan(spec, batch=batch, report=report).saved_activation_bytes, (name, batch)


def tree_rows(node, seen: list) -> None:
    """The row numbers the page's graph draws, in drawing order."""
    if isinstance(node, int):
        seen.append(node)
        return
    for child in node.get("c", node.get("b", [])):
        tree_rows(child, seen)
    if "m" in node:
        seen.append(node["m"])


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_text_stays_data(text):
    """Whatever a spec's name or title holds, the data block cannot close its element,
    and it reads back as the same text."""
    page = document(text, {"models": [{"name": text, "title": text}], "compare": None,
                           "cost": "macs"})
    assert len(re.findall("<script", page, re.IGNORECASE)) == 2
    assert len(re.findall("</script", page, re.IGNORECASE)) == 2
    assert page_data(page)["models"][0]["name"] == text
    assert "<" not in embedded_json(text) and "&" not in embedded_json(text)


def test_hostile_spec_text_is_escaped(run_cli, tmp_path):
    spec = tmp_path / "hostile.yaml"
    spec.write_text(HOSTILE)
    out = tmp_path / "hostile.html"
    assert run_cli("report", spec, "--out", out).exit_code == 0
    text = out.read_text()
    assert "window.pwned" not in DATA_BLOCK.sub("", text).split("</title>", 1)[1]
    assert "<title>&lt;/script&gt;&lt;script&gt;" in text
    assert page_data(text)["models"][0]["name"] == "</script><script>window.pwned=1</script>"


def test_no_silent_overwrite_and_clear_errors(run_cli, tmp_path):
    out = tmp_path / "page.html"
    out.write_text("mine")
    result = run_cli("report", "lenet5", "--out", out)
    assert result.exit_code == 2 and "already exists" in result.output
    assert out.read_text() == "mine"
    assert run_cli("report", "lenet5", "--out", out, "--overwrite").exit_code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary left
    assert run_cli("report", "lenet5", "--out", tmp_path / "page.png").exit_code == 2
    assert run_cli("report", "lenet5", "--out", tmp_path / "a.html",
                   "--assume", "H=W").exit_code == 2
    assert run_cli("report", "alexnet", "--out", tmp_path / "b.html",
                   "--input", "3x32x32").exit_code == 2
    assert not (tmp_path / "a.html").exists() and not (tmp_path / "b.html").exists()


def test_several_models_get_the_side_by_side_part(run_cli):
    data = page_data(report_html([load_spec("alexnet"), load_spec("googlenet")]))
    compare = json_of(run_cli, "compare", "alexnet", "googlenet")
    assert [m["name"] for m in data["models"]] == ["alexnet", "googlenet"]
    assert data["compare"]["sentences"] == [compare["models"][1]["summary"]]
    assert data["compare"]["bars"]["params"]["values"] == [m["params"]
                                                          for m in compare["models"]]


# -- the page in headless Chromium -----------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    try:
        with Page() as page:
            yield page
    except BrowserUnavailable as exc:
        pytest.skip(f"headless Chromium cannot run here: {exc}")


NODES = "document.querySelectorAll('#graph g.node').length"


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "densenet121"])
def test_rendered_page(browser, run_cli, tmp_path, name):
    out = tmp_path / f"{name}.html"
    assert run_cli("report", name, "--out", out).exit_code == 0
    browser.open(out)
    assert browser.evaluate("document.body.dataset.ready") == "1"  # the script ran
    assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
    table = json_of(run_cli, "table", name)
    assert browser.evaluate(NODES) == len(table["layers"])  # every row is drawn
    # a table row as rendered, against table --format json
    row = max(range(len(table["layers"])), key=lambda r: table["layers"][r]["macs"])
    cells = browser.evaluate(f"Array.from(document.querySelectorAll("
                             f"'#layers tbody tr[data-row=\"{row}\"] td'), c => c.textContent)")
    layer = table["layers"][row]
    assert cells[0] == layer["name"]
    assert [number(cells[i]) for i in (3, 5, 6)] == [layer["activations"], layer["params"],
                                                    layer["macs"]]
    # a real click on that node shows its derivation as explain writes it
    browser.click_selector(f'#graph g.node[data-row="{row}"]')
    shown = browser.evaluate("document.querySelector('#details pre.derivation').textContent")
    explained = run_cli("explain", name, "--layer", f"^{re.escape(layer['name'])}$")
    assert explained.exit_code == 0
    assert shown == explained.output.strip("\n")  # explain's own text, line for line
    assert shown.splitlines()[0] == f"{layer['name']} ({layer['kind']})"
    browser.screenshot(tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_groups_collapse_and_the_table_sorts_and_filters(browser, run_cli, tmp_path):
    out = tmp_path / "resnet50.html"
    assert run_cli("report", "resnet50", "--out", out).exit_code == 0
    browser.open(out)
    rows = len(json_of(run_cli, "table", "resnet50")["layers"])
    in_layer1 = sum(1 for layer in json_of(run_cli, "table", "resnet50")["layers"]
                    if layer["name"].startswith("layer1."))
    browser.click_selector('#graph text.toggle[data-group="layer1"]')
    assert browser.evaluate(NODES) == rows - in_layer1 + 1
    browser.click_selector('#graph g.node.group[data-group="layer1"]')
    assert browser.evaluate(NODES) == rows
    browser.evaluate("(() => { const f = document.getElementById('filter');"
                     " f.value = 'layer4.2'; f.dispatchEvent(new Event('input')); })()")
    shown = browser.evaluate("Array.from(document.querySelectorAll('#layers tbody tr'))"
                             ".filter(r => !r.hidden).map(r => r.cells[0].textContent)")
    assert shown and all(name.startswith("layer4.2") for name in shown)
    browser.click_selector('#layers th[data-col="6"]')  # MACs, largest first
    first = browser.evaluate("document.querySelector('#layers tbody tr:not([hidden])')"
                             ".cells[6].textContent")
    assert number(first) == max(number(c) for c in browser.evaluate(
        "Array.from(document.querySelectorAll('#layers tbody tr:not([hidden])'),"
        " r => r.cells[6].textContent)"))


def test_charts_show_the_lectures_point(browser, run_cli, tmp_path):
    """VGG16, as `archcalc plot` shows it: the first convs hold the most memory
    (conv1.0: 21%), fc6 holds 74% of the parameters; a params bar for each of the 13
    convs and 3 fc layers, in their kinds' two colours."""
    out = tmp_path / "vgg16.html"
    assert run_cli("report", "vgg16", "--out", out).exit_code == 0
    browser.open(out)
    titles = browser.evaluate("Array.from(document.querySelectorAll('#charts svg text'),"
                              " t => t.textContent)")
    assert titles[0].startswith("activation memory: largest conv1.0, 21% of the total")
    assert titles[1].startswith("params: largest fc6, 74% of the total")
    paths = browser.evaluate("Array.from(Array.from(document.querySelectorAll('#charts svg'))"
                             "[1].querySelectorAll('path'), p => p.getAttribute('d'))")
    assert len(paths) == 2 and sum(d.count("M") for d in paths) == 13 + 3
    assert "forward activations (blue) reach 60.95 MB" in titles[3]


def test_hostile_text_runs_no_script_in_the_browser(browser, run_cli, tmp_path):
    spec = tmp_path / "hostile.yaml"
    spec.write_text(HOSTILE)
    out = tmp_path / "hostile.html"
    assert run_cli("report", spec, "--out", out).exit_code == 0
    browser.open(out)
    assert browser.evaluate("document.body.dataset.ready") == "1"
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
    assert "https://example.com/x.png" in browser.evaluate(
        "document.getElementById('model-source').textContent")  # shown, not fetched
    assert browser.evaluate("document.getElementById('model-title').textContent") \
        .startswith("</script><script>window.pwned=1</script>")


def test_deepest_zoo_spec_renders_quickly(browser, run_cli, tmp_path):
    """preact_resnet1001 (1,348 rows): the page is ready well under a second after the
    navigation starts (parsing, layout, table and charts), and opening every group
    draws all rows."""
    out = tmp_path / "deep.html"
    assert run_cli("report", "preact_resnet1001", "--out", out).exit_code == 0
    browser.open(out)
    assert browser.evaluate("document.body.dataset.ready") == "1"
    assert browser.evaluate("window.reportRenderMs") < 1000
    assert browser.evaluate("document.querySelectorAll('#layers tbody tr').length") == 1348
    browser.click_selector("#expand-all")
    assert browser.evaluate(NODES) == 1348


def test_report_imports_neither_torch_nor_sympy_nor_matplotlib(tmp_path):
    """The page is drawn by its own script: generating it stays on the light path."""
    import subprocess

    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "archcalc", "report",
                             "vgg16", "--out", str(tmp_path / "page.html")],
                            capture_output=True, text=True, check=True)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "archcalc" in names and "yaml" in names  # the trace itself works
    assert not names & {"torch", "torchvision", "sympy", "fvcore", "numpy", "matplotlib"}
