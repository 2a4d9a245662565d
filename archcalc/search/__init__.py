"""Hyperparameter search: the lecture's coarse-to-fine random search on an Optuna store."""
