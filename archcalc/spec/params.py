"""Validate one layer's YAML arguments against its kind's parameter schema."""
from __future__ import annotations

import math

from archcalc.errors import SpecError, shown
from archcalc.layers.registry import (
    REQUIRED,
    LayerKind,
    Param,
    did_you_mean,
    unknown_key_error,
)
from archcalc.spec.bounds import MAX_CHANNELS, MAX_EXPRESSION_VALUE, MAX_SPATIAL
from archcalc.spec.expr import ChannelExpr, evaluate, is_expression
from archcalc.spec.model import Params

# Sizes on the image plane (kernel, stride, pad, dilation, window) are bounded like the
# input's sides; counts (channels, features, groups, LRN size) by MAX_CHANNELS.
SPATIAL_TYPES = ("pair",)
YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number_hint(value) -> str | None:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return None
        return "this is a quoted string; write the number without quotes"
    return None


def _check_int(param: Param, value, minimum: int):
    if not _is_int(value):
        raise SpecError(f"`{param.name}` must be a whole number, got {shown(value)}",
                        hint=_number_hint(value) or param.help or None)
    if value < minimum:
        raise SpecError(f"`{param.name}` must be at least {minimum}, got {shown(value)}",
                        hint=param.help or None)
    maximum = MAX_SPATIAL if param.type in SPATIAL_TYPES else MAX_CHANNELS
    if value > maximum:
        what = "a size on the image plane" if param.type in SPATIAL_TYPES else "a count"
        raise SpecError(f"`{param.name}` is {shown(value)}, more than this tool accepts for "
                        f"{what} ({maximum:,})",
                        hint="the bounds are listed in the README's Reliability section")
    return value


def _coerce_pair(param: Param, value):
    items = value if isinstance(value, list) else [value, value]
    if len(items) != 2:
        raise SpecError(f"`{param.name}` must be a number or [height, width], got {shown(value)}")
    return tuple(_check_int(param, item, param.minimum) for item in items)


def _coerce_count(param: Param, value):
    """A count of tensor elements (a whole module's parameters): beyond a layer's
    channel bound, within the bound on any number a spec holds."""
    if _is_int(value) and value > MAX_CHANNELS:
        if value > MAX_EXPRESSION_VALUE:
            raise SpecError(f"`{param.name}` is {shown(value)}, more than this tool accepts "
                            f"({MAX_EXPRESSION_VALUE:,})")
        return value
    return _check_int(param, value, 0)


def _coerce_shape(param: Param, value):
    if not isinstance(value, list) or not value:
        raise SpecError(f"`{param.name}` must be a shape, a list of sizes such as [64, 56, 56], "
                        f"got {shown(value)}")
    return tuple(_check_int(param, item, 1) for item in value)


def _coerce_text(param: Param, value):
    if not isinstance(value, str):
        raise SpecError(f"`{param.name}` must be text, got {shown(value)}")
    return value


def _coerce_float(param: Param, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"`{param.name}` must be a number, got {shown(value)}",
                        hint=_number_hint(value))
    if not math.isfinite(value):
        raise SpecError(f"`{param.name}` must be a finite number, got {value}")
    return float(value)


def _coerce_bool(param: Param, value):
    if not isinstance(value, bool):
        hint = ("specs read YAML 1.2: write true or false"
                if str(value).lower() in YAML11_BOOLS else None)
        raise SpecError(f"`{param.name}` must be true or false, got {shown(value)}", hint=hint)
    return value


def _coerce_choice(param: Param, value):
    if value not in param.choices:
        raise SpecError(f"`{param.name}` must be one of {', '.join(map(str, param.choices))}, "
                        f"got {shown(value)}", hint=did_you_mean(value, param.choices))
    return value


def _coerce_channels(param: Param, value, minimum: int = 1):
    if is_expression(value):
        if "$" in value:
            raise SpecError(f"`{param.name}` refers to a template argument outside a template")
        evaluate(value, {"in": 1})  # syntax check now; exactness at analysis
        return ChannelExpr(value, minimum)
    return _check_int(param, value, minimum)


# Parameter type -> the function that checks a value of it and returns the validated value.
_COERCE = {
    "int": lambda param, value: _check_int(param, value, max(param.minimum, 0)),
    "positive": lambda param, value: _check_int(param, value, max(param.minimum, 1)),
    "pair": _coerce_pair,
    "float": _coerce_float,
    "shape": _coerce_shape,
    "count": _coerce_count,
    "text": _coerce_text,
    "bool": _coerce_bool,
    "choice": _coerce_choice,
    "channels": _coerce_channels,
    "index": lambda param, value: _coerce_channels(param, value, 0),
}


def coerce(param: Param, value):
    """The validated value for one parameter, or a SpecError without location."""
    if value is None and param.default is None:
        return None
    if param.type not in _COERCE:
        raise AssertionError(f"unknown parameter type {param.type}")
    return _COERCE[param.type](param, value)


def validate(kind: LayerKind, given: dict, where_of, node: str) -> Params:
    """Check names and values; ``given`` maps key -> value, ``where_of(key)`` its Location."""
    known = {param.name for param in kind.params}
    for key in given:
        if key not in known:
            raise unknown_key_error(key, known | {"name", "repeat", "first", "last", "when",
                                                  "expect"}, f"`{kind.name}`", where_of(key)
                                    ).located(None, node)
    result = Params()
    for param in kind.params:
        if param.name in given:
            try:
                result[param.name] = coerce(param, given[param.name])
            except SpecError as exc:
                raise exc.located(where_of(param.name), node) from None
        elif param.default is REQUIRED:
            raise SpecError(f"`{kind.name}` needs `{param.name}`", where=where_of(None), node=node,
                            hint=param.help or None)
        else:
            result[param.name] = coerce(param, param.default)
    return result
