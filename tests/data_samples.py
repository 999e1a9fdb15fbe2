"""Small datasets the data tests render and write themselves (used by tests/test_data_*.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.utils.text_render import render_line, render_lines

DET_LINES = [("Order 2026-0142", 34), ("Fresh Milk 1L 13.80", 28), ("TOTAL 27.30", 30), ("Thank you", 26)]
REC_WORDS = ["Hello", "TOTAL 27.30", "Invoice 0142", "fox", "Milk 1L", "Thank you"]


def det_image(size=(640, 420)) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """A rendered page, its line boxes as float32 [K, 4, 2] (ink box grown by 2 px) and texts."""
    img, boxes = render_lines(DET_LINES, size=size)
    polys = np.array(boxes, dtype=np.float32)
    polys += np.array([[-2, -2], [2, -2], [2, 2], [-2, 2]], dtype=np.float32)
    return img, polys, [t for t, _ in DET_LINES]


def encode(img: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def det_label(polys: np.ndarray, texts: Sequence[str]) -> str:
    return json.dumps([{"transcription": t, "points": p.tolist()} for p, t in zip(polys, texts)], ensure_ascii=False)


def write_det_dataset(root: Path, n: int = 4, name: str = "train_label.txt", ignore_last: bool = True) -> Path:
    """n page images with their JSON labels (the last line marked '###' when ignore_last)."""
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        img, polys, texts = det_image(size=(640 + 32 * i, 420))
        if ignore_last:
            texts = texts[:-1] + ["###"]
        cv2.imwrite(str(root / "imgs" / f"det_{i}.png"), img)
        lines.append(f"imgs/det_{i}.png\t{det_label(polys, texts)}")
    label = root / name
    label.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return label


def write_rec_dataset(root: Path, words: Sequence[str] = REC_WORDS, name: str = "train_label.txt",
                      prefix: str = "rec") -> Path:
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, word in enumerate(words):
        cv2.imwrite(str(root / "imgs" / f"{prefix}_{i}.png"), render_line(word))
        lines.append(f"imgs/{prefix}_{i}.png\t{word}")
    label = root / name
    label.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return label


def write_cls_dataset(root: Path, words: Sequence[str] = REC_WORDS, name: str = "train_label.txt") -> Path:
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, word in enumerate(words):
        img = render_line(word)
        flip = i % 2 == 1
        cv2.imwrite(str(root / "imgs" / f"cls_{i}.png"), cv2.rotate(img, cv2.ROTATE_180) if flip else img)
        lines.append(f"imgs/cls_{i}.png\t{'180' if flip else '0'}")
    label = root / name
    label.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return label
