"""`table --convention TOOL` reproduces what each peer tool prints, to the last unit.

The oracle is the tool itself, run on the module archcalc builds from the same spec
(tests/helpers/peer_tools.py runs each as its README says): for every zoo spec, and for
small drawn specs of every layer kind (archcalc.testing.kind_examples, which reach what
the zoo does not: odd head counts, padded and ceil-mode average pools, patch merging),
the convention's total, computed from the analysis without torch, equals the tool's.
The printed form is checked against each tool's own formatter.

The tools come with the `peers` extra (in `test`); a missing one skips its checks,
saying which (pytest.importorskip), as torch's tests do without torch.
"""
from __future__ import annotations

import gc
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archcalc
from archcalc import testing
from archcalc.analysis.conventions import PEERS, apply
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from peer_tools import TOOLS  # noqa: E402

torch = pytest.importorskip("torch")

MODULE_OF = {"torchinfo": "torchinfo", "fvcore": "fvcore", "ptflops": "ptflops",
             "thop": "thop", "flopcountermode": "torch"}
INSTALLED = [name for name in TOOLS if importlib.util.find_spec(MODULE_OF[name])]
MISSING = sorted(set(TOOLS) - set(INSTALLED))


def test_every_peer_tool_is_installed_with_the_test_extra():
    if MISSING:
        pytest.skip(f"not installed (pip install '.[peers]'): {', '.join(MISSING)}")
    assert set(INSTALLED) == set(PEERS)


def _has_attention(report) -> bool:
    return any(row.kind == "attention" for row in report.rows)


def _thop_on_torchvision_vit() -> int:
    """thop's total for torchvision's own ViT-B/16, which calls its attention as
    ``attn(x, x, x, need_weights=False)`` (built on the meta device: thop reads shapes)."""
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.vit_b_16()
    return TOOLS["thop"](model, (3, 224, 224), "meta")


def _tool_total(tool: str, model, report, name: str) -> int:
    if tool == "thop" and _has_attention(report):
        # thop 2.2.3's attention rule reads the key from the call's arguments; archcalc's
        # SelfAttention takes x alone, so thop raises (the convention's note says so)
        with pytest.raises(IndexError):
            TOOLS[tool](model, report.input)
        if name != "vit_b_16":
            pytest.skip("thop fails on archcalc's attention; checked on vit_b_16 against "
                        "torchvision's own model")
        return _thop_on_torchvision_vit()
    return TOOLS[tool](model, report.input)


@pytest.mark.parametrize("name", list(bundled()))
def test_each_tool_total_equals_the_convention_on_the_zoo(name):
    if not INSTALLED:
        pytest.skip("no peer tool installed (pip install '.[peers]')")
    report = archcalc.analyze(name)
    model = archcalc.build_module(name)
    try:
        mismatches = {}
        for tool in INSTALLED:
            theirs = _tool_total(tool, model, report, name)
            ours = apply(report, tool).total
            if ours != theirs:
                mismatches[tool] = (theirs, ours)
        assert not mismatches, f"tool's total, the convention's: {mismatches}"
    finally:
        del model
        gc.collect()


def _load(document):
    import yaml

    return parse_spec(yaml.safe_dump(document, sort_keys=False), "drawn.yaml")


