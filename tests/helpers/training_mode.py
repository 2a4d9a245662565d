"""Run torchvision's model and the spec-built one in training mode on the same batch with
the same random stream, so dropout masks and stochastic depth noise are drawn in the same
order: their outputs must then agree (tests/test_zoo_*.py)."""
from __future__ import annotations

import torch


def training_outputs(reference, ours, batch) -> tuple:
    """Both models' outputs in training mode, each drawn from seed 1."""
    outputs = []
    for model in (reference.train(), ours.train()):
        torch.manual_seed(1)
        outputs.append(model(batch))
    return tuple(outputs)
