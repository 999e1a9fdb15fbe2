"""Direction-classifier post-processing, as PaddleOCR 2.x ``ClsPostProcess``."""
import math
from typing import List, Sequence, Tuple

import numpy as np

from paddle_pp import defaults

VOTE_FLOOR = 1e-6  # a view's probability is counted as at least this: one certain view cannot veto the rest


def combine_votes(votes: Sequence[Sequence[float]]) -> List[float]:
    """The label probabilities of one crop from those of several views of it (the whole crop and its pieces): the
    geometric mean of each label's probability, renormalised, so that a confident view outweighs an unsure one
    (a piece of blank margin scores near 0.5 and says little). With two labels this is the logistic of the mean
    log-odds. Sequential float64 sums, so the C++ demo (decode.cc, CombineVotes) gets the same numbers."""
    num_labels = len(votes[0])
    means = []
    for label in range(num_labels):
        total = 0.0
        for vote in votes:
            total += math.log(min(max(float(vote[label]), VOTE_FLOOR), 1.0))
        means.append(total / len(votes))
    top = max(means)
    weights = [math.exp(m - top) for m in means]
    norm = 0.0
    for w in weights:
        norm += w
    return [w / norm for w in weights]


class ClsPostProcess:
    """Map [N, num_labels] probabilities to (label, probability of that label)."""

    def __init__(self, label_list: Sequence[str] = defaults.CLS_LABEL_LIST):
        self.label_list = list(label_list)

    def __call__(self, preds: np.ndarray) -> List[Tuple[str, float]]:
        """Argmax label and its probability for each row (ties go to the first label)."""
        preds = np.asarray(preds)
        if preds.ndim != 2 or preds.shape[1] != len(self.label_list):
            raise ValueError(f"preds must be [N, {len(self.label_list)}], got shape {preds.shape}")
        idxs = preds.argmax(axis=1)
        return [(self.label_list[int(k)], float(preds[i, k])) for i, k in enumerate(idxs)]
