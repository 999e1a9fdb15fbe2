"""Greedy CTC decoding for the CRNN recognizer, as PaddleOCR 2.x ``CTCLabelDecode``.

Class 0 is the CTC blank, then the dictionary characters in file order, then
(optionally) the space character, which is how the 6625-way head was trained.
"""
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

from paddle_pp import defaults
from paddle_pp.utils.dicts import load_character_dict


class AlignedChar(NamedTuple):
    """One decoded character and the time steps its run of frames covers (first..last, inclusive) out of the
    output's T steps: where in the input width the recognizer saw it."""
    char: str
    first: int
    last: int
    prob: float


class CTCLabelDecode:
    """Map [N, T, C] softmax outputs to (text, confidence) pairs."""

    def __init__(self, character_dict_path: str, use_space_char: bool = defaults.USE_SPACE_CHAR):
        chars = load_character_dict(character_dict_path)
        if use_space_char:
            chars.append(" ")
        self._set_characters(chars)

    @classmethod
    def from_characters(cls, characters: Sequence[str]) -> "CTCLabelDecode":
        """A decoder over a given character list (without the blank), e.g. `utils.dicts.rec_characters`'s."""
        decoder = cls.__new__(cls)
        decoder._set_characters(list(characters))
        return decoder

    def _set_characters(self, chars: List[str]) -> None:
        self.characters: List[str] = ["blank"] + chars
        self._char_array = np.array(self.characters, dtype=object)

    @property
    def num_classes(self) -> int:
        """Size of the CTC head's output layer (blank included)."""
        return len(self.characters)

    def __call__(self, preds: np.ndarray) -> List[Tuple[str, float]]:
        """Greedy decode: argmax per step, drop repeats of the previous step, then blanks.

        The score is the mean of the kept steps' max probabilities, accumulated in
        the dtype of ``preds`` (float32 from the model) like the reference. When no
        character survives, PaddleOCR returns ``np.mean([])`` = nan; we return 0.0
        instead so that ``score >= drop_score`` filtering and sorting stay well defined.
        """
        preds = np.asarray(preds)
        if preds.ndim != 3:
            raise ValueError(f"preds must be [N, T, C], got shape {preds.shape}")
        if preds.shape[2] != self.num_classes:
            raise ValueError(f"preds has {preds.shape[2]} classes, dictionary has {self.num_classes}")
        idx = preds.argmax(axis=2)
        prob = preds.max(axis=2)
        keep = idx != 0
        keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
        results: List[Tuple[str, float]] = []
        for b in range(idx.shape[0]):
            sel = keep[b]
            if not sel.any():
                results.append(("", 0.0))
                continue
            text = "".join(self._char_array[idx[b][sel]].tolist())
            results.append((text, float(np.mean(prob[b][sel]))))
        return results

    def decode_aligned(self, preds: np.ndarray) -> List[Tuple[str, float, List[AlignedChar]]]:
        """As __call__ (the same text and score), plus each character's run of time steps (AlignedChar): a run
        is the consecutive steps whose argmax is that character, the greedy decoding's alignment."""
        preds = np.asarray(preds)
        texts = self(preds)
        idx = preds.argmax(axis=2)
        prob = preds.max(axis=2)
        results = []
        for b, (text, score) in enumerate(texts):
            chars: List[AlignedChar] = []
            row = idx[b]
            t = 0
            while t < len(row):
                end = t
                while end + 1 < len(row) and row[end + 1] == row[t]:
                    end += 1
                if row[t] != 0:
                    chars.append(AlignedChar(self.characters[row[t]], t, end, float(prob[b][t:end + 1].max())))
                t = end + 1
            results.append((text, score, chars))
        return results
