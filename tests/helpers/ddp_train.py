"""Run by tests/test_distributed.py, under torchrun or alone: train lenet5 for a few
steps and save this process's final weights and torch thread count to OUT/rank<R>.pt
(the runner itself writes its files from rank 0 only)."""
import os
import sys

import torch

from archcalc.train.config import TrainConfig
from archcalc.train.runner import train

out, batch_size, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = TrainConfig(spec="lenet5", data="digits", max_steps=steps, epochs=1,
                     batch_size=batch_size, lr=0.05, weight_decay=0.0, checks=False,
                     augment=False, seed=0, out=os.path.join(out, "run"))
result = train(config)
rank = int(os.environ.get("RANK", "0"))
torch.save({"status": result.status, "steps": result.steps,
            "threads": torch.get_num_threads(),
            "weights": result.model.state_dict()}, os.path.join(out, f"rank{rank}.pt"))
