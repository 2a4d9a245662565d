"""Hypothesis strategies for random, valid archcalc specs (needs ``hypothesis``).

Use them in your own property tests::

    from hypothesis import given
    from archcalc.testing import specs

    @given(specs())
    def test_my_tool(document):
        spec = archcalc.spec.loader.parse_spec(yaml.safe_dump(document), "random.yaml")

Every draw is valid by construction: each layer is drawn from what the
current shape allows (kernels no larger than the padded input, groups that
divide the channels, branches whose paths end in equal shapes), so nothing is
filtered away. Drawn specs use conv (with groups, dilation, folded BN and
activation, post- or pre-activation order, pre with or without BN), max/avg
pooling with PyTorch's ceil mode, bn, relu, tanh and sigmoid (two in a row
included, so a ReLU may follow a tanh), branches merged by add (identity,
projection or zero-padding option-A shortcuts; a main path that may start with
a ReLU; a ReLU, tanh or no act after the sum) and by concat (with identity paths;
paths that start with a conv, a ReLU or a pre-activation conv without BN), repeat
with a first-copy override, a template, and odd input sizes such as 97x131.

``KIND_STRATEGIES`` has one strategy per registered layer kind (the registry
contract test fails for a kind without one), and ``kind_examples(kind)`` draws
a small spec built around that kind. An activation (layers/activation.py) needs no
entry: its strategy is derived from the class (alone, and folded into a conv, an fc
and a merge); a kind defined elsewhere may bring its own as an ``examples`` attribute.
The kinds of the 2017-2021 CNNs draw their hazards: ``se`` with every activation as act
and gate and a squeeze wider than its input, ``stochastic_depth`` on the images and
after weights, ``channel_shuffle`` by every divisor (1 and C make views), and
``channel_slice`` as ShuffleNet's split (a branch of two slices, numbers or ``in/2``,
one path going on through a ReLU or a conv that must not write the shared input).
Output sizes come from the layer kinds' own ``output_shape`` rules.
"""
from __future__ import annotations

from collections.abc import Mapping

from hypothesis import strategies as st

from archcalc.layers.activation import Activation
from archcalc.layers.registry import all_kinds, get_kind
from archcalc.spec.params import validate

ACTS = ("none", "relu", "tanh", "sigmoid")
# What may follow any item: two activations in a row include a ReLU after a tanh or a
# sigmoid (whose output autograd keeps, so that ReLU must not overwrite it).
FOLLOWERS = ("bn", "relu", "tanh", "sigmoid")

TEMPLATE = {
    "unit": {
        "args": {"out": "required", "kernel": 3},
        "body": [{"conv": {"out": "$out", "kernel": "$kernel", "pad": 0, "bn": True,
                           "act": "relu", "name": "conv"}},
                 {"relu": {"name": "act"}}],
    }
}


def _same_conv(draw, channels: int, out: int | None = None, stride: int = 1) -> dict:
    """A conv that keeps the spatial size (at stride 1): odd kernel, half padding."""
    kernel = draw(st.sampled_from([1, 3, 5]))
    return {"conv": {"out": out or channels, "kernel": kernel, "pad": kernel // 2,
                     "stride": stride, "bias": draw(st.booleans())}}


def output_of(kind: str, args: dict, shape) -> tuple:
    """The output shape the kind's own rule gives ``args`` (defaults filled in) on
    ``shape``: the strategies never re-derive a size."""
    layer_kind = get_kind(kind)
    params = validate(layer_kind, args, lambda key: None, kind)
    return tuple(layer_kind.output_shape(params, [tuple(shape)]))


