"""Backward FLOPs per layer (analysis/backward.py) against PyTorch's FlopCounterMode on a
real training step: forward, then backward of the output's sum, the images not needing a
gradient.

FlopCounterMode counts matmul-type ops only (conv, linear, bmm, attention), 2 FLOPs per
MAC, so it checks the input-gradient and weight-gradient columns; the elementwise column
is each kind's stated rule. Its own per-module table attributes backward ops to whichever
module its tracker last entered (a dropout after a linear gets the linear's gradients), so
the per-row check here attributes each backward op to the module whose forward made the
autograd node running it (``torch._C._current_autograd_node``), with FlopCounterMode's own
formulas and totals.

Two places where FlopCounterMode counts a different execution path (README): attention's
products are visible only with the math backend (``every_matmul_visible``, as `verify`
does), and its formula for a grouped conv's weight gradient multiplies by all input
channels, not those of one group: ``groups`` times the MACs the gradient takes.
"""
from __future__ import annotations

from collections import defaultdict

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc import testing
from archcalc.analysis.analyze import analyze
from archcalc.analysis.backward import folded_records, step_flops, step_totals
from archcalc.errors import ArchcalcError
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import load_spec, parse_spec

torch = pytest.importorskip("torch")
flop_counter = pytest.importorskip("torch.utils.flop_counter")

BATCH = 2
PROPERTY = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class _NodeAttributedCounter(flop_counter.FlopCounterMode):
    """FlopCounterMode that also files each count under the module whose forward made
    the autograd node running it (backward), or the innermost module running (forward)."""

    def __init__(self, owner_of_node: dict, module_stack: list):
        super().__init__(display=False)
        self.owner_of_node, self.module_stack = owner_of_node, module_stack
        self.by_owner: dict[str, int] = defaultdict(int)

    def _count_flops(self, func_packet, out, args, kwargs):
        if func_packet in self.flop_registry:
            flops = self.flop_registry[func_packet](*args, **kwargs, out_val=out)
            node = torch._C._current_autograd_node()
            if node is None:
                owner = self.module_stack[-1] if self.module_stack else "?forward"
            else:
                owner = self.owner_of_node.get(node, "?backward")
            self.by_owner[owner] += flops
        return super()._count_flops(func_packet, out, args, kwargs)


def _grad_fns(tensors) -> set:
    return {t.grad_fn for t in tensors if isinstance(t, torch.Tensor) and t.grad_fn}


def _track(model, paths, owner_of_node: dict, module_stack: list) -> list:
    """Hooks that keep the stack of row modules running and, when a row's module
    returns, give it the autograd nodes its forward made (inner rows return first)."""
    handles, entry_nodes = [], {}

    def enter(module, inputs, path):
        entry_nodes[path] = _grad_fns(inputs)
        module_stack.append(path)

    def leave(module, inputs, output, path):
        module_stack.pop()
        stop, seen = entry_nodes[path], set()
        pending = list(_grad_fns([output]))
        while pending:
            node = pending.pop()
            if node in stop or node in seen:
                continue
            seen.add(node)
            owner_of_node.setdefault(node, path)
            pending.extend(following for following, _ in node.next_functions
                           if following is not None)

    for path in paths:
        module = model.get_submodule(path)
        handles.append(module.register_forward_pre_hook(
            lambda m, i, path=path: enter(m, i, path)))
        handles.append(module.register_forward_hook(
            lambda m, i, o, path=path: leave(m, i, o, path)))
    return handles


def measured_step(model, report, frozen_until=None, device="meta"):
    """(FlopCounterMode's total for one training step, its FLOPs per row path)."""
    from archcalc.analysis.backward import frozen_rows
    from archcalc.verify.torch_ref import every_matmul_visible

    for path in frozen_rows(report, frozen_until):
        for parameter in model.get_submodule(path).parameters(recurse=True):
            parameter.requires_grad_(False)
    owner_of_node: dict = {}
    module_stack: list = []
    paths = [row.path for row in report.layers]
    handles = _track(model, paths, owner_of_node, module_stack)
    counter = _NodeAttributedCounter(owner_of_node, module_stack)
    images = torch.randn(BATCH, *report.input, device=device)
    try:
        with every_matmul_visible(), counter:
            output = model(images)
            if output.requires_grad:
                output.sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    return counter.get_total_flops(), dict(counter.by_owner)


def expected_by_row(report, frozen_until=None) -> dict:
    """The analysis's matmul-type FLOPs of the step per row, for BATCH images, as
    FlopCounterMode states them (a grouped conv's weight gradient times its groups)."""
    expected = {}
    for record in step_flops(report, frozen_until)[1:]:
        call = report.calls[record.path]
        weight = record.backward_weight_flops
        if call.kind.name == "conv" and call.params.groups > 1:
            weight *= call.params.groups
        expected[record.path] = BATCH * (record.forward_matmul_flops
                                         + record.backward_input_flops + weight)
    return expected


