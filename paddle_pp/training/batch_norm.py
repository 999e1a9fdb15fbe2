"""Batch-norm statistics after a model's structure changed (pruning).

Pruning removes filters, so every batch norm after a pruned conv normalizes activations whose mean and variance no
longer match its running statistics. Evaluated as it is, a pruned detector then finds nothing at all, and a
fine-tune with frozen batch norms (Global.freeze_bn) starts from those stale statistics. Re-estimating them on a
few hundred training images without any gradient step ("adaptive BN", Li et al., EagleEye, ECCV 2020) restores
much of the pruned model's accuracy for free.
"""
from __future__ import annotations

from typing import Iterable, List

import numpy as np
import paddle


def batch_norms(model: paddle.nn.Layer) -> List[paddle.nn.Layer]:
    return [layer for layer in model.sublayers(include_self=True)
            if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]


def recalibrate_batch_norm(model: paddle.nn.Layer, images: Iterable[paddle.Tensor], max_batches: int) -> int:
    """Replace every batch norm's running mean and variance by those of the activations over the first
    `max_batches` batches of `images` (NCHW tensors), forward passes only. The variance is the law of total
    variance over the batches (mean of the batch variances + variance of the batch means), so small batches, one
    image each included, do not underestimate it. The model's mode, the layers' momentum and any frozen
    statistics (Global.freeze_bn) are as before afterwards. Returns the number of batches used."""
    norms = batch_norms(model)
    if not norms or max_batches <= 0:
        return 0
    saved = [(layer._momentum, getattr(layer, "_use_global_stats", None)) for layer in norms]
    old = [(layer._mean.numpy().copy(), layer._variance.numpy().copy()) for layer in norms]
    sums = [[np.zeros_like(mean), np.zeros_like(mean), np.zeros_like(mean)] for mean, _ in old]
    was_training = model.training
    for layer in norms:
        layer._use_global_stats = False  # normalize with each batch's own statistics
        layer._momentum = 0.0            # ... and leave exactly them in the running buffers
    model.train()
    used = 0
    try:
        with paddle.no_grad():
            for batch in images:
                if used >= max_batches:
                    break
                model(batch)
                used += 1
                for layer, (mean_sum, square_sum, var_sum) in zip(norms, sums):
                    mean = layer._mean.numpy()
                    mean_sum += mean
                    square_sum += mean * mean
                    var_sum += layer._variance.numpy()
    finally:
        for layer, (momentum, use_global), (mean, variance), (mean_sum, square_sum, var_sum) in zip(
                norms, saved, old, sums):
            layer._momentum = momentum
            layer._use_global_stats = use_global
            if used:
                mean, variance = mean_sum / used, var_sum / used + np.maximum(square_sum / used - (mean_sum / used) ** 2, 0)
            layer._mean.set_value(mean.astype("float32"))
            layer._variance.set_value(variance.astype("float32"))
        if not was_training:
            model.eval()
    return used
