"""Label encoders: detection JSON -> polygons, recognition text -> CTC indices, direction label -> class id."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS
from paddle_pp.utils.dicts import rec_characters
from paddle_pp.utils.label_files import IGNORE_TEXTS, parse_det_label


def _parse_det_label(label: str) -> Tuple[List[np.ndarray], List[str]]:
    items = parse_det_label(label)
    return ([np.asarray(item["points"], dtype=np.float32) for item in items],
            [str(item["transcription"]) for item in items])


def pad_polygons(polys: Sequence[np.ndarray]) -> np.ndarray:
    """Stack polygons to [K, N, 2] float32, repeating each polygon's last point up to the largest N."""
    n = max(len(p) for p in polys)
    out = np.empty((len(polys), n, 2), dtype=np.float32)
    for i, p in enumerate(polys):
        out[i, :len(p)] = p
        out[i, len(p):] = p[-1]
    return out


@TRANSFORMS.register()
class DetLabelEncode(DataOp):
    """JSON label -> polys float32 [K, N, 2] (N = 4 for quads), texts, ignore_tags bool [K] ('###'/'*')."""

    reads = ("label",)
    writes = ("polys", "texts", "ignore_tags")

    def label_problem(self, label: str) -> Optional[str]:
        try:
            polys, _ = _parse_det_label(label)
        except (ValueError, KeyError, TypeError) as exc:
            return f"unreadable detection label ({exc})"
        if not polys:
            return "no text boxes"
        return None

    def apply(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        polys, texts = _parse_det_label(data["label"])
        if not polys:
            return None  # as PaddleOCR: an image without boxes is not a training sample
        data["polys"] = pad_polygons(polys)
        data["texts"] = texts
        data["ignore_tags"] = np.array([t in IGNORE_TEXTS for t in texts], dtype=bool)
        return data


@TRANSFORMS.register()
class CTCLabelEncode(DataOp):
    """Text -> label int64 [max_text_length] (indices 1..C-1, 0 = blank/padding) and length int64.

    The characters are Global.character_dict_path + Global.use_space_char, through `utils.dicts.rec_characters`
    (the one function the CTC head size and the decoders use too). Characters missing from the dictionary are
    dropped. A text that is longer than max_text_length (counted before dropping, as PaddleOCR does) or has no
    known character is rejected: the sample is dropped.
    """

    reads = ("label",)
    writes = ("label", "length")

    def __init__(self, max_text_length: Optional[int] = None, character_dict_path: Any = None,
                 use_space_char: Optional[bool] = None, global_config: Optional[Mapping[str, Any]] = None):
        cfg = dict(global_config or {})
        # explicit arguments win over Global (PaddleOCR's builder copies the Global values in)
        if character_dict_path is not None:
            cfg["character_dict_path"] = character_dict_path
        if use_space_char is not None:
            cfg["use_space_char"] = use_space_char
        if max_text_length is None:
            max_text_length = cfg.get("max_text_length", 25)
        self.max_text_length = int(max_text_length)
        chars, self.lower = rec_characters(cfg)
        self.characters = ["blank"] + chars
        self.char_to_index = {}
        for i, c in enumerate(self.characters):
            if i > 0:
                self.char_to_index.setdefault(c, i)  # first occurrence wins, like PaddleOCR's dict build

    @property
    def num_classes(self) -> int:
        return len(self.characters)

    def encode(self, text: str) -> Tuple[Optional[List[int]], Optional[str]]:
        if len(text) == 0:
            return None, "empty text"
        if len(text) > self.max_text_length:
            return None, f"too long (> {self.max_text_length} characters)"
        if self.lower:
            text = text.lower()
        idx = [self.char_to_index[c] for c in text if c in self.char_to_index]
        if not idx:
            return None, "no known characters"
        return idx, None

    def label_problem(self, label: str) -> Optional[str]:
        return self.encode(label)[1]

    def apply(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        idx, _ = self.encode(data["label"])
        if idx is None:
            return None
        label = np.zeros(self.max_text_length, dtype=np.int64)
        label[:len(idx)] = idx
        data["label"] = label
        data["length"] = np.array(len(idx), dtype=np.int64)
        return data


@TRANSFORMS.register()
class ClsLabelEncode(DataOp):
    """'0' / '180' -> class index int64 (position in Global.label_list)."""

    reads = ("label",)
    writes = ("label",)

    def __init__(self, label_list: Optional[Sequence[str]] = None, global_config: Optional[Mapping[str, Any]] = None):
        if label_list is None:
            label_list = (global_config or {}).get("label_list")
        if not label_list:
            raise ValueError("ClsLabelEncode needs label_list (Global.label_list)")
        self.label_list = [str(v) for v in label_list]

    def label_problem(self, label: str) -> Optional[str]:
        if label not in self.label_list:
            return f"label {label!r} not in label_list {self.label_list}"
        return None

    def apply(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        label = str(data["label"])
        if label not in self.label_list:
            return None
        data["label"] = np.array(self.label_list.index(label), dtype=np.int64)
        return data
