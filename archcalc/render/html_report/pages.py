"""The analyses one report runs: each model at numbers (table, derivations, saved
bytes), its formulas when the input was given in letters, and, for several models,
their totals side by side as `archcalc compare` gives them."""
from __future__ import annotations

from archcalc.render import units
from archcalc.render.html_report.model_data import model_data, symbolic_formulas


def model_page(spec, *, shape=None, symbolic_shape=None, batch: int = 1, dtype: str = "fp32",
               assume=()) -> dict:
    """One model's data. ``shape``: a numeric input (None: the spec's own); with
    ``symbolic_shape`` (letters) the numbers are at the spec's own input and every row
    also carries its formulas."""
    from archcalc.analysis.explain import explain
    from archcalc.analysis.limits import analyze_explained

    report = analyze_explained(spec, shape, batch=batch, dtype=dtype, check_expect=False)
    if report.unknown:  # its charts and shares need every node's cost
        from archcalc.errors import ArchcalcError

        names = sorted({name for names in report.unknown.values() for name in names})
        raise ArchcalcError(f"the HTML report of {spec.name} needs every node's MACs and "
                            f"FLOPs; {len(names)} opaque node(s) have none "
                            f"({', '.join(names[:5])})",
                            hint="`archcalc table` shows the known part as a lower bound")
    derivations = explain(spec, shape)
    formulas = None
    if symbolic_shape is not None:
        from archcalc.analysis.symbolic import analyze_symbolic

        result = analyze_symbolic(spec, symbolic_shape, dtype=dtype, assume=assume)
        formulas = symbolic_formulas(result, report)
    data = model_data(spec, report, derivations, formulas)
    if symbolic_shape is not None:
        data["symbolic_input"] = " x ".join(str(d) for d in symbolic_shape)
        data["assumptions"] = list(result.assumptions.text)
    return data


def compare_data(specs, *, shape=None, dtype: str = "fp32") -> dict:
    """The models' totals per image with ratios to the first, `archcalc compare`'s."""
    from archcalc.analysis.side_by_side import model_totals, ratios
    from archcalc.render.side_by_side import HEADERS, sentences

    models = [model_totals(spec, shape, dtype=dtype) for spec in specs]
    base = models[0]
    rows = []
    for model in models:
        found = ratios(base, model)
        rows.append([model.name, units.shape(model.input),
                     *(_with_ratio(text, found[key]) for key, text in (
                         ("params", units.grouped(model.params)),
                         ("macs", units.grouped(model.macs)),
                         ("flops", units.grouped(model.flops)),
                         ("activations", units.size_bytes(model.activation_bytes)),
                         ("depth", str(model.depth))))])
    bars = {label: {"values": [getattr(m, key) for m in models],
                    "texts": [formatter(getattr(m, key)) for m in models]}
            for label, key, formatter in (
                ("params", "params", units.si), ("MACs", "macs", units.si),
                ("FLOPs", "flops", units.si),
                ("activation memory", "activation_bytes", units.size_bytes),
                ("depth (weight layers)", "depth", str))}
    return {"headers": list(HEADERS), "rows": rows, "sentences": sentences(models),
            "names": [m.name for m in models], "bars": bars,
            "caption": f"Per image; activation memory is forward only at {dtype} "
                       "(MB = 10^6 bytes); (x) is the ratio to the first model."}


def _with_ratio(text: str, ratio) -> str:
    return text if ratio is None else f"{text} ({units.ratio(float(ratio))})"
