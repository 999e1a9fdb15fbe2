"""Training and evaluation: the generic loop, checkpoints, per-model-type adapters, logs and plots."""
from .adapters import ADAPTERS, build_adapter
from .checkpoint import (CheckpointError, load_checkpoint, load_pretrained_weights, resolve_pretrained,
                         save_checkpoint)
from .trainer import Trainer, evaluate, init_distributed, to_tensors, world_size

__all__ = ["Trainer", "evaluate", "ADAPTERS", "build_adapter", "save_checkpoint", "load_checkpoint",
           "load_pretrained_weights", "resolve_pretrained", "CheckpointError", "init_distributed", "world_size",
           "to_tensors"]
