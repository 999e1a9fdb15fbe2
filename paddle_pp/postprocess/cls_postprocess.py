"""Direction-classifier post-processing, as PaddleOCR 2.x ``ClsPostProcess``."""
from typing import List, Sequence, Tuple

import numpy as np

from paddle_pp import defaults


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
