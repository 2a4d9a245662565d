"""The bundled training runner: ``archcalc build NAME --train`` and ``archcalc babysit``.

``from archcalc.train import TrainConfig, train`` gives the Python entry point;
torch is imported only when ``train``/``babysit`` are first used.
"""
from __future__ import annotations

from archcalc.train.config import TrainConfig

__all__ = ["TrainConfig", "train", "babysit", "resume_config", "TrainResult"]


def __getattr__(name):
    if name in ("train", "babysit", "resume_config", "TrainResult"):
        from archcalc.train import runner

        return getattr(runner, name)
    raise AttributeError(name)
