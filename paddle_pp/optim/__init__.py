"""Optimizers, learning-rate schedules and weight-decay groups (``Optimizer`` section of a config)."""
from .lr_scheduler import build_lr_scheduler, const, cosine, piecewise
from .optimizer import build_grad_clip, build_optimizer, build_regularizer, decay_table

__all__ = ["build_optimizer", "build_lr_scheduler", "build_regularizer", "build_grad_clip", "decay_table",
           "cosine", "piecewise", "const"]
