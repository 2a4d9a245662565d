"""Random search whose every draw is fixed by (seed, study, trial number, parameter).

Optuna's RandomSampler draws from one generator per process: two processes given the
same seed draw the same sequence (every trial repeated), and a resumed search starts
the sequence again (earlier draws repeated). Here the store assigns each trial its
number, once, across processes and machines, and the draw follows from that number:
distinct trials get distinct draws, and the same seed reproduces the same study. The
study's name is part of the seed, so a new study explores new points.
"""
from __future__ import annotations

import hashlib

from optuna.samplers import RandomSampler


def draw_seed(seed: int, study: str, trial_number: int, name: str) -> int:
    """A 32-bit seed for one draw; the parameter name keeps parameters independent."""
    digest = hashlib.sha256(f"{seed}/{study}/{trial_number}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


class TrialNumberSampler(RandomSampler):
    def __init__(self, seed: int):
        super().__init__(seed=seed)
        self.base_seed = seed

    def sample_independent(self, study, trial, param_name, param_distribution):
        one_draw = RandomSampler(seed=draw_seed(self.base_seed, study.study_name,
                                                trial.number, param_name))
        return one_draw.sample_independent(study, trial, param_name, param_distribution)
