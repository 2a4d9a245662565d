"""The search space: ranges from `--param NAME=LOW:HIGH[:log]`, sampling, narrowing.

Random search only, never a grid (the lecture: "random search over log space").
A range marked ``log`` is sampled log-uniformly, the lecture's
``10**uniform(-5, 5)``. Narrowing keeps the span of the best trials, widened a
little in the range's own scale, clipped to the original range.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from archcalc.errors import ArchcalcError

# name -> (kind, default range, log) as the lecture would start a coarse search
KNOWN = {
    "lr": ("float", (1e-4, 1.0), True),
    "weight_decay": ("float", (1e-6, 1e-2), True),
    "momentum": ("float", (0.5, 0.99), False),
    "dropout": ("float", (0.0, 0.7), False),
    "batch_size": ("int", (16, 256), True),
}
EDGE_FRACTION = 0.1
# name -> (lowest, whether the lowest itself is allowed, the bound it must stay below):
# what training accepts (TrainConfig: lr > 0, decay >= 0, momentum in [0, 1); a dropout
# of 1 zeroes everything; a batch holds at least one image)
ALLOWED = {
    "lr": (0.0, False, math.inf),
    "weight_decay": (0.0, True, math.inf),
    "momentum": (0.0, True, 1.0),
    "dropout": (0.0, True, 1.0),
    "batch_size": (1, True, math.inf),
}


@dataclass(frozen=True)
class ParamRange:
    name: str
    low: float
    high: float
    log: bool
    kind: str = "float"

    def position(self, value: float) -> float:
        """Where ``value`` lies in the range, 0 (low) to 1 (high), in the range's scale."""
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            return (math.log(value) - low) / (high - low)
        return (value - self.low) / (self.high - self.low)

    def describe(self) -> str:
        scale = "log" if self.log else "linear"
        return f"{self.name} in [{self.low:.3g}, {self.high:.3g}] ({scale})"


_PARAM = re.compile(r"^\s*([a-z_]+)\s*=\s*([^:]+):([^:]+)(?::(log|linear))?\s*$")


def parse_param(text: str) -> ParamRange:
    match = _PARAM.match(text)
    if not match:
        raise ArchcalcError(f"cannot read --param {text!r}",
                            hint="write NAME=LOW:HIGH or NAME=LOW:HIGH:log, e.g. lr=1e-5:1e-1:log")
    name, low, high, scale = match.groups()
    if name not in KNOWN:
        raise ArchcalcError(f"--param {name!r} is not a searchable hyperparameter",
                            hint=f"searchable: {', '.join(KNOWN)}")
    try:
        low_value, high_value = float(low), float(high)
    except ValueError:
        raise ArchcalcError(f"--param {text!r}: LOW and HIGH must be numbers",
                            hint="e.g. lr=1e-5:1e-1:log") from None
    if not (math.isfinite(low_value) and math.isfinite(high_value)):
        raise ArchcalcError(f"--param {text!r}: LOW and HIGH must be finite numbers",
                            hint="nan, inf and numbers beyond 1e308 cannot be sampled")
    kind, _, default_log = KNOWN[name]
    log = default_log if scale is None else scale == "log"
    if not low_value < high_value:
        raise ArchcalcError(f"--param {text!r}: LOW must be below HIGH")
    if log and low_value <= 0:
        raise ArchcalcError(f"--param {text!r}: a log range needs LOW > 0",
                            hint="use :linear, or a positive lower end such as 1e-6")
    if kind == "int" and (low_value != int(low_value) or high_value != int(high_value)):
        raise ArchcalcError(f"--param {text!r}: {name} takes whole numbers")
    lowest, inclusive, below = ALLOWED[name]
    if low_value < lowest or (low_value == lowest and not inclusive) or high_value >= below:
        bound = f"{'at least' if inclusive else 'above'} {lowest:g}" + (
            f" and below {below:g}" if math.isfinite(below) else "")
        raise ArchcalcError(f"--param {text!r}: {name} must be {bound}")
    return ParamRange(name, low_value, high_value, log, kind)


def parse_params(texts) -> list[ParamRange]:
    """Every ``--param``, each name once."""
    space = [parse_param(text) for text in texts]
    names = [param.name for param in space]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ArchcalcError(f"--param {', '.join(twice)} given more than once",
                            hint="give each searched name one range")
    return space


def default_space(names=("lr", "weight_decay")) -> list[ParamRange]:
    return [ParamRange(name, *KNOWN[name][1], KNOWN[name][2], KNOWN[name][0]) for name in names]


def sample(trial, space: list[ParamRange]) -> dict:
    """One random draw of every parameter through an Optuna trial."""
    values = {}
    for param in space:
        if param.kind == "int":
            values[param.name] = trial.suggest_int(param.name, int(param.low), int(param.high),
                                                   log=param.log)
        else:
            values[param.name] = trial.suggest_float(param.name, param.low, param.high,
                                                     log=param.log)
    return values


def narrow(space: list[ParamRange], best: list[dict], margin: float = 0.25) -> list[ParamRange]:
    """Ranges around the best trials' values: their span widened by ``margin`` of the
    original range's width (in its scale), clipped to the original range."""
    narrowed = []
    for param in space:
        values = [trial[param.name] for trial in best if param.name in trial]
        if not values:
            narrowed.append(param)
            continue
        scale = (math.log, math.exp) if param.log else (lambda v: v, lambda v: v)
        to, back = scale
        lo, hi = to(param.low), to(param.high)
        pad = margin * (hi - lo)
        new_low = max(lo, min(to(v) for v in values) - pad)
        new_high = min(hi, max(to(v) for v in values) + pad)
        low, high = back(new_low), back(new_high)
        if param.kind == "int":
            low, high = math.floor(low), math.ceil(high)
        narrowed.append(replace(param, low=low, high=high if high > low else param.high))
    return narrowed


def edge_warnings(space: list[ParamRange], best: dict) -> list[str]:
    """The lecture's "worrying" result: a best value near the edge of its range."""
    warnings = []
    for param in space:
        if param.name not in best:
            continue
        position = param.position(best[param.name])
        if position >= 1 - EDGE_FRACTION or position <= EDGE_FRACTION:
            upper = position >= 1 - EDGE_FRACTION
            side = "upper" if upper else "lower"
            if param.log:
                widened = param.high * 100 if upper else param.low / 100
            else:
                span = param.high - param.low
                widened = param.high + span if upper else param.low - span
            bound = f"{param.low:.3g}:{widened:.3g}" if upper else f"{widened:.3g}:{param.high:.3g}"
            warnings.append(
                f"best {param.name} = {best[param.name]:.3g} lies near the {side} edge of "
                f"[{param.low:.3g}, {param.high:.3g}]: the optimum may be outside the range; "
                f"widen it, e.g. --param {param.name}={bound}{':log' if param.log else ''}")
    return warnings
