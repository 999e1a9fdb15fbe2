"""Per-model-type glue between the generic training loop and a model's outputs.

The loop never asks what kind of model it trains: an adapter (registered by ``Architecture.model_type``) fixes up
the config before the model is built (the head size from the dictionary / label list, as PaddleOCR does) and
turns eval-mode outputs plus a batch into what the metric compares: ``(preds, targets)`` for
``metric(preds, targets)``.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np

from paddle_pp.registry import Registry

ADAPTERS = Registry("model-type adapter")
log = logging.getLogger("paddle_pp.train")


def to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def head_sections(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The Architecture's Head section, or every sub-model's of a DistillationModel (teacher and student must
    both fit the dictionary)."""
    from paddle_pp.modeling.distillation import is_distillation

    arch = config["Architecture"]
    models = arch.get("Models") if is_distillation(arch) else None
    sections = [m.get("Head") for m in models.values()] if isinstance(models, Mapping) else [arch.get("Head")]
    return [head for head in sections if isinstance(head, dict)]


class Adapter:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config

    def prepare_config(self, config: Dict[str, Any]) -> None:
        """Adjust the Architecture before the model is built (in place)."""

    def postprocess(self, outputs: Any, batch: Mapping[str, Any]) -> Tuple[Any, Any]:
        raise NotImplementedError


@ADAPTERS.register("det")
class DetAdapter(Adapter):
    """Probability map -> boxes (DBPostProcess with the batch's shape rows); targets are the batch itself."""

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        from paddle_pp.postprocess.db_postprocess import DBPostProcess

        kwargs = {k: v for k, v in config["PostProcess"].items() if k != "name"}
        self.post = DBPostProcess(**kwargs)

    def postprocess(self, outputs: Any, batch: Mapping[str, Any]) -> Tuple[Any, Any]:
        if isinstance(outputs, Mapping):
            outputs = outputs.get("maps", outputs.get("shrink_maps"))
        boxes = self.post(to_numpy(outputs), to_numpy(batch["shape"]))
        return boxes, batch


@ADAPTERS.register("rec")
class RecAdapter(Adapter):
    """Softmax -> greedy CTC text; the label indices decode with the same characters (0 = blank/padding)."""

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        from paddle_pp.postprocess.ctc_decode import CTCLabelDecode, mixed_case_prior
        from paddle_pp.utils.dicts import rec_characters

        # the label encoder's characters (CTCLabelEncode uses the same function), so head, labels and decoder agree
        self.post = CTCLabelDecode.from_characters(rec_characters(config["Global"])[0], mixed_case_prior(config))
        self.characters = self.post.characters

    def prepare_config(self, config: Dict[str, Any]) -> None:
        n = len(self.characters)
        for head in head_sections(config):
            if head.get("out_channels") != n:
                log.info("rec head: out_channels %s -> %d (blank + dictionary%s)", head.get("out_channels"), n,
                         " + space" if self.characters[-1] == " " else "")
                head["out_channels"] = n

    def decode_labels(self, label: Any, length: Any = None) -> List[str]:
        label = to_numpy(label).astype(np.int64)
        lengths = to_numpy(length).reshape(-1) if length is not None else [None] * len(label)
        texts = []
        for row, n in zip(label, lengths):
            row = row[: int(n)] if n is not None else row[row > 0]
            texts.append("".join(self.characters[i] for i in row if 0 < i < len(self.characters)))
        return texts

    def postprocess(self, outputs: Any, batch: Mapping[str, Any]) -> Tuple[Any, Any]:
        preds = self.post(to_numpy(outputs))
        return preds, {"label_text": self.decode_labels(batch["label"], batch.get("length"))}


@ADAPTERS.register("cls")
class ClsAdapter(Adapter):
    """Softmax -> (label, score); integer labels index Global.label_list."""

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        from paddle_pp.postprocess.cls_postprocess import ClsPostProcess

        from paddle_pp.defaults import CLS_LABEL_LIST

        self.label_list = [str(x) for x in config["Global"].get("label_list", CLS_LABEL_LIST)]
        self.post = ClsPostProcess(self.label_list)

    def prepare_config(self, config: Dict[str, Any]) -> None:
        for head in head_sections(config):
            if head.get("class_dim", len(self.label_list)) != len(self.label_list):
                log.info("cls head: class_dim %s -> %d (Global.label_list)", head.get("class_dim"),
                         len(self.label_list))
                head["class_dim"] = len(self.label_list)

    def postprocess(self, outputs: Any, batch: Mapping[str, Any]) -> Tuple[Any, Any]:
        preds = self.post(to_numpy(outputs))
        labels = to_numpy(batch["label"]).reshape(-1)
        return preds, {"label_text": [self.label_list[int(i)] for i in labels]}


def build_adapter(config: Dict[str, Any]) -> Adapter:
    return ADAPTERS.get(config["Architecture"]["model_type"])(config)
