"""Optimizers from a config's ``Optimizer`` section, as PaddleOCR 2.x ``ppocr/optimizer``.

    Optimizer: {name: Adam, beta1: 0.9, beta2: 0.999, clip_norm: 10,
                lr: {name: Cosine, learning_rate: 0.001, warmup_epoch: 2},
                regularizer: {name: L2, factor: 1.0e-5}}

Weight decay follows Paddle's (and so PaddleOCR's) rule: the ``regularizer`` applies to every trainable parameter
whose ``ParamAttr`` has no regularizer of its own; a parameter-level regularizer (the CTC head's ``fc_decay``)
overrides it. The decay is coupled (added to the gradient before the Adam moments), as ``L2Decay`` does.
``clip_norm`` (optional) clips the global norm of all gradients together.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import paddle
from paddle import regularizer as reg_mod

from paddle_pp.registry import OPTIMIZERS

from .lr_scheduler import build_lr_scheduler


def build_regularizer(cfg: Optional[Mapping[str, Any]]):
    """{name: L2|L2Decay|L1|L1Decay, factor: f} -> a Paddle regularizer, or None (no section, or factor 0)."""
    if not cfg:
        return None
    cfg = dict(cfg)
    name = cfg.pop("name", "L2")
    factor = float(cfg.pop("factor", 0.0))
    if cfg:
        raise TypeError(f"regularizer: unknown keys {sorted(cfg)}")
    if factor == 0:
        return None
    name = name[:-5] if name.endswith("Decay") else name
    if name == "L2":
        return reg_mod.L2Decay(factor)
    if name == "L1":
        return reg_mod.L1Decay(factor)
    raise ValueError(f"regularizer: name must be L2 or L1, got '{name}'")


def build_grad_clip(clip_norm: Optional[float]):
    return paddle.nn.ClipGradByGlobalNorm(clip_norm=float(clip_norm)) if clip_norm else None


@OPTIMIZERS.register("Adam")
def adam(learning_rate, parameters, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
         weight_decay=None, grad_clip=None, lazy_mode: bool = False):
    return paddle.optimizer.Adam(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                 parameters=parameters, weight_decay=weight_decay, grad_clip=grad_clip,
                                 lazy_mode=lazy_mode)


@OPTIMIZERS.register("Momentum")
def momentum(learning_rate, parameters, momentum: float = 0.9, weight_decay=None, grad_clip=None,
             use_nesterov: bool = False):
    return paddle.optimizer.Momentum(learning_rate=learning_rate, momentum=momentum, parameters=parameters,
                                     weight_decay=weight_decay, grad_clip=grad_clip, use_nesterov=use_nesterov)


@OPTIMIZERS.register("SGD")
def sgd(learning_rate, parameters, weight_decay=None, grad_clip=None):
    return paddle.optimizer.SGD(learning_rate=learning_rate, parameters=parameters, weight_decay=weight_decay,
                                grad_clip=grad_clip)


def build_optimizer(cfg: Mapping[str, Any], epochs: int, steps_per_epoch: int, model: paddle.nn.Layer
                    ) -> Tuple[paddle.optimizer.Optimizer, paddle.optimizer.lr.LRScheduler]:
    """The optimizer over ``model``'s trainable parameters and its per-step LR schedule."""
    cfg = dict(cfg)
    lr_cfg = cfg.pop("lr", {"name": "Const", "learning_rate": 0.001})
    scheduler = build_lr_scheduler(lr_cfg, epochs, steps_per_epoch)
    weight_decay = build_regularizer(cfg.pop("regularizer", None))
    clip_norm = cfg.pop("clip_norm", None) or cfg.pop("clip_norm_global", None)
    cfg.pop("clip_norm_global", None)
    params = [p for p in model.parameters() if not p.stop_gradient]
    optimizer = OPTIMIZERS.build(cfg, learning_rate=scheduler, parameters=params, weight_decay=weight_decay,
                                 grad_clip=build_grad_clip(clip_norm))
    return optimizer, scheduler


def decay_table(model: paddle.nn.Layer, cfg: Mapping[str, Any]) -> Dict[str, Tuple[str, float]]:
    """Which decay each trainable parameter gets: {name: (kind, coeff)}, kind 'param' (its own ParamAttr
    regularizer), 'optimizer' (the Optimizer.regularizer) or 'none'. For logs and tests."""
    global_reg = build_regularizer(cfg.get("regularizer"))
    table = {}
    for name, p in model.named_parameters():
        if p.stop_gradient:
            continue
        own = getattr(p, "regularizer", None)
        if own is not None:
            table[name] = ("param", float(own._coeff))
        elif global_reg is not None:
            table[name] = ("optimizer", float(global_reg._coeff))
        else:
            table[name] = ("none", 0.0)
    return table
