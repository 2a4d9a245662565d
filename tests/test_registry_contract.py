"""The layer-kind contract, parametrised over the registry: every kind has a hypothesis
strategy in archcalc.testing, and on examples drawn from it the module its build() returns
agrees with its rules: output shape by forward hooks, params and buffers by counting the
module's tensors, and the memory rules (saved, shares_input, inference_temporaries,
buffer_bytes) by what PyTorch really keeps: autograd's saved tensors in a training-mode
pass (saved_tensors_hooks) and the peak of live tensors in an inference pass (a dispatch
mode), each storage counted once; and the values: the built module equals its copy with
every in-place flag off, in float64, leaves the caller's input alone and differentiates (the
in-place rules: writes_input, saved). A kind added without a strategy fails here by name.
A kind that declares ``buildable = False`` (``opaque``: its spec records shapes and counts,
not what it computes) is checked instead for build's located refusal and for rules that
report its unknown MACs and FLOPs as unknown (None), never as 0.

Each contract check is a function of a kind's name (``CONTRACT``), parametrised here over
the registry and run by tests/test_new_kind.py on a kind defined in that test alone."""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from archcalc import testing
from archcalc.analysis.analyze import analyze
from archcalc.layers.registry import all_kinds
from archcalc.spec.loader import parse_spec

torch = pytest.importorskip("torch")

KINDS = sorted(all_kinds())
EXAMPLES = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load(document):
    return parse_spec(yaml.safe_dump(document, sort_keys=False), f"{document['name']}.yaml")


def subtree(rows, path):
    """The rows at ``path`` and below it (a branch row stands for its paths too)."""
    return [row for row in rows if row.path == path or row.path.startswith(path + ".")]


# --- the contract: one function per check, each taking a registered kind's name -----------

def check_has_a_strategy(kind):
    assert kind in testing.KIND_STRATEGIES, \
        f"add a strategy for {kind!r} to archcalc.testing.KIND_STRATEGIES"


def buildable(kind) -> bool:
    return all_kinds()[kind].buildable


def check_unbuildable_kind_is_refused(kind):
    from archcalc.errors import ArchcalcError
    from archcalc.torchgraph.builder import build_module

    @EXAMPLES
    @given(testing.kind_examples(kind))
    def check(document):
        spec = load(document)
        report = analyze(spec)
        rows = [row for row in report.layers if row.kind == kind]
        assert rows, "the example does not use the kind"
        for row in rows:
            assert row.macs is None and row.flops is None, row.path  # unknown, not 0
        with pytest.raises(ArchcalcError, match="cannot build") as refused:
            build_module(spec)
        assert refused.value.node == rows[0].path

    check()


def check_built_module_agrees_with_the_rules(kind):
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.torch_ref import output_shapes

    @EXAMPLES
    @given(testing.kind_examples(kind))
    def check(document):
        spec = load(document)
        report = analyze(spec)
        rows = report.layers
        assert any(row.kind == kind for row in rows), "the example does not use the kind"
        model = build_module(spec).eval()
        example = torch.randn(2, *spec.input)
        shapes = output_shapes(model, [row.path for row in rows], example)
        with torch.no_grad():
            assert tuple(model(example).shape[1:]) == report.output
        for row in rows:
            module = model.get_submodule(row.path)
            assert shapes[row.path] == row.output_shape, row.path
            assert sum(p.numel() for p in module.parameters()) == \
                sum(r.params for r in subtree(rows, row.path)), row.path
            assert sum(b.numel() for b in module.buffers()) == \
                sum(r.buffers for r in subtree(rows, row.path)), row.path

    check()


def check_memory_rules_agree_with_what_pytorch_keeps(kind):
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    @EXAMPLES
    @given(testing.kind_examples(kind))
    def check(document):
        spec = load(document)
        model = build_module(spec)
        example = torch.randn(2, *spec.input)
        # training on the CPU, as measured here (dropout keeps a dtype-sized noise tensor)
        on_cpu = plan(spec, batch=2, device="cpu")
        assert on_cpu.weights_bytes == sum(p.nbytes for p in model.parameters())
        assert on_cpu.buffers_bytes == sum(b.nbytes for b in model.buffers())
        assert on_cpu.saved_activation_bytes == saved_tensor_bytes(model, example)
        # inference under a dispatch mode takes CUDA's path (max pooling makes indices)
        peak = plan(spec, batch=2, device="cuda").inference_activation_peak_bytes
        assert peak == inference_peak_bytes(model.eval(), example)

    check()


def no_in_place_float64(model):
    reference = copy.deepcopy(model).double()
    for module in reference.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    return reference


def check_in_place_writes_change_no_value(kind):
    from archcalc.torchgraph.builder import build_module

    @EXAMPLES
    @given(testing.kind_examples(kind))
    def check(document):
        spec = load(document)
        model = build_module(spec)
        reference = no_in_place_float64(model).eval()
        x = torch.randn(2, *spec.input, dtype=torch.float64)
        given_input = x.clone()
        with torch.no_grad():
            expected, got = reference(x), model.double().eval()(given_input)
        assert torch.equal(given_input, x), "the caller's input was overwritten"
        assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
        example = torch.randn(2, *spec.input).requires_grad_()
        kept = example.detach().clone()
        model.float().train()(example).sum().backward()  # refused if a saved tensor changed
        assert torch.equal(example.detach(), kept), "the caller's input was overwritten"

    check()


CONTRACT = (check_built_module_agrees_with_the_rules,
            check_memory_rules_agree_with_what_pytorch_keeps,
            check_in_place_writes_change_no_value)


def run_contract(kind):
    """Every check of the contract on ``kind`` (a registered kind's name)."""
    check_has_a_strategy(kind)
    if not buildable(kind):
        check_unbuildable_kind_is_refused(kind)
        return
    for check in CONTRACT:
        check(kind)


# --- parametrised over the registry ----------------------------------------------------

WITH_STRATEGY = [k for k in KINDS if k in testing.KIND_STRATEGIES and buildable(k)]
UNBUILDABLE = [k for k in KINDS if k in testing.KIND_STRATEGIES and not buildable(k)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_strategy(kind):
    check_has_a_strategy(kind)


def test_no_strategy_for_an_unknown_kind():
    assert set(testing.KIND_STRATEGIES) <= set(KINDS)


@pytest.mark.parametrize("kind", UNBUILDABLE)
def test_unbuildable_kind_is_refused(kind):
    check_unbuildable_kind_is_refused(kind)


@pytest.mark.parametrize("kind", WITH_STRATEGY)
def test_built_module_agrees_with_the_rules(kind):
    check_built_module_agrees_with_the_rules(kind)


@pytest.mark.parametrize("kind", WITH_STRATEGY)
def test_memory_rules_agree_with_what_pytorch_keeps(kind):
    check_memory_rules_agree_with_what_pytorch_keeps(kind)


@pytest.mark.parametrize("kind", WITH_STRATEGY)
def test_in_place_writes_change_no_value(kind):
    check_in_place_writes_change_no_value(kind)
