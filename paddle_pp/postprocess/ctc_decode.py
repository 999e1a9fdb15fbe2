"""Greedy CTC decoding for the CRNN recognizer, as PaddleOCR 2.x ``CTCLabelDecode``.

Class 0 is the CTC blank, then the dictionary characters in file order, then
(optionally) the space character, which is how the 6625-way head was trained.

`mixed_case_prior` (PostProcess.mixed_case_prior; empty: off, PaddleOCR's decoding) adds one prior to the greedy
decoding: the letters of a word are usually all lower case, all upper case or capitalised. A recognizer trained
on receipts in capitals next to book text drifts between cases inside a word (`dEriveD`); the per-character
argmax cannot see that. See `CaseConsistency`.
"""
import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from paddle_pp import defaults
from paddle_pp.utils.dicts import load_character_dict


def mixed_case_prior(config: Mapping[str, Any]) -> Optional[float]:
    """A rec config's PostProcess.mixed_case_prior (None: greedy decoding only), for every reader of the config:
    the predictors, the training evaluation and the C++ demo's config."""
    value = (config.get("PostProcess") or {}).get("mixed_case_prior")
    return None if value is None else float(value)


class AlignedChar(NamedTuple):
    """One decoded character and the time steps its run of frames covers (first..last, inclusive) out of the
    output's T steps: where in the input width the recognizer saw it."""
    char: str
    first: int
    last: int
    prob: float


class CaseConsistency:
    """Re-case each word of a greedy CTC path when the prior says so.

    A word is a run of two or more decoded ASCII letters (anything else, a space included, ends it). If its case
    is mixed (neither lower, UPPER nor Capitalised), it is compared with the three consistent spellings of the
    same letters. Each spelling is scored by the sum of the log probabilities of its letters, a letter's
    probability being the highest its class reaches over the time steps of the letter's CTC run; the prior adds
    log(mixed_case_prior) to the mixed spelling and log(1 - mixed_case_prior) to the consistent ones. The
    highest score wins (the greedy spelling on a tie). Only the case of letters changes, never which letters,
    so a consistent word and every other character are left exactly as the greedy decoding gives them.
    """

    def __init__(self, characters: Sequence[str], mixed_case_prior: float) -> None:
        if not 0.0 < mixed_case_prior < 1.0:
            raise ValueError(f"mixed_case_prior must be in (0, 1), got {mixed_case_prior}")
        self.log_mixed = math.log(mixed_case_prior)
        self.log_consistent = math.log1p(-mixed_case_prior)
        index = {c: i for i, c in enumerate(characters)}
        # class -> (its lower-case class, its upper-case class); -1 where the dictionary lacks that case
        self.cases: Dict[int, Tuple[int, int]] = {
            i: (index.get(c.lower(), -1), index.get(c.upper(), -1))
            for i, c in enumerate(characters) if i > 0 and len(c) == 1 and c.isascii() and c.isalpha()}

    def __call__(self, pred: np.ndarray, classes: List[int], firsts: Sequence[int],
                 lasts: Sequence[int]) -> List[int]:
        """The classes of one greedy path ([T, C] probabilities; each character's first and last time step),
        with the words re-cased."""
        out = list(classes)
        i = 0
        while i < len(out):
            j = i
            while j < len(out) and out[j] in self.cases:
                j += 1
            if j - i >= 2:
                out[i:j] = self._word(pred, out[i:j], firsts[i:j], lasts[i:j])
            i = max(j, i + 1)
        return out

    def _word(self, pred: np.ndarray, word: List[int], firsts: Sequence[int], lasts: Sequence[int]) -> List[int]:
        lower = [self.cases[c][0] for c in word]
        upper = [self.cases[c][1] for c in word]
        spellings = (lower, upper, upper[:1] + lower[1:])
        if word in spellings:
            return word

        def log_prob(classes: List[int]) -> float:
            if min(classes) < 0:
                return -math.inf
            peaks = [float(pred[f:l + 1, c].max()) for c, f, l in zip(classes, firsts, lasts)]
            return -math.inf if min(peaks) <= 0.0 else sum(math.log(p) for p in peaks)

        best, best_score = word, log_prob(word) + self.log_mixed
        for spelling in spellings:
            score = log_prob(spelling) + self.log_consistent
            if score > best_score:
                best, best_score = spelling, score
        return best


class CTCLabelDecode:
    """Map [N, T, C] softmax outputs to (text, confidence) pairs."""

    def __init__(self, character_dict_path: str, use_space_char: bool = defaults.USE_SPACE_CHAR,
                 mixed_case_prior: Optional[float] = None):
        chars = load_character_dict(character_dict_path)
        if use_space_char:
            chars.append(" ")
        self._set_characters(chars, mixed_case_prior)

    @classmethod
    def from_characters(cls, characters: Sequence[str],
                        mixed_case_prior: Optional[float] = None) -> "CTCLabelDecode":
        """A decoder over a given character list (without the blank), e.g. `utils.dicts.rec_characters`'s."""
        decoder = cls.__new__(cls)
        decoder._set_characters(list(characters), mixed_case_prior)
        return decoder

    def _set_characters(self, chars: List[str], mixed_case_prior: Optional[float]) -> None:
        self.characters: List[str] = ["blank"] + chars
        self._char_array = np.array(self.characters, dtype=object)
        self.mixed_case_prior = mixed_case_prior
        self.case_consistency = (CaseConsistency(self.characters, mixed_case_prior)
                                 if mixed_case_prior is not None else None)

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
        return [(text, score) for text, score, _ in self._decode(preds, aligned=False)]

    def _decode(self, preds: np.ndarray, aligned: bool) -> List[Tuple[str, float, List[AlignedChar]]]:
        preds = np.asarray(preds)
        if preds.ndim != 3:
            raise ValueError(f"preds must be [N, T, C], got shape {preds.shape}")
        if preds.shape[2] != self.num_classes:
            raise ValueError(f"preds has {preds.shape[2]} classes, dictionary has {self.num_classes}")
        idx = preds.argmax(axis=2)
        keep = idx != 0
        keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
        need_runs = aligned or self.case_consistency is not None
        if need_runs:
            run_ends = np.ones_like(keep)  # the last step of each run of equal argmax
            run_ends[:, :-1] = idx[:, 1:] != idx[:, :-1]
        results: List[Tuple[str, float, List[AlignedChar]]] = []
        for b in range(idx.shape[0]):
            firsts = np.flatnonzero(keep[b])
            if not len(firsts):
                results.append(("", 0.0, []))
                continue
            classes = idx[b][firsts]
            if need_runs:
                lasts = np.flatnonzero(run_ends[b])
                lasts = lasts[np.searchsorted(lasts, firsts)]
            if self.case_consistency is not None:
                classes = np.array(self.case_consistency(preds[b], classes.tolist(), firsts, lasts))
            prob = preds[b][firsts, classes]  # the kept steps' probabilities, in preds' dtype like the reference
            chars = self._char_array[classes].tolist()
            spans = [AlignedChar(c, int(f), int(l), float(preds[b][f:l + 1, k].max()))
                     for c, f, l, k in zip(chars, firsts, lasts, classes)] if aligned else []
            results.append(("".join(chars), float(np.mean(prob)), spans))
        return results

    def decode_aligned(self, preds: np.ndarray) -> List[Tuple[str, float, List[AlignedChar]]]:
        """As __call__ (the same text and score), plus each character's run of time steps (AlignedChar): a run
        is the consecutive steps whose argmax is that character, the greedy decoding's alignment."""
        return self._decode(preds, aligned=True)