@pytest.mark.parametrize("kind", testing.buildable_kinds())
def test_each_tool_total_equals_the_convention_on_drawn_specs_of_each_kind(kind):
    if not INSTALLED:
        pytest.skip("no peer tool installed (pip install '.[peers]')")

    @settings(max_examples=4, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(testing.kind_examples(kind))
    def check(document):
        spec = _load(document)
        report = archcalc.analyze(spec)
        model = archcalc.build_module(spec)
        for tool in INSTALLED:
            if tool == "thop" and _has_attention(report):
                continue  # it raises on archcalc's attention (see the zoo test)
            assert apply(report, tool).total == TOOLS[tool](model, report.input), tool

    check()


def test_a_smaller_input_is_counted_at_that_input():
    """The rules follow the analysed sizes: resnet50 at 3x64x64, every tool."""
    report = archcalc.analyze("resnet50", (3, 64, 64))
    model = archcalc.build_module("resnet50", (3, 64, 64))
    for tool in INSTALLED:
        assert apply(report, tool).total == TOOLS[tool](model, (3, 64, 64)), tool


def test_batch_scales_every_convention():
    """The tools count a batch of N as N images (checked here with torchinfo's
    input_size=(N, ...)); the convention's batch total is N x its per-image total."""
    pytest.importorskip("torchinfo")
    from torchinfo import summary

    report = archcalc.analyze("resnet18", batch=3)
    from torchinfo.torchinfo import clear_cached_forward_pass

    stats = summary(archcalc.build_module("resnet18"), input_size=(3, 3, 224, 224),
                    verbose=0)
    clear_cached_forward_pass()
    assert apply(report, "torchinfo").total == stats.total_mult_adds


# --- the printed totals equal each tool's own formatting --------------------------------

TOTALS = st.one_of(st.integers(0, 10**15),
                   st.sampled_from([0, 999, 10**6, 10**9 - 1, 10**9, 10**12, 15_470_264_320]))


@settings(max_examples=200, deadline=None)
@given(TOTALS)
def test_printed_totals_are_the_tools_own_text(total):
    if "torchinfo" in INSTALLED:
        from torchinfo.enums import Units
        from torchinfo.model_statistics import ModelStatistics

        assert PEERS["torchinfo"].printed(total) == \
            "Total mult-adds" + ModelStatistics.format_output_num(total, Units.AUTO)
    if "ptflops" in INSTALLED:
        from ptflops.utils import flops_to_string

        assert PEERS["ptflops"].printed(total) == \
            "Computational complexity: " + flops_to_string(total)
    if "thop" in INSTALLED:
        from thop import clever_format

        assert PEERS["thop"].printed(total) == clever_format(total, "%.3f")
    from torch.utils.flop_counter import convert_num_with_suffix, get_suffix_str

    assert PEERS["flopcountermode"].printed(total) == \
        "Global FLOP: " + convert_num_with_suffix(total, get_suffix_str(total))


# --- the command -------------------------------------------------------------------------


def test_table_convention_json_csv_and_depth_carry_the_tools_total(run_cli):
    report = archcalc.analyze("resnet18", batch=2)
    total = apply(report, "ptflops").total
    data = json.loads(run_cli("table", "resnet18", "--convention", "ptflops", "--batch", "2",
                              "--format", "json").output)
    assert data["convention"]["total"] == total
    assert sum(layer["convention_count"] for layer in data["layers"][1:]) == total
    assert data["totals"]["macs"] == report.batch_totals["macs"]  # archcalc's, unchanged
    csv_lines = run_cli("table", "resnet18", "--convention", "ptflops", "--batch", "2",
                        "--format", "csv", "--depth", "1").output.splitlines()
    assert csv_lines[-1].endswith(f",{report.batch_totals['macs']},{total}")
    rich = run_cli("table", "vit_b_16", "--convention", "thop").output
    assert "IndexError" in rich  # the note on thop's failure on archcalc's attention


def test_table_convention_refuses_symbols_and_paper(run_cli):
    for extra in (["--input", "3xHxW"], ["--paper"], ["--assume", "H=W"]):
        result = run_cli("table", "resnet18", "--convention", "fvcore", *extra)
        assert result.exit_code == 2, extra
        assert "--convention counts numbers" in result.output


def test_a_kind_without_parts_is_an_error_not_a_zero():
    from archcalc.analysis.conventions import parts
    from archcalc.analysis.report import Call
    from archcalc.layers.parts import UnknownKind
    from archcalc.layers.registry import LayerKind

    class Invented(LayerKind):
        name = "invented"

    with pytest.raises(UnknownKind, match="invented"):
        parts(Call(Invented(), {}, [(1, 2, 2)], (1, 2, 2)))
