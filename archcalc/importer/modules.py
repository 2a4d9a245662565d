"""Module rules: an ``nn.Module`` class -> archcalc spec items (the table fvcore keeps
as ``_DEFAULT_SUPPORTED_OPS``, here keyed by class name).

A rule gets the module and its measured input and output shapes and returns a list
of items written as a spec writes them (``{"conv": {"out": 64, ...}}``), or raises
``Refusal`` when the module holds something archcalc's kind does not express (a
padding mode, an affine-free norm): those change the counts, so they are never
silently dropped. Values equal to a kind's default are left out, so the spec reads
like a hand-written one.
"""
from __future__ import annotations

from archcalc.layers.activation import Activation
from archcalc.layers.registry import all_kinds


class Refusal(Exception):
    """What archcalc cannot express; the caller adds the module path and source line."""


def activation_kinds() -> dict:
    """torch.nn class name -> archcalc activation kind (each kind declares its module)."""
    return {kind.module: name for name, kind in all_kinds().items()
            if isinstance(kind, Activation) and getattr(kind, "module", None)}


def compact(value):
    """(3, 3) -> 3; (3, 1) -> [3, 1]: a pair is written once when both sides agree."""
    if isinstance(value, (tuple, list)):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def item(kind: str, **params) -> dict:
    return {kind: params}


def _conv(m, ins, out):
    if m.padding_mode != "zeros":
        raise Refusal(f"Conv2d with padding_mode={m.padding_mode!r} (archcalc pads with zeros)")
    if isinstance(m.padding, str):
        raise Refusal(f"Conv2d with padding={m.padding!r} (give the padding as numbers)")
    params = {"out": m.out_channels, "kernel": compact(m.kernel_size)}
    for key, value, default in (("stride", m.stride, 1), ("pad", m.padding, 0),
                                ("dilation", m.dilation, 1)):
        if compact(value) != default:
            params[key] = compact(value)
    if m.groups != 1:
        params["groups"] = m.groups
    if m.bias is None:
        params["bias"] = False
    return [item("conv", **params)]


def _linear(m, ins, out):
    params = {"out": m.out_features}
    if m.bias is None:
        params["bias"] = False
    return [item("fc", **params)]


def _batchnorm(m, ins, out):
    if not m.affine or not m.track_running_stats:
        raise Refusal("BatchNorm2d without affine or running statistics (archcalc's bn has both)")
    return [item("bn", **({"eps": m.eps} if m.eps != 1e-5 else {}))]


def _layernorm(m, ins, out):
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise Refusal("LayerNorm over more than the last axis or without its affine")
    return [item("layernorm", **({"eps": m.eps} if m.eps != 1e-5 else {}))]


def _layernorm2d(m, ins, out):
    return [item("layernorm2d", **({"eps": m.eps} if m.eps != 1e-6 else {}))]


def _pool_params(m, default_pad=0) -> dict:
    params = {"kernel": compact(m.kernel_size)}
    stride = compact(m.stride) if m.stride is not None else params["kernel"]
    if stride != params["kernel"]:
        params["stride"] = stride
    if compact(m.padding) != default_pad:
        params["pad"] = compact(m.padding)
    if m.ceil_mode:
        params["ceil"] = True
    return params


def _maxpool(m, ins, out):
    if m.return_indices:
        raise Refusal("MaxPool2d with return_indices")
    params = _pool_params(m)
    if compact(m.dilation) != 1:
        params["dilation"] = compact(m.dilation)
    return [item("maxpool", **params)]


def _avgpool(m, ins, out):
    if m.divisor_override:
        raise Refusal("AvgPool2d with divisor_override")
    params = _pool_params(m)
    if not m.count_include_pad:
        params["count_include_pad"] = False
    return [item("avgpool", **params)]


def adaptive_avg(size) -> list:
    if compact(size) == 1:
        return [item("avgpool", **{"global": True})]
    if isinstance(size, int):
        size = (size, size)
    if any(side is None for side in size):
        raise Refusal("AdaptiveAvgPool2d keeping one side (None)")
    return [item("adaptive_avgpool", size=compact(size))]


def _adaptive_avgpool(m, ins, out):
    return adaptive_avg(m.output_size)


def _dropout(m, ins, out):
    return [item("dropout", **({"p": m.p} if m.p != 0.5 else {}))]


def _flatten(m, ins, out):
    if m.start_dim != 1 or m.end_dim != -1:
        raise Refusal(f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) "
                      "(archcalc flattens everything after the batch)")
    return [item("flatten")]