def assert_step_matches(model, report, frozen_until=None, device="meta"):
    total, by_owner = measured_step(model, report, frozen_until, device)
    expected = expected_by_row(report, frozen_until)
    assert sum(expected.values()) == total
    assert not {owner for owner in by_owner if owner.startswith("?")}, by_owner
    # a row's module holds the rows below its path (a branch: its paths)
    wrong = {path: (flops, by_owner.get(path, 0)) for path, flops in expected.items()
             if flops != by_owner.get(path, 0)}
    assert not wrong, f"(analysis, FlopCounterMode) per row: {wrong}"


def build_on(spec, device, input_shape=None):
    from archcalc.torchgraph.builder import build_module

    with torch.device(device):
        return build_module(spec, input_shape, init=False).train()


@pytest.mark.parametrize("name", list(bundled()))
def test_training_step_flops_equal_flop_counter_mode_per_row(name):
    """Every zoo spec at its own input, on the meta device (shapes only: a VGG step
    costs no arithmetic), batch 2."""
    spec = load_spec(name)
    report = analyze(spec, check_expect=False)
    assert_step_matches(build_on(spec, "meta"), report)


@pytest.mark.parametrize("name, side", [("resnet18", 32), ("mobilenet_v3_small", 32),
                                        ("googlenet_torchvision", 15), ("lenet5", 32)])
def test_a_real_cpu_step_counts_as_the_meta_device_does(name, side):
    """The same counts from a step that computes (on the CPU), at a small input."""
    spec = load_spec(name)
    shape = (spec.input[0], side, side)
    report = analyze(spec, shape, check_expect=False)
    torch.manual_seed(0)
    assert_step_matches(build_on(spec, "cpu", shape), report, device="cpu")


@pytest.mark.parametrize("name, node", [
    ("resnet18", "layer2"),  # a block: its last row
    ("resnet18", "fc"),  # all frozen: no backward at all
    ("googlenet_torchvision", "inception3a.branch2.reduce"),  # inside a branch's path
    ("mobilenet_v3_small", "features.4.block.se"),  # squeeze-and-excitation
    ("vit_b_16", "encoder.layers.encoder_layer_10"),
    ("convnext_tiny", "features.1.0.main.layer_scale"),
    ("swin_t", "features.1.0.attention_residual.main.attn"),
])
def test_frozen_layers_compute_no_weight_gradient_and_no_input_gradient_below(name, node):
    spec = load_spec(name)
    report = analyze(spec, check_expect=False)
    assert_step_matches(build_on(spec, "meta"), report, frozen_until=node)
    records = step_flops(report, node)
    last = next(i for i, r in enumerate(records)
                if r.path == node or r.path.startswith(node + "."))
    assert all(r.backward_weight_flops == 0 for r in records[:last + 1])


def test_a_frozen_model_has_no_backward_and_the_first_layer_no_input_gradient():
    report = analyze(load_spec("vgg16"), check_expect=False)
    frozen = step_totals(step_flops(report, "fc8"))
    assert frozen["backward_flops"] == 0
    records = step_flops(report)
    first = records[1]  # conv1_1: its weights' gradient only, as FlopCounterMode says
    assert (first.backward_input_flops, first.backward_weight_flops) == \
        (0, first.forward_matmul_flops)
    # every later conv and fc: both gradients, each the forward's MACs (hand arithmetic)
    for record in records[2:]:
        if record.kind in ("conv", "fc"):
            assert record.backward_input_flops == record.backward_weight_flops == \
                record.forward_matmul_flops


def test_an_unknown_node_to_freeze_is_one_error_with_a_hint():
    report = analyze(load_spec("resnet18"), check_expect=False)
    with pytest.raises(ArchcalcError, match="no node 'layer9'") as error:
        step_flops(report, "layer9")
    assert error.value.hint


def test_folded_records_sum_to_the_same_totals():
    report = analyze(load_spec("resnet50"), check_expect=False)
    records = step_flops(report)
    folded = folded_records(records, 1)
    assert [r.path for r in folded] == [row.path for row in report.folded(1).rows]
    assert step_totals(folded) == step_totals(records)


