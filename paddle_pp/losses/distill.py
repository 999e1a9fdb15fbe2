"""What the distillation losses share: picking one sub-model's outputs from a DistillationModel's ``{name: outputs}``
(modeling/distillation.py)."""
from __future__ import annotations

from typing import Any, Mapping


def sub_model_output(predicts: Any, name: str, loss_name: str) -> Any:
    """``predicts[name]``, or an error that says the loss needs a DistillationModel with that sub-model."""
    if not isinstance(predicts, Mapping) or name not in predicts:
        got = list(predicts) if isinstance(predicts, Mapping) else type(predicts).__name__
        raise KeyError(f"{loss_name} compares the outputs of sub-models of a DistillationModel (Architecture.Models); "
                       f"it needs '{name}', got {got}")
    return predicts[name]
