"""Words and where they are along a text line, from the CTC alignment of the recognizer's output.

Greedy CTC decoding says at which time steps each character was emitted (`ctc_decode.AlignedChar`); a time step
covers a fixed width of the recognizer's input, so a character's steps give its place along the line's
rectified crop. Characters emit at short spikes, not over their whole width, so a word reaches half a character
pitch (the median distance between neighbouring characters' centres) beyond its first and last character's
centre. Words are split at spaces; a CJK character is a word of its own (PaddleOCR's return_word_box does the
same: those scripts have no spaces between words).

The spans are in crop pixels, left to right (reading order within the line); `utils.crop.crop_to_image` maps
them back into the image.
"""
from __future__ import annotations

import unicodedata
from typing import List, NamedTuple, Sequence

import numpy as np

from paddle_pp.postprocess.ctc_decode import AlignedChar


class WordSpan(NamedTuple):
    """A word, its score (the mean of its characters' probabilities) and its horizontal extent in the crop."""
    text: str
    score: float
    left: float
    right: float


def is_cjk(char: str) -> bool:
    """Ideographs, kana and hangul: scripts written without spaces, each character a word."""
    if not char:
        return False
    name = unicodedata.name(char[0], "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC"))


def split_words(chars: Sequence[AlignedChar]) -> List[List[AlignedChar]]:
    """Runs of non-space characters, each CJK character on its own."""
    words: List[List[AlignedChar]] = []
    current: List[AlignedChar] = []
    for char in chars:
        if char.char.isspace() or is_cjk(char.char):
            if current:
                words.append(current)
            current = []
            if is_cjk(char.char):
                words.append([char])
            continue
        current.append(char)
    if current:
        words.append(current)
    return words


def word_spans(chars: Sequence[AlignedChar], step_width: float, line_width: float) -> List[WordSpan]:
    """The words of a decoded line with their [left, right] in crop pixels (`step_width` pixels a time step,
    the crop `line_width` wide), left to right, none empty, all within [0, line_width]."""
    if not chars:
        return []
    centres = np.array([(c.first + c.last + 1) / 2.0 * step_width for c in chars])
    pitch = float(np.median(np.diff(centres))) if len(centres) > 1 else line_width
    half = max(pitch, step_width) / 2.0
    position = {id(c): centre for c, centre in zip(chars, centres)}
    spans = []
    for word in split_words(chars):
        left = max(0.0, position[id(word[0])] - half)
        right = min(float(line_width), position[id(word[-1])] + half)
        if right <= left:  # a character emitted past the crop's content (padding): keep a sliver inside
            left, right = max(0.0, min(left, line_width - 1.0)), float(line_width)
        text = "".join(c.char for c in word)
        spans.append(WordSpan(text, float(np.mean([c.prob for c in word])), left, right))
    return spans
