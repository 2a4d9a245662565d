"""What a study holds, as rows sorted by validation accuracy, and its picture."""
from __future__ import annotations

import math

from archcalc.files import write_atomic


def trial_rows(study) -> list[dict]:
    rows = []
    for trial in study.trials:
        if trial.user_attrs.get("surplus"):  # claimed in a race and never trained
            continue
        status = trial.user_attrs.get("status")
        state = trial.state.name.lower()
        if status == "exploded":
            state = "exploded"
        rows.append({"trial": trial.number, "stage": trial.user_attrs.get("stage", ""),
                     "state": state, "val_acc": trial.value, "params": dict(trial.params),
                     "exploded_step": trial.user_attrs.get("exploded_step")})
    rows.sort(key=lambda row: (row["val_acc"] is None, -(row["val_acc"] or 0.0)))
    return rows


def plot_study(rows: list[dict], space, path) -> None:
    """Validation accuracy over each parameter, log axes where the range is log."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [param.name for param in space] or sorted({k for r in rows for k in r["params"]})
    figure, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.6),
                                squeeze=False)
    logs = {param.name: param.log for param in space}
    for axis, name in zip(axes[0], names):
        done = [r for r in rows if r["val_acc"] is not None and name in r["params"]]
        other = [r for r in rows if r["val_acc"] is None and name in r["params"]]
        axis.scatter([r["params"][name] for r in done], [r["val_acc"] for r in done],
                     c="tab:blue", label="finished")
        if other:
            axis.scatter([r["params"][name] for r in other], [0.0] * len(other), marker="x",
                         c="tab:red", label="pruned / exploded")
        if logs.get(name, _looks_logarithmic([r["params"][name] for r in done + other])):
            axis.set_xscale("log")
        axis.set_xlabel(name)
        axis.set_ylabel("validation accuracy")
        axis.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize="small")
    figure.tight_layout()
    try:
        write_atomic(path, lambda file: figure.savefig(file, format="png", dpi=100))
    finally:
        plt.close(figure)


def _looks_logarithmic(values) -> bool:
    positive = [v for v in values if v and v > 0]
    return len(positive) >= 2 and max(positive) / min(positive) > 100 and not math.isnan(
        max(positive))
