"""Learning-rate schedules, stepped once per training step, as PaddleOCR 2.x ``ppocr/optimizer/learning_rate.py``.

Each factory turns the ``Optimizer.lr`` section plus the run length (epochs, steps per epoch) into a
``paddle.optimizer.lr.LRScheduler`` (whose ``state_dict`` a checkpoint keeps). Warm-up is given in epochs
(``warmup_epoch``, fractions allowed) and converted to ``round(warmup_epoch * steps_per_epoch)`` steps; during it
the rate climbs linearly from 0. After warm-up the wrapped schedule runs from its own step 0.

- ``Cosine``: cosine annealing from ``learning_rate`` towards 0 over ``epochs * steps_per_epoch`` steps (the
  warm-up steps included in that length, as PaddleOCR, so with warm-up the last rate is slightly above 0).
- ``Piecewise``: ``values[i]`` until epoch ``decay_epochs[i]``.
- ``Const``: ``learning_rate`` throughout.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from paddle.optimizer import lr as lr_mod

from paddle_pp.registry import LR_SCHEDULERS


def _with_warmup(schedule: Any, warmup_steps: int, end_lr: float, last_epoch: int = -1) -> lr_mod.LRScheduler:
    if warmup_steps <= 0:
        return schedule if isinstance(schedule, lr_mod.LRScheduler) else lr_mod.LambdaDecay(schedule, lambda _: 1.0)
    return lr_mod.LinearWarmup(learning_rate=schedule, warmup_steps=warmup_steps, start_lr=0.0, end_lr=end_lr,
                               last_epoch=last_epoch)


@LR_SCHEDULERS.register("Cosine")
def cosine(learning_rate: float, epochs: int, step_each_epoch: int, warmup_epoch: float = 0,
           last_epoch: int = -1) -> lr_mod.LRScheduler:
    total = max(1, int(step_each_epoch * epochs))
    schedule = lr_mod.CosineAnnealingDecay(learning_rate=learning_rate, T_max=total, last_epoch=last_epoch)
    return _with_warmup(schedule, round(warmup_epoch * step_each_epoch), learning_rate, last_epoch)


@LR_SCHEDULERS.register("Piecewise")
def piecewise(decay_epochs: Sequence[float], values: Sequence[float], epochs: int, step_each_epoch: int,
              warmup_epoch: float = 0, last_epoch: int = -1, learning_rate: Optional[float] = None
              ) -> lr_mod.LRScheduler:
    if len(values) != len(decay_epochs) + 1:
        raise ValueError(f"Piecewise: needs len(values) == len(decay_epochs) + 1, got {len(values)} values and "
                         f"{len(decay_epochs)} decay_epochs")
    boundaries = [int(step_each_epoch * e) for e in decay_epochs]
    schedule = lr_mod.PiecewiseDecay(boundaries=boundaries, values=list(values), last_epoch=last_epoch)
    return _with_warmup(schedule, round(warmup_epoch * step_each_epoch), values[0], last_epoch)


@LR_SCHEDULERS.register("Const")
def const(learning_rate: float, epochs: int, step_each_epoch: int, warmup_epoch: float = 0,
          last_epoch: int = -1) -> lr_mod.LRScheduler:
    warmup = round(warmup_epoch * step_each_epoch)
    if warmup <= 0:
        return lr_mod.LambdaDecay(learning_rate=learning_rate, lr_lambda=lambda _: 1.0, last_epoch=last_epoch)
    return lr_mod.LinearWarmup(learning_rate=learning_rate, warmup_steps=warmup, start_lr=0.0,
                               end_lr=learning_rate, last_epoch=last_epoch)


def build_lr_scheduler(cfg: Any, epochs: int, step_each_epoch: int) -> lr_mod.LRScheduler:
    """``cfg`` is the ``Optimizer.lr`` section (a mapping with 'name'), or a bare number meaning Const."""
    if isinstance(cfg, (int, float)):
        cfg = {"name": "Const", "learning_rate": float(cfg)}
    cfg = dict(cfg)
    cfg.setdefault("name", "Const")
    return LR_SCHEDULERS.build(cfg, epochs=epochs, step_each_epoch=max(1, int(step_each_epoch)))
