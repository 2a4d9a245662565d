"""Published figures a spec carries (`paper:`): their format and its validation.

A figure is what a paper or lecture prints for a node or for the whole network,
kept beside the spec so `archcalc table --paper` can show it next to the computed
value. At file level and on any item:

    paper: {params: 138M, activations: 24M}        # file level: the whole network
    - inception: {..., paper: {weights: 159K, macs: 128M}}
    - conv: {out: 64, repeat: 2, paper: [{weights: 1728}, {weights: 36864}]}  # per copy

Metrics: ``params`` (weights and biases, what the table counts), ``weights`` (without
biases: "params: (3*3*3)*64 = 1,728 (not counting biases)"), ``macs``, ``flops`` and
``activations`` (output elements, the lecture's "memory"). A figure is an exact whole
number (``1728`` or ``"1,728"``) or a rounded one with a suffix K, M, G or T
(``2.7K``, ``24M``). Suffixes are powers of 1000 unless ``units`` says 1024 for that
metric (GoogLeNet's Table 1 counts parameters in units of 1024):

    paper: {units: {weights: 1024}}                # file level, or on one item

A rounded figure agrees with a computed value within half a unit of its last
significant digit: 2.7K means 2,650..2,750, 159K 158.5K..159.5K. Trailing zeros
before the suffix are not significant, as usual for printed figures: 800K (the
lecture's 112*112*64 = 802,816) means 750K..850K. Where a source rounds a whole
column to a fixed step, ``precision`` says so and figures without decimals are held
to half that step (GoogLeNet's 380K and 1000K are whole K, not two significant
digits):

    paper: {units: {weights: 1024}, precision: {weights: 1K, macs: 1M}}

An exact figure must match exactly. ``units`` and ``precision`` at file level apply
to every node; on an item they apply to that item.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import SpecError, shown

METRICS = ("params", "weights", "macs", "flops", "activations")
UNIT_BASES = (1000, 1024)
POWERS = {"K": 1, "k": 1, "M": 2, "G": 3, "T": 4}
_FIGURE = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*([kKMGT]?)$")
MAX_FIGURE_TEXT = 40  # "1,000,000,000,000,000" is 25: nothing printed is longer
FORMAT_HINT = ("a figure is a whole number (1728 or \"1,728\") or a rounded one with a "
               "suffix K, M, G or T (2.7K, 24M)")


@dataclass(frozen=True)
class Figure:
    """One published figure: the text as printed and the range of values it stands for."""

    metric: str
    text: str
    value: Fraction
    tolerance: Fraction  # half a unit of the last significant digit; 0 when exact
    scale: int  # what the suffix multiplies by (1 without one)
    suffix: str
    decimals: int  # digits printed after the point

    def agrees(self, computed) -> bool:
        return abs(computed - self.value) <= self.tolerance


def parse_figure(raw, metric: str, base: int = 1000, step=None) -> Figure:
    """A Figure from a YAML value; ValueError with the reason when it is not one.

    ``step`` is how finely the source rounded this metric (``precision``): a figure
    printed without decimals is held to half of it rather than to its significant
    digits; one printed with decimals keeps its own finer precision."""
    # ValueError for every bad figure, whatever its type: the callers turn exactly that
    # into a located SpecError.
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        if isinstance(raw, float):
            raise ValueError(f"{raw!r} is a decimal number without a suffix")  # noqa: TRY004
        raise ValueError(f"{shown(raw)} is not a figure")  # noqa: TRY004
    if isinstance(raw, int):
        if raw < 0:
            raise ValueError(f"{raw} is negative")
        return Figure(metric, f"{raw:,}", Fraction(raw), Fraction(0), 1, "", 0)
    if len(raw) > MAX_FIGURE_TEXT:
        raise ValueError(f"{shown(raw, 30)} is longer than {MAX_FIGURE_TEXT} characters")
    match = _FIGURE.match(raw.strip())
    if not match:
        raise ValueError(f"{shown(raw)} is not a number with an optional K, M, G or T")
    digits, fraction, suffix = match.groups()
    digits = digits.replace(",", "")
    if not suffix:
        if fraction:
            raise ValueError(f"{shown(raw)} is a decimal number without a suffix")
        return Figure(metric, raw.strip(), Fraction(int(digits)), Fraction(0), 1, "", 0)
    scale = base ** POWERS[suffix]
    mantissa = Fraction(int(digits)) + (Fraction(int(fraction), 10 ** len(fraction))
                                        if fraction else 0)
    if fraction:
        unit = Fraction(1, 10 ** len(fraction))
    else:  # trailing zeros are not significant: 800K is 8 hundred-thousands
        stripped = digits.rstrip("0") or "0"
        unit = Fraction(10 ** (len(digits) - len(stripped))) if stripped != "0" else Fraction(1)
    tolerance = unit * scale / 2
    if step is not None:
        tolerance = min(tolerance, step / 2)
    return Figure(metric, raw.strip(), mantissa * scale, tolerance, scale, suffix,
                  len(fraction or ""))


def read_units(raw, inherited: dict, where, node) -> dict:
    """The base (1000 or 1024) of each metric's suffixes."""
    units = dict(inherited)
    if raw is None:
        return units
    if not isinstance(raw, dict):
        raise SpecError(f"`paper.units` must map metrics to 1000 or 1024, got {shown(raw)}",
                        where=where, node=node, hint="for example `units: {weights: 1024}`")
    for metric, base in raw.items():
        at = raw.where_of(metric) if hasattr(raw, "where_of") else where
        if metric not in METRICS:
            raise SpecError(f"`paper.units` names unknown metric {shown(metric)}", where=at,
                            node=node, hint=f"metrics: {', '.join(METRICS)}")
        if type(base) is not int or base not in UNIT_BASES:
            raise SpecError(f"`paper.units.{metric}` must be 1000 or 1024, got {shown(base)}",
                            where=at, node=node,
                            hint="1024 when the source's K means 1024, as GoogLeNet's "
                                 "params column does")
        units[metric] = base
    return units


