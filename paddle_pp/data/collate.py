"""Batch a list of sample dicts into one dict.

A key whose values are arrays (or numbers) of one shape is stacked with numpy: image, threshold_map,
threshold_mask, shrink_map, shrink_mask, shape, label, length, valid_ratio. Per-sample variable data
(polys, ignore_tags, texts, and anything whose shapes differ) stays a Python list, one entry per sample,
with arrays turned into nested lists so paddle's DataLoader passes them through untouched (it would
otherwise turn every array into a Tensor); ``np.asarray(batch['polys'][i])`` gives the [K, N, 2] array.

Recognition images of one batch that differ only in width (RecResizeImg with max_width) are right-padded
with zeros to the widest, as inference pads after normalization; ``valid_ratio``, the share of its own
width a crop's text fills, is rescaled to the padded width.
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, List

import numpy as np

LIST_KEYS = frozenset({"polys", "ignore_tags", "texts", "img_path"})


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _pad_widths(samples: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Samples whose CHW 'image' differ only in width, padded on the right to the widest (new dicts)."""
    images = [s.get("image") for s in samples]
    if not all(isinstance(im, np.ndarray) and im.ndim == 3 for im in images):
        return samples
    if len({im.shape[:2] for im in images}) != 1 or len({im.shape[2] for im in images}) == 1:
        return samples
    width = max(im.shape[2] for im in images)
    padded = []
    for sample, image in zip(samples, images):
        out = dict(sample)
        out["image"] = np.zeros(image.shape[:2] + (width,), dtype=image.dtype)
        out["image"][:, :, :image.shape[2]] = image
        if "valid_ratio" in sample:
            out["valid_ratio"] = np.float32(float(sample["valid_ratio"]) * image.shape[2] / width)
        padded.append(out)
    return padded


def collate_batch(samples: List[Dict[str, Any]]) -> Dict[str, Any]:
    if not samples:
        raise ValueError("collate_batch: empty batch")
    keys = list(samples[0].keys())
    for s in samples[1:]:
        if list(s.keys()) != keys:
            raise KeyError(f"collate_batch: samples have different keys: {keys} vs {list(s.keys())}")
    samples = _pad_widths(samples)
    out: Dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in samples]
        if key not in LIST_KEYS and all(isinstance(v, (np.ndarray, np.generic, numbers.Number))
                                        and not isinstance(v, bool) for v in values):
            arrays = [np.asarray(v) for v in values]
            if all(a.shape == arrays[0].shape for a in arrays):
                out[key] = np.stack(arrays)
                continue
        out[key] = [_plain(v) for v in values]
    return out
