"""The kinds of issue 12's convolutional models (relu6, hardswish, hardsigmoid, silu, gelu,
se, stochastic_depth, channel_shuffle, channel_slice) against oracles besides the registry
contract (tests/test_registry_contract.py covers shapes, params, buffers, saved tensors,
inference peaks and values for every kind): torchvision's own modules and functions,
FlopCounterMode, hand arithmetic of the documented FLOPs rules, the symbolic analysis
against the integer one, and located errors for bad arguments."""
from __future__ import annotations

import pytest
import sympy
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc import testing
from archcalc.analysis.analyze import analyze
from archcalc.analysis.symbolic import analyze_symbolic, symbol
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

NEW_KINDS = ("relu6", "hardswish", "hardsigmoid", "silu", "gelu", "se", "stochastic_depth",
             "channel_shuffle", "channel_slice")
H, W = symbol("H"), symbol("W")


def spec_of(layers, shape=(8, 5, 7)):
    document = {"archcalc": 1, "name": "case", "input": list(shape), "layers": layers}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "case.yaml")


def rows_of(layers, shape=(8, 5, 7)):
    return {row.path: row for row in analyze(spec_of(layers, shape)).layers}


# --- activations ------------------------------------------------------------------------

@pytest.mark.parametrize("name, module, flops, formula", [
    ("relu6", "ReLU6", 2, lambda x: torch.clamp(x, 0, 6)),
    ("hardsigmoid", "Hardsigmoid", 4, lambda x: torch.clamp(x / 6 + 0.5, 0, 1)),
    ("hardswish", "Hardswish", 5, lambda x: x * torch.clamp(x + 3, 0, 6) / 6),
    ("silu", "SiLU", 2, lambda x: x * torch.sigmoid(x)),
    ("gelu", "GELU", 5, lambda x: x * 0.5 * (1 + torch.erf(x / 2 ** 0.5))),
])
def test_activation_is_its_formula_and_counts_it(name, module, flops, formula):
    from archcalc.torchgraph.builder import build_module

    layers = [{"bn": {}}, {name: {"name": "a"}}]  # after a BN: in place where it can
    spec = spec_of(layers)
    row = rows_of(layers)["a"]
    elements = 8 * 5 * 7
    assert row.flops == flops * elements  # the docstring's count of its formula
    built = build_module(spec).a
    assert type(built) is getattr(torch.nn, module)
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64) * 5
    assert torch.allclose(built.double()(x.clone()), formula(x), rtol=1e-12, atol=1e-12)
    in_place = name != "gelu"  # nn.GELU has no in-place form
    assert row.activations == (0 if in_place else elements)


def test_activations_are_act_choices_folded_into_conv():
    rows = rows_of([{"conv": {"out": 4, "kernel": 1, "bn": True, "act": "hardswish",
                              "name": "c"}}])
    out = 4 * 5 * 7
    assert rows["c"].flops == 2 * 8 * out + out + 2 * out + 5 * out  # MACs, bias, BN, act


# --- squeeze-and-excitation -------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(st.integers(1, 24), st.integers(1, 12), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from([("relu", "sigmoid"), ("silu", "sigmoid"), ("relu", "hardsigmoid")]))
def test_se_counts_equal_torchvision_and_the_rule(channels, squeeze, height, width, acts):
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.ops.misc import SqueezeExcitation

    act, gate = acts
    row = rows_of([{"se": {"squeeze": squeeze, "act": act, "gate": gate, "name": "se"}}],
                  (channels, height, width))["se"]
    module = SqueezeExcitation(channels, squeeze, activation=getattr(torch.nn, {
        "relu": "ReLU", "silu": "SiLU"}[act]), scale_activation=getattr(torch.nn, {
            "sigmoid": "Sigmoid", "hardsigmoid": "Hardsigmoid"}[gate]))
    assert row.params == sum(p.numel() for p in module.parameters())
    assert row.params == (channels * squeeze + squeeze) + (squeeze * channels + channels)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(1, channels, height, width))
    assert 2 * row.macs == counter.get_total_flops()  # it sees the two 1x1 convs only
    elements = channels * height * width
    act_flops = {"relu": 1, "silu": 2}[act]
    gate_flops = {"sigmoid": 1, "hardsigmoid": 4}[gate]
    assert row.flops == (elements + 4 * channels * squeeze + squeeze + channels
                         + act_flops * squeeze + gate_flops * channels + elements)
    assert row.activations == elements and row.buffers == 0


def test_se_state_dict_names_are_torchvision_s():
    from archcalc.torchgraph.builder import build_module

    model = build_module(spec_of([{"se": {"squeeze": 2, "name": "se"}}]))
    assert sorted(model.state_dict()) == ["se.fc1.bias", "se.fc1.weight", "se.fc2.bias",
                                          "se.fc2.weight"]
    assert [name for name, _ in model.se.named_children()] == [
        "avgpool", "fc1", "fc2", "activation", "scale_activation"]


