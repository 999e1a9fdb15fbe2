"""How slimming (QAT, pruning) and other extensions plug into the trainer without touching its attributes.

    trainer = Trainer(config, hooks=[QuantAwareTraining()])

The trainer calls every hook, in order, at these points:

- ``on_build(trainer)``: the model is built and its pre-trained weights are loaded (not yet a checkpoint's), the
  loaders, loss and metric exist, the optimizer does not. A hook may change the model in place here (insert
  fake-quant layers, prune filters); the optimizer is then built over the parameters the model has.
- ``configure_optimizer(trainer, optimizer, lr_scheduler)``: returns the pair to train with (default: as given).
- ``on_step_end(trainer, losses)``: after each optimizer step, with the step's loss values (floats).
- ``on_evaluate(trainer, result)``: after each evaluation (every rank), with the metric dict.
- ``on_save(trainer, prefix)``: after a checkpoint is written (rank 0), e.g. to put a side file next to it.
- ``on_train_end(trainer, summary)``: once, with what ``Trainer.train`` returns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Tuple

if TYPE_CHECKING:  # only for the annotations: hooks are handed the trainer, they never import it
    from .trainer import Trainer


class Hook:
    """Does nothing at every point: subclasses override what they need."""

    def on_build(self, trainer: "Trainer") -> None:
        pass

    def configure_optimizer(self, trainer: "Trainer", optimizer: Any, lr_scheduler: Any) -> Tuple[Any, Any]:
        return optimizer, lr_scheduler

    def on_step_end(self, trainer: "Trainer", losses: Dict[str, float]) -> None:
        pass

    def on_evaluate(self, trainer: "Trainer", result: Dict[str, Any]) -> None:
        pass

    def on_save(self, trainer: "Trainer", prefix: str) -> None:
        pass

    def on_train_end(self, trainer: "Trainer", summary: Dict[str, Any]) -> None:
        pass
