"""One search trial: a configuration trained by the ordinary runner, quietly.

Learning rate, weight decay, momentum and batch size go straight into the
TrainConfig. Dropout is a property of the architecture, so a trial with a
``dropout`` value trains a copy of the spec whose dropout layers (and the
dropout folded into ``fc`` layers) use it, written to the trial's folder with
the spec writer. Babysitting checks are off: the search's own explosion guard
and pruner judge each trial. Each trial trains in a temporary folder that is
removed afterwards; only its figures reach the study.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from archcalc.spec.model import Layer, Params, children_of, map_layers


@dataclass(frozen=True)
class TrialOutcome:
    status: str          # "ok" or "exploded"
    val_acc: float | None
    step: int | None = None
    value: float | None = None


def with_dropout(node, probability: float):
    """The graph with every dropout probability set to ``probability``."""
    def change(layer):
        if layer.kind == "dropout":
            return replace(layer, params=Params({**layer.params, "p": probability}))
        if layer.kind == "fc" and layer.params.get("dropout"):
            return replace(layer, params=Params({**layer.params, "dropout": probability}))
        return layer

    return map_layers(node, change)


def has_dropout(node) -> bool:
    if isinstance(node, Layer):
        return node.kind == "dropout" or bool(node.kind == "fc" and node.params.get("dropout"))
    return any(has_dropout(child) for child in children_of(node))


def require_dropout(spec_name: str):
    """The loaded spec, or an error when it has no dropout for ``--param dropout`` to set."""
    from archcalc.errors import ArchcalcError
    from archcalc.spec.loader import load_spec

    spec = load_spec(spec_name)
    if not has_dropout(spec.root):
        raise ArchcalcError(f"{spec.name} has no dropout layer, so searching dropout changes "
                            "nothing", hint="drop --param dropout=... for this spec")
    return spec


def spec_with_dropout(spec_name: str, probability: float, folder: Path) -> str:
    from archcalc.spec.writer import to_yaml

    spec = require_dropout(spec_name)
    changed = replace(spec, root=with_dropout(spec.root, probability))
    path = folder / f"{spec.name}-dropout.yaml"
    path.write_text(to_yaml(changed), encoding="utf-8")
    return str(path)


def trial_runner(job):
    from archcalc.analysis.shape_text import parse_numeric_shape
    from archcalc.train.config import TrainConfig
    from archcalc.train.runner import train

    def run_trial(values: dict, epochs: int, on_epoch) -> TrialOutcome:
        with tempfile.TemporaryDirectory(prefix="archcalc-trial-") as folder:
            spec = job.spec
            if "dropout" in values:
                spec = spec_with_dropout(job.spec, values["dropout"], Path(folder))
            shape = None if job.input_text is None else parse_numeric_shape(job.input_text)
            base = TrainConfig(spec=spec, data=job.data, input=shape,
                               epochs=epochs, seed=job.seed, checks=False,
                               out=str(Path(folder) / "run"))
            overrides = {key: values[key] for key in ("lr", "weight_decay", "momentum",
                                                      "batch_size") if key in values}
            result = train(replace(base, **overrides), on_epoch=on_epoch)
        if result.status == "interrupted":
            # The loop stops at Ctrl-C and returns its partial figures: a cut trial
            # must not be recorded as finished, so the interrupt goes on.
            raise KeyboardInterrupt
        if result.status == "exploded":
            return TrialOutcome("exploded", result.best_val_acc, result.explosion["step"],
                                result.explosion["value"])
        return TrialOutcome("ok", result.best_val_acc)

    return run_trial
