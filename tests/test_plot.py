"""`archcalc plot`: one bar per table row in three panels, and the PNG it writes.

Oracles: the report's rows (one bar each, heights read back from the figure), the
lecture's VGG16 remarks ("Most memory is in early CONV", "Most params are in late
FC") and the image's pixel size read back from the file.
"""
from __future__ import annotations

import pytest

from archcalc import analyze, load_spec
from archcalc.render.plots import default_layer_size, layer_figure

matplotlib_image = pytest.importorskip("matplotlib.image")


def bars(figure):
    """Per panel: (row label, bar height) pairs, in x order."""
    labels = [tick.get_text() for tick in figure.axes[-1].get_xticklabels()]
    return [list(zip(labels, (bar.get_height() for bar in ax.patches)))
            for ax in figure.axes]


def test_one_bar_per_row_in_each_of_three_panels():
    report = analyze(load_spec("googlenet")).folded(1)
    figure = layer_figure(report)
    assert len(figure.axes) == 3
    assert sum(len(ax.patches) for ax in figure.axes) == 3 * len(report.rows)
    memory, params, macs = bars(figure)
    assert [label for label, _ in params] == [row.path for row in report.rows]
    assert [height for _, height in params] == [row.params for row in report.rows]
    assert [height for _, height in macs] == [row.macs for row in report.rows]
    assert [height for _, height in memory] == [4 * row.activations for row in report.rows]


def test_vgg16_memory_early_params_late():
    """The lecture's point, read off the bars: the tallest memory bar is one of the two
    first 224x224x64 convs, the tallest params bar is fc6, and the fc rows hold most
    parameters while the conv rows before the second pool hold most memory."""
    memory, params, _ = bars(layer_figure(analyze(load_spec("vgg16"))))
    assert max(memory, key=lambda pair: pair[1])[0] in ("conv1.0", "conv1.1")
    assert max(params, key=lambda pair: pair[1])[0] == "fc6"
    assert sum(h for label, h in params if label.startswith("fc")) > \
        0.85 * sum(h for _, h in params)
    first_block = ("input", "conv1.0", "conv1.1", "pool1", "conv2.0", "conv2.1")
    assert sum(h for label, h in memory if label in first_block) > \
        0.5 * sum(h for _, h in memory)


def test_cli_writes_png_of_the_requested_size(run_cli, tmp_path):
    out = tmp_path / "vgg16.png"
    result = run_cli("plot", "vgg16", "--out", out, "--size", "1000x700")
    assert result.exit_code == 0, result.output
    assert matplotlib_image.imread(out).shape[:2] == (700, 1000)


def test_cli_default_size_and_depth_folding(run_cli, tmp_path):
    out = tmp_path / "resnet18.png"
    result = run_cli("plot", "resnet18", "--out", out, "--depth", "1")
    assert result.exit_code == 0, result.output
    rows = len(analyze(load_spec("resnet18")).folded(1).rows)
    assert f"{rows} bars per panel" in result.output
    width, height = default_layer_size(rows)
    assert matplotlib_image.imread(out).shape[:2] == (height, width)


@pytest.mark.parametrize("args", [("--out", "x.nosuchformat"), ("--out", "no/such/dir/x.png"),
                                  ("--out", "x.png", "--size", "10x10"),
                                  ("--out", "x.png", "--input", "3x32x32")])
def test_bad_requests_exit_2(run_cli, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = run_cli("plot", "alexnet", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["plot", "lenet5", "--out"],
                                     ["compare", "lenet5", "alexnet", "--plot"],
                                     ["roofline", "lenet5", "--device", "t4", "--out"]])
def test_an_existing_image_is_kept_unless_overwrite(run_cli, tmp_path, command):
    image = tmp_path / "mine.png"
    image.write_bytes(b"the user's own picture")
    refused = run_cli(*command, image)
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert image.read_bytes() == b"the user's own picture"
    replaced = run_cli(*command, image, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.png"]  # no temporary file left