def test_se_squeeze_may_be_divisible_of_in():
    # MobileNetV3: _make_divisible(expanded // 4, 8); 72 // 4 = 18 -> 24
    assert rows_of([{"se": {"squeeze": "divisible(in/4, 8)", "gate": "hardsigmoid",
                            "name": "se"}}], (72, 3, 3))["se"].params == 2 * 72 * 24 + 24 + 72


# --- stochastic depth, channel shuffle, channel slice ------------------------------------

def test_stochastic_depth_is_torchvision_s_and_free_at_inference():
    from archcalc.torchgraph.builder import build_module

    layers = [{"stochastic_depth": {"p": 0.2, "mode": "row", "name": "sd"}}]
    row = rows_of(layers)["sd"]
    assert (row.params, row.flops, row.activations) == (0, 0, 0)
    module = build_module(spec_of(layers)).sd
    assert isinstance(module, torchvision.ops.StochasticDepth) and module.p == 0.2
    x = torch.randn(4, 8, 5, 7)
    assert torch.equal(module.eval()(x), x)


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_channel_shuffle_equals_torchvision_and_torch(groups):
    from torchvision.models.shufflenetv2 import channel_shuffle

    from archcalc.torchgraph.builder import build_module

    layers = [{"channel_shuffle": {"groups": groups, "name": "s"}}]
    module = build_module(spec_of(layers)).s
    x = torch.randn(2, 8, 5, 7)
    got = module(x)
    assert torch.equal(got, channel_shuffle(x, groups))
    assert torch.equal(got, torch.nn.ChannelShuffle(groups)(x))
    row = rows_of(layers)["s"]
    # a copy, except with 1 or C groups, where the result shares the input's storage
    is_view = got.data_ptr() == x.data_ptr()
    assert is_view == (groups in (1, 8))
    assert row.activations == (0 if is_view else 8 * 5 * 7) and row.flops == 0


def test_shufflenet_split_by_slices_equals_chunk():
    from archcalc.torchgraph.builder import build_module

    layers = [{"branch": {"name": "split", "merge": "concat", "paths": {
        "left": [{"channel_slice": {"start": 0, "stop": "in/2"}}],
        "right": [{"channel_slice": {"start": "in/2", "stop": "in"}}]}}}]
    model = build_module(spec_of(layers))
    x = torch.randn(2, 8, 5, 7)
    left, right = x.chunk(2, dim=1)
    assert torch.equal(model(x), torch.cat((left, right), dim=1))
    rows = rows_of(layers)
    assert all(row.activations == 0 for path, row in rows.items() if path != "split")


@pytest.mark.parametrize("start, stop, message", [
    (3, 3, "start 3 is not below stop 3"),
    (5, 2, "start 5 is not below stop 2"),
    (0, 9, "stop 9 is beyond the input's 8 channels"),
    (0, "in+1", "stop 9 is beyond"),
    ("in/3", "in", "not a whole number"),
    (-1, 4, "must be at least 0"),
])
def test_channel_slice_bounds_are_located_errors(start, stop, message):
    text = ("archcalc: 1\nname: bad\ninput: [8, 5, 7]\nlayers:\n"
            f"  - channel_slice: {{start: {start}, stop: {stop}, name: cut}}\n")
    with pytest.raises(ArchcalcError) as caught:
        analyze(parse_spec(text, "bad.yaml"))
    shown = str(caught.value)
    assert message in shown and "bad.yaml:5" in shown and "cut" in shown, shown


def test_channel_shuffle_needs_divisible_channels():
    with pytest.raises(ArchcalcError, match="not divisible by groups=3"):
        rows_of([{"channel_shuffle": {"groups": 3}}])


# --- the symbolic analysis agrees with the integer one on every new kind --------------

def substituted(value, height, width):
    if isinstance(value, sympy.Basic):
        value = value.subs({H: height, W: width})
        assert value.is_Integer, value
        return int(value)
    return value


# the layout kinds too (tests/test_kinds_layout.py tests their other rules)
LAYOUT_KINDS = ("permute", "layernorm", "layernorm2d", "layer_scale")


@pytest.mark.parametrize("kind", NEW_KINDS + LAYOUT_KINDS)
def test_symbolic_equals_integer_analysis(kind):
    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(testing.kind_examples(kind))
    def check(document):
        spec = parse_spec(yaml.safe_dump(document, sort_keys=False), "k.yaml")
        channels, height, width = spec.input
        result = analyze_symbolic(spec, (channels, H, W))
        concrete = analyze(spec)
        for symbolic_row, row in zip(result.report.rows, concrete.rows, strict=True):
            for key in ("activations", "params", "buffers", "macs", "flops"):
                assert substituted(getattr(symbolic_row, key), height, width) == \
                    getattr(row, key), (row.path, key)

    check()
