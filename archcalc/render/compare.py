"""Forms of a comparison: a rich table with ratio sentences, and a plain dict for JSON."""
from __future__ import annotations

from archcalc.analysis.compare import METRICS, ModelTotals, describe, ratios
from archcalc.render import units

HEADERS = ("model", "input", "params", "MACs", "FLOPs", "activation memory",
           "depth (weight layers)")


def _cell(value: str, ratio) -> str:
    if ratio is None:
        return value
    return f"{value} ({units.ratio(float(ratio))})"


def comparison_table(models: list[ModelTotals], dtype: str):
    from rich.table import Table

    base = models[0]
    table = Table(title=f"{len(models)} models, ratios to {base.name}", header_style="bold",
                  caption=f"Per image; activation memory is forward only at {dtype} "
                          "(MB = 10^6 bytes); (x) is the ratio to the first model.",
                  caption_justify="left")
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index < 2 else "right")
    for model in models:
        found = ratios(base, model)
        table.add_row(model.name, units.shape(model.input),
                      _cell(units.grouped(model.params), found["params"]),
                      _cell(units.grouped(model.macs), found["macs"]),
                      _cell(units.grouped(model.flops), found["flops"]),
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
                       for key, *_ in METRICS},
            "summary": describe(base, model) if model is not base else None,
        })
    return {"baseline": base.name, "dtype": dtype, "models": entries}