def test_rules_evaluate_on_symbols_as_on_integers():
    sympy = pytest.importorskip("sympy")
    from archcalc.analysis.symbolic import SymbolicAnalyzer
    from archcalc.layers import arith

    spec = load_spec("mobilenet_v3_small")  # conv, bn, se, pools, hardswish, dropout, fc
    height = sympy.Symbol("H", positive=True, integer=True)
    analyzer = SymbolicAnalyzer()
    token = arith.condition_collector.set(analyzer.collect)
    try:
        symbolic = analyze(spec, (3, height, height), check_expect=False, analyzer=analyzer)
    finally:
        arith.condition_collector.reset(token)
    exact = analyze(spec, (3, 64, 64), check_expect=False)
    for formula, number in zip(step_flops(symbolic), step_flops(exact)):
        for key in ("backward_input_flops", "backward_weight_flops",
                    "backward_elementwise_flops"):
            assert sympy.sympify(getattr(formula, key)).subs(height, 64) == \
                getattr(number, key), (formula.path, key)


def _load(document):
    return parse_spec(yaml.safe_dump(document, sort_keys=False), f"{document['name']}.yaml")


@PROPERTY
@given(testing.specs(max_layers=4, max_side=40), st.data())
def test_random_specs_count_as_flop_counter_mode(document, data):
    spec = _load(document)
    report = analyze(spec)
    paths = [row.path for row in report.layers]
    frozen = data.draw(st.sampled_from([None] + paths))
    torch.manual_seed(0)
    assert_step_matches(build_on(spec, "cpu"), report, frozen, device="cpu")


@PROPERTY
@given(st.sampled_from(testing.buildable_kinds()).flatmap(
    lambda kind: testing.kind_examples(kind, max_side=12)), st.data())
def test_every_kind_counts_as_flop_counter_mode(document, data):
    spec = _load(document)
    report = analyze(spec)
    paths = [row.path for row in report.layers]
    frozen = data.draw(st.sampled_from([None] + paths))
    torch.manual_seed(0)
    assert_step_matches(build_on(spec, "cpu"), report, frozen, device="cpu")


# --- the command line: table --pass, plan's step and epoch ---------------------------------

def _schema_validator():
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    schema = Path(__file__).resolve().parent.parent / "schema" / "report.schema.json"
    return jsonschema.Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))


def test_table_pass_json_and_csv_carry_the_step_columns_for_the_batch(run_cli):
    import csv
    import io
    import json

    report = analyze(load_spec("resnet18"), (3, 32, 32), check_expect=False)
    records = step_flops(report, "layer1")
    args = ("table", "resnet18", "--input", "3x32x32", "--batch", "4", "--pass", "backward",
            "--freeze-until", "layer1")
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert not list(_schema_validator().iter_errors(document))
    for row, record in zip(document["layers"], records):
        assert row["name"] == record.path
        assert row["backward_weight_flops"] == 4 * record.backward_weight_flops
        assert row["step_flops"] == 4 * record.step_flops
    assert document["totals"]["backward_flops"] == step_totals(records, 4)["backward_flops"]
    lines = list(csv.DictReader(io.StringIO(run_cli(*args, "--format", "csv").stdout)))
    assert [line["name"] for line in lines[:-1]] == [r.path for r in records]
    assert int(lines[-1]["backward_input_flops"]) == \
        step_totals(records, 4)["backward_input_flops"]


def test_table_pass_rich_and_markdown_show_the_totals(run_cli, wide_console):
    report = analyze(load_spec("vgg11"), check_expect=False)
    totals = step_totals(step_flops(report))
    for fmt in ("rich", "markdown"):
        result = run_cli("table", "vgg11", "--pass", "step", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert f"{totals['step_flops']:,}" in result.output
        assert "weights" in result.output  # conv1's gradients: of its weights only


def test_table_pass_refuses_symbols_and_unknown_nodes(run_cli):
    result = run_cli("table", "resnet18", "--pass", "step", "--input", "3xHxW")
    assert result.exit_code == 2 and "counts numbers" in result.output
    result = run_cli("table", "resnet18", "--pass", "step", "--freeze-until", "layer9")
    assert result.exit_code == 2 and "no node 'layer9'" in result.output


def test_plan_gives_the_flops_of_a_step_and_an_epoch(run_cli):
    import json

    report = analyze(load_spec("lenet5"), check_expect=False)
    per_image = step_totals(step_flops(report))["step_flops"]
    result = run_cli("plan", "lenet5", "--batch", "64", "--samples", "1437", "--format",
                     "json")
    document = json.loads(result.stdout)
    assert not list(_schema_validator().iter_errors(document))
    flops = document["step_flops"]
    assert flops["per_step"]["step_flops"] == 64 * per_image
    assert (flops["steps_per_epoch"], flops["per_epoch"]["step_flops"]) == \
        (23, 1437 * per_image)  # 22 full batches and one of 29 images
    text = run_cli("plan", "lenet5", "--batch", "64", "--samples", "1437").output
    assert f"{1437 * per_image:,}" in text
