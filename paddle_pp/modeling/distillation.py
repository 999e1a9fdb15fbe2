"""Distillation as an architecture (PaddleOCR's DistillationModel): named sub-models declared in the YAML.

    Architecture:
      name: DistillationModel
      model_type: det
      infer_model: Student          # the sub-model that evaluation, export and publishing use (default Student)
      Models:
        Teacher:
          freeze_params: true       # never trained: no gradients, always in eval mode
          pretrained: official      # loaded by the training layer (Trainer build step), not here
          Backbone: ...; Neck: ...; Head: ...
        Student:
          Backbone: ...; Neck: ...; Head: ...

``forward`` returns ``{name: outputs}`` for every sub-model, which the distillation losses compare (they only
compute). Parameter names are ``<name>.<sub-model name>`` (``Student.backbone.conv1.conv.weight``), the same in
every process. Each sub-model section is an Architecture section of its own (``model_type`` defaults to the
outer one; ``name`` may pick another registered architecture).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import ARCHITECTURES

from .architecture import build_architecture

DEFAULT_INFER_MODEL = "Student"
# Keys of a sub-model section that describe how it is trained, not what it is.
SUB_MODEL_TRAINING_KEYS = ("freeze_params", "pretrained", "return_all_feats")


def sub_model_architectures(arch: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """{name: Architecture section} of a DistillationModel, without the training keys."""
    models = arch.get("Models")
    if not isinstance(models, Mapping) or not models:
        raise ValueError("DistillationModel: Architecture.Models must name at least one sub-model")
    leftover = [k for k in ("Backbone", "Neck", "Head") if arch.get(k)]
    if leftover:
        raise ValueError(f"DistillationModel: Architecture.{leftover} belong under Architecture.Models.<name> "
                         f"(set them to null when inheriting a plain architecture)")
    out = {}
    for name, section in models.items():
        section = {k: copy.deepcopy(v) for k, v in section.items() if k not in SUB_MODEL_TRAINING_KEYS}
        section.setdefault("model_type", arch.get("model_type"))
        if arch.get("algorithm"):
            section.setdefault("algorithm", arch["algorithm"])
        out[str(name)] = section
    return out


def infer_model_name(arch: Mapping[str, Any]) -> str:
    name = str(arch.get("infer_model") or DEFAULT_INFER_MODEL)
    if name not in (arch.get("Models") or {}):
        raise ValueError(f"DistillationModel: infer_model '{name}' is not one of Architecture.Models "
                         f"{list(arch.get('Models') or {})}")
    return name


def is_distillation(arch: Mapping[str, Any]) -> bool:
    return arch.get("name") == "DistillationModel"


def inference_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """A whole config whose Architecture is the sub-model that inference uses (a plain config stays as it is):
    what an exported or published distillation run describes, so that it loads as an ordinary model."""
    arch = config["Architecture"]
    if not is_distillation(arch):
        return config
    out = copy.deepcopy(config)
    out["Architecture"] = sub_model_architectures(arch)[infer_model_name(arch)]
    return out


def pretrained_sources(arch: Mapping[str, Any]) -> Dict[str, str]:
    """{sub-model name: its ``pretrained`` spec} of a DistillationModel section (the training layer loads them)."""
    if not is_distillation(arch):
        return {}
    return {str(n): str(s["pretrained"]) for n, s in arch["Models"].items() if s.get("pretrained")}


@ARCHITECTURES.register("DistillationModel")
class DistillationModel(nn.Layer):
    def __init__(self, arch: Mapping[str, Any]) -> None:
        super().__init__()
        self.model_type = arch.get("model_type")
        self.infer_name = infer_model_name(arch)
        self.names: List[str] = []
        self.frozen: List[str] = []
        for name, section in sub_model_architectures(arch).items():
            self.add_sublayer(name, build_architecture(section))
            self.names.append(name)
            if arch["Models"][name].get("freeze_params"):
                self.frozen.append(name)
                for param in self.sub_model(name).parameters():
                    param.stop_gradient = True
                self.sub_model(name).eval()

    def sub_model(self, name: str) -> nn.Layer:
        return self._sub_layers[name]

    def inference_model(self) -> nn.Layer:
        return self.sub_model(self.infer_name)

    def train(self) -> "DistillationModel":
        super().train()
        for name in self.frozen:
            self.sub_model(name).eval()
        return self

    def forward(self, x: paddle.Tensor) -> Dict[str, Any]:
        outputs = {}
        for name in self.names:
            model = self.sub_model(name)
            if name in self.frozen:
                if model.training:  # a wrapper (paddle.DataParallel) sets every sublayer's mode, not via train()
                    model.eval()
                with paddle.no_grad():
                    outputs[name] = model(x)
            else:
                outputs[name] = model(x)
        return outputs