def read_precision(raw, inherited: dict, units: dict, where, node) -> dict:
    """metric -> rounding step (an exact count) from `precision: {weights: 1K}`."""
    steps = dict(inherited)
    if raw is None:
        return steps
    if not isinstance(raw, dict):
        raise SpecError(f"`paper.precision` must map metrics to a rounding step, got "
                        f"{shown(raw)}", where=where, node=node,
                        hint="for example `precision: {weights: 1K, macs: 1M}`")
    for metric, value in raw.items():
        at = raw.where_of(metric) if hasattr(raw, "where_of") else where
        if metric not in METRICS:
            raise SpecError(f"`paper.precision` names unknown metric {shown(metric)}",
                            where=at, node=node, hint=f"metrics: {', '.join(METRICS)}")
        try:
            step = parse_figure(value, metric, units.get(metric, 1000)).value
        except ValueError as exc:
            raise SpecError(f"`paper.precision.{metric}`: {exc}", where=at, node=node,
                            hint=FORMAT_HINT) from None
        if step <= 0:
            raise SpecError(f"`paper.precision.{metric}` must be positive", where=at, node=node)
        steps[metric] = step
    return steps


RULES = ("units", "precision")


def read_rules(raw, inherited: dict, where_of, node) -> dict:
    """`units` and `precision` of one `paper:` mapping over those it inherits."""
    units = read_units(raw.get("units"), inherited.get("units", {}), where_of("units"), node)
    steps = read_precision(raw.get("precision"), inherited.get("precision", {}), units,
                           where_of("precision"), node)
    return {"units": units, "precision": steps}


