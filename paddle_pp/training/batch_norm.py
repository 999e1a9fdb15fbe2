"""Batch-norm statistics after a model's structure changed (pruning).

Pruning removes filters, so every batch norm after a pruned conv normalizes activations whose mean and variance no
longer match its running statistics. Evaluated as it is, a pruned detector then finds nothing at all, and a
fine-tune with frozen batch norms (Global.freeze_bn) starts from those stale statistics. Re-estimating them on a
few hundred training images without any gradient step ("adaptive BN", Li et al., EagleEye, ECCV 2020) restores
much of the pruned model's accuracy for free.
"""
from __future__ import annotations

from typing import Iterable, List

import paddle


def batch_norms(model: paddle.nn.Layer) -> List[paddle.nn.Layer]:
    return [layer for layer in model.sublayers(include_self=True)
            if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]


def recalibrate_batch_norm(model: paddle.nn.Layer, images: Iterable[paddle.Tensor], max_batches: int) -> int:
    """Replace every batch norm's running mean and variance by their average over the first `max_batches`
    batches of `images` (NCHW tensors), forward passes only. The model's mode, the layers' momentum and any
    frozen statistics (Global.freeze_bn) are as before afterwards. Returns the number of batches used."""
    norms = batch_norms(model)
    if not norms or max_batches <= 0:
        return 0
    saved = [(layer._momentum, getattr(layer, "_use_global_stats", None)) for layer in norms]
    was_training = model.training
    for layer in norms:  # the first batch's momentum of 0 overwrites the old statistics
        layer._use_global_stats = False  # normalize with, and so accumulate, each batch's own statistics
    model.train()
    used = 0
    try:
        with paddle.no_grad():
            for batch in images:
                if used >= max_batches:
                    break
                used += 1
                for layer in norms:  # running = momentum * running + (1 - momentum) * batch: a plain average
                    layer._momentum = 1.0 - 1.0 / used
                model(batch)
    finally:
        for layer, (momentum, use_global) in zip(norms, saved):
            layer._momentum = momentum
            layer._use_global_stats = use_global
        if not was_training:
            model.eval()
    return used