@st.composite
def _conv(draw, shape):
    channels, height, width = shape
    pad = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    smallest = min(height, width) + 2 * pad
    kernel = draw(st.integers(1, max(1, min(7, (smallest - 1) // dilation + 1))))
    stride = draw(st.integers(1, 3))
    divisors = [g for g in (1, 2, 3, 4) if channels % g == 0]
    groups = draw(st.sampled_from(divisors))
    out = groups * draw(st.integers(1, max(1, 12 // groups)))
    args = {"out": out, "kernel": kernel, "stride": stride, "pad": pad,
            "dilation": dilation, "groups": groups, "bias": draw(st.booleans()),
            "bn": draw(st.booleans()), "act": draw(st.sampled_from(ACTS))}
    if draw(st.booleans()):  # pre-activation (bn -> act -> conv), with or without BN
        args["order"] = "pre"
    return {"conv": args}, output_of("conv", args, shape)


@st.composite
def _pool(draw, shape, ops=("maxpool", "avgpool")):
    _, height, width = shape
    op = draw(st.sampled_from(ops))
    kernel = draw(st.integers(1, max(1, min(4, height, width))))
    pad = draw(st.integers(0, kernel // 2))
    stride = draw(st.integers(1, 3))
    args = {"kernel": kernel, "stride": stride, "pad": pad, "ceil": draw(st.booleans())}
    return {op: args}, output_of(op, args, shape)


@st.composite
def _add_branch(draw, shape):
    channels = shape[0]
    stride = draw(st.integers(1, 2))
    shortcut_type = draw(st.sampled_from(["identity", "projection", "pad"]))
    if stride == 1 and shortcut_type == "identity":
        shortcut = []
        out = channels
    elif shortcut_type == "pad":  # ResNet option A: subsample, zero-pad the channels
        out = channels + draw(st.integers(0, 8))
        shortcut = [{"pad_shortcut": {"out": out, "stride": stride}}]
    else:
        out = draw(st.integers(1, 12))
        shortcut = [{"conv": {"out": out, "kernel": 1, "stride": stride, "bias": False,
                              "bn": True}}]
    main = [_same_conv(draw, channels, out, stride), _same_conv(draw, out)]
    new = output_of("conv", main[0]["conv"], shape)  # the second conv keeps the size
    if draw(st.booleans()):  # the main path starts with a ReLU on the shared input
        main.insert(0, "relu")
    act = draw(st.sampled_from(["relu", "relu", "none", "tanh"]))
    return {"branch": {"merge": "add", "act": act,
                       "paths": {"main": main, "shortcut": shortcut}}}, new


@st.composite
def _concat_branch(draw, shape):
    channels, height, width = shape
    paths, total = {}, 0
    if draw(st.booleans()):
        paths["identity"] = []
        total += channels
    for index in range(draw(st.integers(1, 3))):
        out = draw(st.integers(1, 8))
        conv = _same_conv(draw, channels, out)
        # how the path starts on the input all paths share: a conv, a ReLU layer (then
        # a conv, or alone), or a pre-activation conv without BN (its ReLU comes first)
        start = draw(st.sampled_from(["conv", "relu", "relu only", "pre"]))
        if start == "relu only":
            conv, out = None, channels
        elif start == "pre":
            conv["conv"].update(order="pre", bn=False, act="relu")
        paths[f"p{index}"] = (["relu"] if start.startswith("relu") else []) + \
            ([conv] if conv else [])
        total += out
    body = {"merge": "concat", "paths": paths}
    if draw(st.integers(0, 3)) == 0:
        body["act"] = draw(st.sampled_from(["relu", "tanh"]))
    return {"branch": body}, (total, height, width)


@st.composite
def _repeat(draw, shape):
    count = draw(st.integers(1, 3))
    item = _same_conv(draw, shape[0])
    item["conv"].update(repeat=count, first={"stride": 2}, act="relu")
    # the first copy halves the size; the same-padded copies after it keep it
    first = {key: value for key, value in item["conv"].items() if key not in ("repeat", "first")}
    return item, output_of("conv", {**first, "stride": 2}, shape)


@st.composite
def _template_call(draw, shape):
    _, height, width = shape
    kernel = draw(st.integers(1, min(3, height, width)))
    out = draw(st.integers(1, 8))
    # the template's body: a conv with no padding, then a ReLU
    return {"unit": {"out": out, "kernel": kernel}}, \
        output_of("conv", {"out": out, "kernel": kernel}, shape)


@st.composite
def specs(draw, max_layers: int = 6, head: bool | None = None, min_side: int = 8,
          max_side: int = 140):
    """A spec document (a dict ready for ``yaml.safe_dump``), valid by construction."""
    channels = draw(st.integers(1, 4))
    height = draw(st.integers(min_side, max_side))
    width = draw(st.integers(min_side, max_side))
    shape = (channels, height, width)
    layers = []
    makers = [_conv, _pool, _add_branch, _concat_branch, _repeat, _template_call]
    for _ in range(draw(st.integers(1, max_layers))):
        if min(shape[1:]) < 2:
            break
        maker = draw(st.sampled_from(makers))
        item, shape = draw(maker(shape))
        layers.append(item)
        if draw(st.integers(0, 4)) == 0:
            layers += draw(st.lists(st.sampled_from(FOLLOWERS), min_size=1, max_size=2))
    document = {"archcalc": 1, "name": "random", "source": "archcalc.testing.specs",
                "input": [channels, height, width], "templates": TEMPLATE, "layers": layers}
    if head if head is not None else draw(st.booleans()):
        layers += [{"avgpool": {"global": True}}, "flatten",
                   {"fc": {"out": draw(st.integers(1, 10))}}]
    return document


@st.composite
def fully_convolutional_specs(draw, max_layers: int = 5):
    """Specs of stride-1, 'same'-padded convolutions and branches only: every output
    size equals the input size, so MACs are exactly proportional to the input area."""
    channels = draw(st.integers(1, 4))
    layers = []
    shape = (channels, 0, 0)
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(["conv", "concat", "add"]))
        if kind == "conv":
            out = draw(st.integers(1, 8))
            layers.append(_same_conv(draw, shape[0], out))
            shape = (out, 0, 0)
        elif kind == "concat":
            item, shape = draw(_concat_branch(shape))
            layers.append(item)
        else:
            main = [_same_conv(draw, shape[0])]
            layers.append({"branch": {"merge": "add", "paths": {"main": main, "skip": []}}})
    return {"archcalc": 1, "name": "fully_convolutional", "input": [channels, 16, 16],
            "layers": layers}


# --- one strategy per layer kind --------------------------------------------------------
# Each takes the current (C, H, W) and draws (items, new shape): a list of spec items in
# which the kind occurs, valid for that input (a kind that needs a flat input gets a
# `flatten` in front).


def _single(maker):
    @st.composite
    def items(draw, shape):
        item, new = draw(maker(shape))
        return [item], new

    return items


@st.composite
def _window_or_global_pool(draw, shape, op):
    if draw(st.integers(0, 3)) == 0:
        return [{op: {"global": True}}], (shape[0], 1, 1)
    item, new = draw(_pool(shape, (op,)))
    return [item], new


@st.composite
def _adaptive_pool(draw, shape):
    size = [draw(st.integers(1, 6)), draw(st.integers(1, 6))]
    return [{"adaptive_avgpool": {"size": size}}], (shape[0], size[0], size[1])


@st.composite
def _lrn(draw, shape):
    args = {"size": draw(st.integers(1, 7)), "alpha": draw(st.sampled_from([1e-4, 1e-3, 0.5])),
            "beta": draw(st.sampled_from([0.5, 0.75, 1.0])), "k": draw(st.sampled_from([1.0, 2.0]))}
    return [{"lrn": args}], shape


@st.composite
def _bn(draw, shape):
    if draw(st.booleans()):  # BatchNorm1d on a flat input
        flat = shape[0] * shape[1] * shape[2]
        return ["flatten", {"bn": {"eps": 1e-3}}], (flat,)
    return [{"bn": {}}], shape


def _activation(name):
    """An activation alone, then (maybe) folded as the ``act`` of a conv, a merge or an
    fc: every place the class's rules are read."""
    @st.composite
    def items(draw, shape):
        in_place = get_kind(name).can_run_in_place
        args = {"inplace": draw(st.booleans())} if in_place else {}
        # what comes before: nothing (the caller's input), a layer whose output only
        # this one reads (bn), or one that keeps its output for backward (tanh)
        before = draw(st.sampled_from([[], [{"bn": {}}], ["tanh"]]))
        folded, new = draw(_folded_act(name, shape))
        return before + [{name: args}] + folded, new

    return items


@st.composite
def _folded_act(draw, name, shape):
    """Nothing, or one item whose ``act`` is ``name`` (post/pre conv, add, concat, fc)."""
    channels = shape[0]
    where = draw(st.sampled_from(["none", "conv", "add", "concat", "fc"]))
    if where == "none":
        return [], shape
    if where == "conv":
        args = {"out": draw(st.integers(1, 4)), "kernel": 1, "bn": draw(st.booleans()),
                "order": draw(st.sampled_from(["post", "pre"])), "act": name}
        return [{"conv": args}], output_of("conv", args, shape)
    if where == "fc":
        out = draw(st.integers(1, 6))
        args = {"out": out, "act": name, "dropout": draw(st.sampled_from([0.0, 0.5]))}
        return ["flatten", {"fc": args}], (out,)
    conv = {"conv": {"out": channels, "kernel": 1, "bias": draw(st.booleans())}}
    paths = {"main": [conv]}
    if where == "concat" or draw(st.booleans()):  # an add may have one path (act in place)
        paths["skip"] = []
    merged = (2 * channels,) + tuple(shape[1:]) if where == "concat" else shape
    return [{"branch": {"merge": where, "act": name, "paths": paths}}], merged


@st.composite
def _dropout(draw, shape):
    return [{"dropout": {"p": draw(st.sampled_from([0.1, 0.5]))}}], shape


def _flatten(shape):
    return st.just((["flatten"], (shape[0] * shape[1] * shape[2],)))


@st.composite
def _fc(draw, shape):
    out = draw(st.integers(1, 12))
    args = {"out": out, "bias": draw(st.booleans()),
            "act": draw(st.sampled_from(["none", "relu", "tanh", "sigmoid"])),
            "dropout": draw(st.sampled_from([0.0, 0.5]))}
    return ["flatten", {"fc": args}], (out,)


@st.composite
def _pad_shortcut(draw, shape):
    channels = shape[0]
    stride = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    args = {"out": channels + draw(st.integers(0, 6)), "stride": stride}
    return [{"pad_shortcut": args}], output_of("pad_shortcut", args, shape)


@st.composite
def _se(draw, shape):
    """Squeeze-and-excitation with any act and gate; a squeeze wider than the input at times
    (the inference peak then falls before the multiply)."""
    activations = [name for name in _activation_names()]
    args = {"squeeze": draw(st.integers(1, 8)), "act": draw(st.sampled_from(activations)),
            "gate": draw(st.sampled_from(activations))}
    before = draw(st.sampled_from([[], [{"bn": {}}], ["relu"]]))
    return before + [{"se": args}], shape


@st.composite
def _stochastic_depth(draw, shape):
    """After a layer with weights (the input then needs a gradient) or on the images."""
    args = {"p": draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
            "mode": draw(st.sampled_from(["row", "batch"]))}
    before = draw(st.sampled_from([[], [{"bn": {}}]]))
    return before + [{"stochastic_depth": args}], shape


@st.composite
def _channel_shuffle(draw, shape):
    """A shuffle by a divisor of the channels (1 and C give a view), after a conv so that
    what it copies needs a gradient; a ReLU after it may run in place on the copy."""
    before = draw(st.sampled_from([[], [_same_conv(draw, shape[0], 2 * shape[0])]]))
    channels = shape[0] * (2 if before else 1)
    groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
    after = draw(st.sampled_from([[], ["relu"]]))
    return before + [{"channel_shuffle": {"groups": groups}}] + after, \
        (channels,) + tuple(shape[1:])


@st.composite
def _channel_slice(draw, shape):
    """ShuffleNet's split: a branch whose paths slice the input's channels (written as
    numbers or as expressions of `in`), one path going on through a conv and a ReLU that
    would write the shared input in place if the analysis let it; or a slice alone."""
    channels = shape[0]
    if channels < 2 or draw(st.booleans()):
        start = draw(st.integers(0, channels - 1))
        stop = draw(st.integers(start + 1, channels))
        return [{"channel_slice": {"start": start, "stop": stop}}], \
            (stop - start,) + tuple(shape[1:])
    half = "in/2" if channels % 2 == 0 and draw(st.booleans()) else channels // 2
    first = {"channel_slice": {"start": 0, "stop": half}}
    second = {"channel_slice": {"start": half, "stop": "in" if draw(st.booleans())
                                else channels}}
    tail = draw(st.sampled_from([[], ["relu"], [_same_conv(draw, channels - channels // 2)]]))
    body = {"merge": "concat", "paths": {"left": [first], "right": [second] + tail}}
    return [{"branch": body}], shape


def _activation_names() -> list:
    return [name for name, kind in all_kinds().items() if isinstance(kind, Activation)]


_TABLE = {
    "conv": _single(_conv),
    "maxpool": lambda shape: _window_or_global_pool(shape, "maxpool"),
    "avgpool": lambda shape: _window_or_global_pool(shape, "avgpool"),
    "adaptive_avgpool": _adaptive_pool,
    "lrn": _lrn,
    "bn": _bn,
    "dropout": _dropout,
    "flatten": _flatten,
    "fc": _fc,
    "add": _single(_add_branch),
    "concat": _single(_concat_branch),
    "pad_shortcut": _pad_shortcut,
    "se": _se,
    "stochastic_depth": _stochastic_depth,
    "channel_shuffle": _channel_shuffle,
    "channel_slice": _channel_slice,
}


class _KindStrategies(Mapping):
    """Kind name -> strategy: the table above, then every registered activation (derived
    from its class) and every kind that brings its own ``examples`` (a function of the
    input shape, like the table's). Live: a kind registered later appears at once."""

    def _derived(self, name: str):
        kind = all_kinds().get(name)
        if kind is None:
            return None
        own = getattr(kind, "examples", None)
        if own is not None:
            return own
        return _activation(name) if isinstance(kind, Activation) else None

    def __getitem__(self, name: str):
        strategy = _TABLE.get(name) or self._derived(name)
        if strategy is None:
            raise KeyError(name)
        return strategy

    def __iter__(self):
        yield from _TABLE
        yield from (name for name in all_kinds()
                    if name not in _TABLE and self._derived(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


KIND_STRATEGIES = _KindStrategies()


def buildable_kinds() -> list:
    """The kinds with a strategy that build into a torch module: every kind but those whose
    spec records measurements, not what they compute (``opaque``: ``buildable = False``)."""
    return sorted(name for name in KIND_STRATEGIES if all_kinds()[name].buildable)


@st.composite
def kind_examples(draw, kind: str, max_side: int = 24):
    """A small spec document whose layers use ``kind`` (from ``KIND_STRATEGIES``)."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, max_side)),
             draw(st.integers(1, max_side)))
    items, _ = draw(KIND_STRATEGIES[kind](shape))
    return {"archcalc": 1, "name": f"{kind}_example", "source": "archcalc.testing.kind_examples",
            "input": list(shape), "layers": items}
