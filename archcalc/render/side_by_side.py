"""Forms of a comparison (`archcalc compare`): a rich table, the ratios in words as the
lecture writes them ("Compared to AlexNet: 12X less params, 2x more compute"), and a plain
dict for JSON."""
from __future__ import annotations

from fractions import Fraction

from archcalc.analysis.side_by_side import METRICS, ModelTotals, ratios
from archcalc.render import units

HEADERS = ("model", "input", "params", "MACs", "FLOPs", "activation memory",
           "depth (weight layers)")
# metric -> (what it counts, word when the model has less of it, word when more)
WORDS = {
    "params": ("parameters", "fewer", "more"),
    "macs": ("MACs", "fewer", "more"),
    "flops": ("FLOPs", "fewer", "more"),
    "activations": ("activation memory", "less", "more"),
    "depth": ("weight layers", "fewer", "more"),
}


def _phrase(ratio: Fraction, label: str, fewer: str, more: str) -> str:
    if ratio == 1:
        return f"the same {label}"
    word, factor = (more, ratio) if ratio > 1 else (fewer, 1 / ratio)
    shown = units.ratio(float(factor))
    if shown == units.ratio(1.0):  # within half a percent: "1x more" would mislead
        return f"about the same {label}"
    return f"{shown} {word} {label}"


def describe(base: ModelTotals, other: ModelTotals) -> str:
    """'googlenet: 8.91x fewer parameters, 1.39x more MACs, ... than alexnet; 22 weight
    layers deep against 8'."""
    found = ratios(base, other)
    phrases = [_phrase(found[key], *WORDS[key]) for key in METRICS[:-1]
               if found[key] is not None]
    if other.input != base.input:
        inputs = f" (at {units.shape(other.input)} against {units.shape(base.input)})"
    else:
        inputs = ""
    listed = ", ".join(phrases[:-1]) + f" and {phrases[-1]}" if len(phrases) > 1 \
        else "".join(phrases)
    unknown = [model for model in (base, other) if model.unknown]
    caveat = "".join(f"; {model.name}'s MACs and FLOPs are unknown for {len(model.unknown)} "
                     "node(s), so they are not compared" for model in unknown)
    return (f"{other.name}: {listed} than {base.name}{inputs}; {other.depth} weight layers "
            f"deep against {base.depth}{caveat}")


def _cell(value: str, ratio) -> str:
    if ratio is None:
        return value
    return f"{value} ({units.ratio(float(ratio))})"


def _count(model: ModelTotals, value) -> str:
    """A MAC or FLOP total, "at least" where some of the model's nodes are unknown."""
    return f"at least {units.grouped(value)}" if model.unknown else units.grouped(value)


def comparison_table(models: list[ModelTotals], dtype: str):
    from archcalc.render.rich_table import Table

    base = models[0]
    table = Table(title=f"{len(models)} models, ratios to {base.name}", header_style="bold",
                  caption=f"Per image; activation memory is forward only at {dtype} "
                          "(MB = 10^6 bytes); (x) is the ratio to the first model."
                          + "".join(f" {model.name}: MACs and FLOPs unknown for "
                                    f"{len(model.unknown)} opaque node(s) "
                                    f"({', '.join(model.unknown[:3])}"
                                    f"{', ...' if len(model.unknown) > 3 else ''})."
                                    for model in models if model.unknown),
                  caption_justify="left")
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index < 2 else "right")
    for model in models:
        found = ratios(base, model)
        table.add_row(model.name, units.shape(model.input),
                      _cell(units.grouped(model.params), found["params"]),
                      _cell(_count(model, model.macs), found["macs"]),
                      _cell(_count(model, model.flops), found["flops"]),
                      _cell(units.size_bytes(model.activation_bytes), found["activations"]),
                      _cell(str(model.depth), found["depth"]))
    return table


def sentences(models: list[ModelTotals]) -> list[str]:
    return [describe(models[0], model) for model in models[1:]]


def comparison_dict(models: list[ModelTotals], dtype: str) -> dict:
    base = models[0]
    entries = []
    for model in models:
        found = ratios(base, model)
        entries.append({
            "name": model.name, "title": model.title, "input": list(model.input),
            "params": model.params, "macs": model.macs, "flops": model.flops,
            "activations": model.activations, "activation_bytes": model.activation_bytes,
            "depth": model.depth,
            "ratios": {key: float(found[key]) if found[key] is not None else None
                       for key in METRICS},
            "summary": describe(base, model) if model is not base else None,
            # present only when some nodes' cost is unknown: macs, flops are lower bounds
            **({"unknown": list(model.unknown)} if model.unknown else {}),
        })
    return {"baseline": base.name, "dtype": dtype, "models": entries}