def _lrn(m, ins, out):
    return [item("lrn", size=m.size, alpha=m.alpha, beta=m.beta, k=m.k)]


def _attention(m, ins, out):
    if not m.batch_first or m.in_proj_bias is None or m.bias_k is not None or \
            not m._qkv_same_embed_dim:
        raise Refusal("MultiheadAttention other than batch-first self-attention with biases")
    return [item("attention", heads=m.num_heads,
                 **({"dropout": m.dropout} if m.dropout else {}))]


def _squeeze_excitation(m, ins, out):
    acts = activation_kinds()
    act, gate = (acts.get(type(part).__name__) for part in (m.activation, m.scale_activation))
    if act is None or gate is None:
        raise Refusal("SqueezeExcitation with an activation archcalc has no kind for")
    return [item("se", squeeze=m.fc1.out_channels,
                 **({"act": act} if act != "relu" else {}),
                 **({"gate": gate} if gate != "sigmoid" else {}))]


def _stochastic_depth(m, ins, out):
    return [item("stochastic_depth", p=m.p, **({"mode": m.mode} if m.mode != "row" else {}))]


PERMUTES = {(0, 2, 3, 1): [1, 2, 0], (0, 3, 1, 2): [2, 0, 1]}


def permute(dims) -> list:
    dims = tuple(dims)
    if dims == (0, 2, 1):
        return [item("_tokens_from_rows")]  # completed by shape rules into `tokens`
    if dims not in PERMUTES:
        raise Refusal(f"permute{dims} (archcalc permutes a map to channels-last and back)")
    return [item("permute", order=PERMUTES[dims])]


def _permute(m, ins, out):
    return permute(m.dims)


def _window_attention(m, ins, out):
    window, shift = list(m.window_size), list(m.shift_size)
    if len(set(window)) != 1 or len(set(shift)) != 1:
        raise Refusal(f"ShiftedWindowAttention with window {window} and shift {shift} "
                      "(archcalc's window_attention is square)")
    return [item("window_attention", heads=m.num_heads, window=window[0],
                 **({"shift": shift[0]} if shift[0] else {}))]


def _patch_merging(m, ins, out):
    return [item("patch_merging", **({"eps": m.norm.eps} if m.norm.eps != 1e-5 else {}))]


def _pad_shortcut(m, ins, out):
    """archcalc's own option-A shortcut module (archcalc/nn/pad_shortcut.py)."""
    return [item("pad_shortcut", out=m.out_channels,
                 **({"stride": compact(m.stride)} if compact(m.stride) != 1 else {}))]


def _identity(m, ins, out):
    return []


def _activation(m, ins, out):
    name = activation_kinds()[type(m).__name__]
    if type(m).__name__ == "GELU" and m.approximate != "none":
        raise Refusal("GELU(approximate='tanh') (archcalc's gelu is the exact erf form)")
    return [item(name)]


# class name -> rule; a class name rather than the class keeps torchvision optional here
MODULE_RULES = {
    "Conv2d": _conv, "Linear": _linear, "BatchNorm2d": _batchnorm, "LayerNorm": _layernorm,
    "LayerNorm2d": _layernorm2d, "MaxPool2d": _maxpool, "AvgPool2d": _avgpool,
    "AdaptiveAvgPool2d": _adaptive_avgpool, "Dropout": _dropout, "Flatten": _flatten,
    "LocalResponseNorm": _lrn, "MultiheadAttention": _attention,
    "SqueezeExcitation": _squeeze_excitation, "StochasticDepth": _stochastic_depth,
    "Permute": _permute, "Identity": _identity,
    "ShiftedWindowAttention": _window_attention, "PatchMerging": _patch_merging,
    "PadShortcutModule": _pad_shortcut,
}
# classes whose forward is written in torch.nn or torchvision.ops, so the name is safe
TRUSTED_PREFIXES = ("torch.nn.", "torchvision.ops.", "torchvision.models.convnext",
                    "torchvision.models.swin_transformer", "archcalc.nn.")


def module_rule(module):
    """The rule for ``module``'s class, or None (then its forward is traced)."""
    cls = type(module)
    if not cls.__module__.startswith(TRUSTED_PREFIXES):
        return None
    if cls.__name__ in MODULE_RULES:
        return MODULE_RULES[cls.__name__]
    if cls.__name__ in activation_kinds() and cls.__module__.startswith("torch.nn."):
        return _activation
    return None
