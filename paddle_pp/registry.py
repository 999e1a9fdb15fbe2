"""A small decorator registry: components register themselves by name, configs build them by name.

This replaces PaddleOCR's `eval(name)` over hand-kept whitelists: a typo in a config is an error that
lists what exists, and a new component needs no edit anywhere but its own file.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional


class Registry:
    """Named factories of one kind ("backbone", "neck", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, Callable[..., Any]] = {}

    def register(self, name: Optional[str] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(obj: Callable[..., Any]) -> Callable[..., Any]:
            key = name or obj.__name__
            if key in self._items and self._items[key] is not obj:
                raise KeyError(f"{self.kind} '{key}' is registered twice")
            self._items[key] = obj
            return obj

        return decorate

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.kind} '{name}'; known: {known}")
        return self._items[name]

    def build(self, cfg: Mapping[str, Any], **extra: Any) -> Any:
        """Build from a config mapping whose 'name' picks the factory; other keys are its arguments."""
        if "name" not in cfg:
            raise KeyError(f"{self.kind} config needs a 'name' key, got {dict(cfg)}")
        kwargs = {k: v for k, v in cfg.items() if k != "name"}
        kwargs.update(extra)
        factory = self.get(cfg["name"])
        try:
            return factory(**kwargs)
        except TypeError as exc:  # a misspelt option: say which component rejected it
            raise TypeError(f"{self.kind} '{cfg['name']}': {exc}") from exc

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def names(self) -> list:
        return sorted(self._items)


ARCHITECTURES = Registry("architecture")   # whole models: BaseModel, DistillationModel, ...
BACKBONES = Registry("backbone")
NECKS = Registry("neck")
HEADS = Registry("head")
# Training side: datasets and their data operators, losses, metrics, optimizers and LR schedules.
DATASETS = Registry("dataset")
TRANSFORMS = Registry("data operator")
LOSSES = Registry("loss")
METRICS = Registry("metric")
OPTIMIZERS = Registry("optimizer")
LR_SCHEDULERS = Registry("lr schedule")
