"""Page orientation (0, 90, 180 or 270 degrees) from what the OCR system finds anyway: no model of its own.

A page scanned or photographed sideways has its text lines vertical, and the detector's boxes of them tall; a page
upside down has wide boxes whose crops the 0/180 direction classifier calls "180". So one vote decides all four:

- the boxes at least 1.5x longer than high whose crop the classifier is sure of (either way) vote "wide" or "tall"
  with their aspect ratio (about their number of characters). Squarer boxes (single characters, marks) do not
  vote, nor do crops the classifier hesitates on: on a page shrunk too far they are blobs of several lines;
- the crops of the winning side vote "0" or "180" with aspect ratio x the classifier's score. A tall box's crop is
  turned 90 degrees counter-clockwise before it is classified (utils.crop, as PaddleOCR reads vertical lines), so
  "0" there means the page reads upright once turned counter-clockwise, and "180" once turned clockwise.

A side or a direction wins only by `MARGIN` times the other's weight and with `MIN_VOTES` (`MIN_VOTES / 2` for a
direction) behind it; otherwise the page stays as it is. Scene photos with a few short words mostly end there,
which is the intent: the option must not turn an upright image. The numbers were chosen on the train parts
(ICDAR 2015 img_1-300, MSRA-TD500 train, SROIE train, each turned four ways; docs/results.md, "Page orientation").
The C++ demo's deploy/lite/cpp/src/page_orientation.* is the same rule with the same numbers (a test compares them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple

import numpy as np

from paddle_pp.utils.crop import crop_size

# A box votes when its long side is at least this many times its short side (PaddleOCR's turn-sideways ratio).
MIN_ASPECT = 1.5
# ... and when the classifier's score for its crop is at least this (PaddleOCR's cls_thresh default).
MIN_SCORE = 0.9
# The winner of each vote needs this many times the loser's weight ...
MARGIN = 2.0
# ... and at least this weight (the sum of aspect ratios: about this many characters of text lines).
MIN_VOTES = 10.0

# Unless the votes say "upright" clearly, a page the detector's resize shrank below this fraction of its size is
# decided by the lines found at full size (pipeline.TextSystem): small print a shrunk page loses or blurs together.
RECOUNT_SHRUNK_BELOW = 0.75

ANGLES = (0, 90, 180, 270)


@dataclass
class OrientationVotes:
    """The weights behind a page's orientation: text lines lying (wide) or standing (tall), and, for each, how
    much of their text the classifier reads upright ("0") or upside down ("180")."""
    wide: float = 0.0
    tall: float = 0.0
    wide_upright: float = 0.0
    wide_flipped: float = 0.0
    tall_upright: float = 0.0
    tall_flipped: float = 0.0


def line_votes(box: np.ndarray) -> Tuple[str, float]:
    """('wide' | 'tall' | '', weight) of one detected box: its aspect ratio if it is elongated enough to vote."""
    width, height = crop_size(box)
    if width <= 0 or height <= 0:
        return "", 0.0
    aspect = max(width, height) / min(width, height)
    if aspect < MIN_ASPECT:
        return "", 0.0
    return ("tall" if height > width else "wide"), float(aspect)


def count_votes(boxes: Iterable[np.ndarray], labels: Sequence[Tuple[str, float]]) -> OrientationVotes:
    """The votes of a page's boxes and their crops' classifier results (label, score), in the same order."""
    votes = OrientationVotes()
    for box, (label, score) in zip(boxes, labels):
        side, weight = line_votes(box)
        if not side or score < MIN_SCORE:
            continue
        setattr(votes, side, getattr(votes, side) + weight)
        direction = "flipped" if "180" in label else "upright"
        key = f"{side}_{direction}"
        setattr(votes, key, getattr(votes, key) + weight * float(score))
    return votes


def _wins(weight: float, other: float, minimum: float) -> bool:
    return weight >= minimum and weight >= MARGIN * other


def page_angle(votes: OrientationVotes) -> int:
    """The counter-clockwise turn (0, 90, 180, 270 degrees) that makes the page upright; 0 when the votes are
    not clear (the page is left as it is)."""
    if _wins(votes.tall, votes.wide, MIN_VOTES):
        if _wins(votes.tall_upright, votes.tall_flipped, MIN_VOTES / 2):
            return 90
        if _wins(votes.tall_flipped, votes.tall_upright, MIN_VOTES / 2):
            return 270
        return 0
    if _wins(votes.wide, votes.tall, MIN_VOTES) and _wins(votes.wide_flipped, votes.wide_upright, MIN_VOTES / 2):
        return 180
    return 0


def is_clearly_upright(votes: OrientationVotes) -> bool:
    """Whether the votes say "upright" clearly, as opposed to not saying anything clearly."""
    return _wins(votes.wide, votes.tall, MIN_VOTES) and _wins(votes.wide_upright, votes.wide_flipped, MIN_VOTES / 2)


def turn_image(img: np.ndarray, angle: int) -> np.ndarray:
    """The image turned counter-clockwise by `angle` (a multiple of 90 degrees): lossless."""
    quarter_turns = _quarter_turns(angle)
    return img if quarter_turns == 0 else np.ascontiguousarray(np.rot90(img, quarter_turns))


def points_before_turn(points: np.ndarray, angle: int, shape: Tuple[int, ...]) -> np.ndarray:
    """Points (..., 2) of an image turned counter-clockwise by `angle` -> the same points in the image before the
    turn, whose (height, width, ...) is `shape`. The exact inverse of turn_image, pixel for pixel."""
    points = np.asarray(points, dtype=np.float64)
    height, width = shape[0], shape[1]
    x, y = points[..., 0], points[..., 1]
    quarter_turns = _quarter_turns(angle)
    if quarter_turns == 1:
        x, y = width - 1 - y, x
    elif quarter_turns == 2:
        x, y = width - 1 - x, height - 1 - y
    elif quarter_turns == 3:
        x, y = y, height - 1 - x
    return np.stack([x, y], axis=-1)


def points_after_turn(points: np.ndarray, angle: int, shape: Tuple[int, ...]) -> np.ndarray:
    """Points (..., 2) of an image whose (height, width, ...) is `shape` -> the same points in that image turned
    counter-clockwise by `angle` (turn_image): where a page's lines lie once it is upright."""
    height, width = shape[0], shape[1]
    turned_shape = (width, height) if angle in (90, 270) else (height, width)
    return points_before_turn(points, (360 - angle) % 360, turned_shape)


def _quarter_turns(angle: int) -> int:
    if angle not in ANGLES:
        raise ValueError(f"a page angle is one of {ANGLES}, got {angle}")
    return ANGLES.index(angle)