def read_figures(raw, where, node=None, inherited: dict | None = None) -> dict:
    """metric -> Figure from one `paper:` mapping; SpecError naming the bad value."""
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"`paper` must map metrics to figures, got {shown(raw)}",
                        where=where, node=node,
                        hint=f"for example `paper: {{params: 138M}}`; metrics: "
                             f"{', '.join(METRICS)}, and `units`, `precision`")
    where_of = raw.where_of if hasattr(raw, "where_of") else (lambda key: where)
    rules = read_rules(raw, inherited or {}, where_of, node)
    figures = {}
    for metric, value in raw.items():
        if metric in RULES:
            continue
        if metric not in METRICS:
            from archcalc.layers.registry import did_you_mean

            raise SpecError(f"`paper` names unknown metric {shown(metric)}",
                            where=where_of(metric), node=node,
                            hint=did_you_mean(str(metric), METRICS + RULES) or
                            f"metrics: {', '.join(METRICS)}, and `units`, `precision`")
        try:
            figures[metric] = parse_figure(value, metric, rules["units"].get(metric, 1000),
                                           rules["precision"].get(metric))
        except ValueError as exc:
            raise SpecError(f"`paper.{metric}`: {exc}", where=where_of(metric), node=node,
                            hint=FORMAT_HINT) from None
    if not figures:
        raise SpecError("`paper` has rules but no figures", where=where, node=node,
                        hint=f"add one of: {', '.join(METRICS)}")
    return figures


def file_rules(document_paper, where=None) -> dict:
    """The `units` and `precision` a file-level `paper:` gives every node."""
    if not isinstance(document_paper, dict):
        return {}
    where_of = document_paper.where_of if hasattr(document_paper, "where_of") \
        else (lambda key: where)
    return read_rules(document_paper, {}, where_of, "paper")


def node_figures(root, rules: dict) -> dict:
    """Node path -> {metric: Figure}, in spec order. A list on a repeat item gives one
    mapping per copy (copies are named 0..n-1)."""
    from archcalc.spec.model import Branch, Sequence

    found = {}

    def visit(node, inside: str | None):
        if node.paper is not None:
            if inside is not None:
                raise SpecError(f"`paper` figures on both {inside} and its part {node.path}",
                                where=_where(node.paper, node.where), node=node.path,
                                hint="keep the figures of one of them; a table row shows one")
            for path, raw, where in _entries(node):
                found[path] = read_figures(raw, where, path, rules)
            inside = node.path
        if isinstance(node, Sequence):
            for child in node.children:
                visit(child, inside)
        elif isinstance(node, Branch):
            for _, path in node.paths:
                visit(path, inside)

    visit(root, None)
    return found


def _where(raw, fallback):
    return getattr(raw, "where", None) or fallback


def _entries(node):
    """(path, raw mapping, location) for a node's figures: one, or one per repeat copy."""
    from archcalc.spec.model import Sequence

    raw = node.paper
    if not isinstance(raw, list):
        return [(node.path, raw, _where(raw, node.where))]
    copies = node.children if isinstance(node, Sequence) else ()
    numbered = [child for child in copies if child.path.rsplit(".", 1)[-1].isdigit()]
    if not copies or len(numbered) != len(copies) or len(raw) != len(copies):
        raise SpecError(f"a list of {len(raw)} `paper` figures needs an item with "
                        f"`repeat: {len(raw)}`, one mapping per copy",
                        where=_where(raw, node.where), node=node.path,
                        hint="on a single layer write one mapping: `paper: {params: 35K}`")
    where_of = raw.where_of if hasattr(raw, "where_of") else (lambda index: node.where)
    return [(child.path, item, where_of(index)) for index, (child, item)
            in enumerate(zip(copies, raw))]


def spec_figures(spec) -> tuple[dict, dict]:
    """(file-level {metric: Figure}, {node path: {metric: Figure}}) of a loaded spec."""
    raw = spec.paper
    where = spec.raw.where_of("paper") if spec.raw is not None else None
    whole = read_figures(raw, where, "paper") if raw is not None and _has_figures(raw) else {}
    return whole, node_figures(spec.root, file_rules(raw, where))


def check_paper(document, root) -> None:
    """The loader's hook: every `paper:` in the spec is well formed (file level first)."""
    raw = document.get("paper")
    where = document.where_of("paper")
    if raw is not None and _has_figures(raw):
        read_figures(raw, where, "paper")
    node_figures(root, file_rules(raw, where))


def _has_figures(raw) -> bool:
    """A file-level `paper:` may hold only rules (`units`, `precision`) for its nodes."""
    return not (isinstance(raw, dict) and raw and set(raw) <= set(RULES))
