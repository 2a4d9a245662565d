"""The lecture's two plots ("Monitor and visualize the loss curve / the accuracy") and
its reading of the accuracy gap: "big gap = overfitting => increase regularization
strength?"; "no gap => increase model capacity?"."""
from __future__ import annotations

BIG_GAP = 0.10   # train accuracy 10 points above validation
NO_GAP = 0.02


def diagnose(history: list[dict]) -> str:
    """One line on the last epoch's gap between training and validation accuracy."""
    if not history:
        return "no epoch finished: nothing to diagnose"
    last = history[-1]
    train, val = last["train_acc"], last["val_acc"]
    gap = train - val
    figures = f"train {train:.1%}, validation {val:.1%}"
    if gap > BIG_GAP:
        return (f"big gap ({figures}): overfitting; increase the regularisation "
                "(--weight-decay, dropout) or get more data")
    if gap < NO_GAP:
        if train >= 0.99:
            return f"no gap ({figures}): the model fits the data and generalises"
        return (f"no gap ({figures}): underfitting; increase the model's capacity "
                "(or train longer)")
    return f"small gap ({figures}): a healthy amount; watch it as training goes on"


def plot_curves(history: list[dict], step_losses: list, path) -> None:
    # A bare Figure renders with Agg without pyplot: no display needed, and the
    # backend of a program that calls train() (a notebook) is left alone.
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history]
    figure = Figure(figsize=(11, 4))
    loss_axis, acc_axis = figure.subplots(1, 2)
    if step_losses:
        steps, losses = zip(*step_losses)
        loss_axis.plot(steps, losses, linewidth=0.6, alpha=0.6, label="training batches")
    loss_axis.plot([r["step"] for r in history], [r["val_loss"] for r in history], "o-",
                   label="validation")
    loss_axis.set(xlabel="step", ylabel="loss", title="loss", yscale="log")
    loss_axis.legend()
    acc_axis.plot(epochs, [r["train_acc"] for r in history], "o-", label="train")
    acc_axis.plot(epochs, [r["val_acc"] for r in history], "o-", label="validation")
    acc_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    acc_axis.legend()
    figure.suptitle(diagnose(history), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
