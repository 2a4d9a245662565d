"""Spec graph -> torch.nn.Module. Everything here imports torch."""
