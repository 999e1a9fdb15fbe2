"""How far two runs of the OCR system agree on the same images: two engines (`paddle-pp lite compare`), or two
machines (deploy/arm/compare_results.py: aarch64 against x86). Results are PPOCR's dicts: "transcription",
"points", "score"."""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

Results = List[Dict[str, Any]]


def match_results(ref: Results, ours: Results, tol: int = 1) -> Dict[str, int]:
    """Greedy one-to-one box matching (all corners within tol px); texts compared on matched boxes."""
    used, exact, matched, texts = set(), 0, 0, 0
    for r in ref:
        rp = np.array(r["points"])
        for j, o in enumerate(ours):
            if j in used:
                continue
            diff = np.abs(np.array(o["points"]) - rp).max()
            if diff <= tol:
                used.add(j)
                matched += 1
                exact += int(diff == 0)
                texts += int(o["transcription"] == r["transcription"])
                break
    return {"ref": len(ref), "ours": len(ours), "exact": exact, "matched": matched, "texts": texts}


class Agreement:
    """match_results summed over images; an image is identical when every box matches exactly with its text."""

    def __init__(self) -> None:
        self.totals: Dict[str, Any] = {"images": 0, "identical": 0, "ref": 0, "ours": 0, "exact": 0, "matched": 0,
                                       "texts": 0, "max_score_diff": 0.0}
        self.differing: Dict[str, Dict[str, int]] = {}   # image -> its match_results, for images not identical

    def add(self, name: str, ref: Results, ours: Results) -> bool:
        """Count one image; True when the two results are identical (then their largest score gap counts too)."""
        stats = match_results(ref, ours)
        identical = len(ref) == len(ours) == stats["exact"] == stats["texts"]
        self.totals["images"] += 1
        self.totals["identical"] += int(identical)
        for key in ("ref", "ours", "exact", "matched", "texts"):
            self.totals[key] += stats[key]
        if identical:
            diffs = [abs(a["score"] - b["score"]) for a, b in zip(ref, ours)]
            self.totals["max_score_diff"] = max([self.totals["max_score_diff"]] + diffs)
        else:
            self.differing[name] = stats
        return identical

    def summary(self, ref_label: str, ours_label: str) -> str:
        t = self.totals
        return (f"{t['images']} images, {t['identical']} identical; boxes {ref_label} {t['ref']} / {ours_label} "
                f"{t['ours']} / exact {t['exact']} / within 1 px {t['matched']}; texts equal {t['texts']}; max score "
                f"diff on identical images {t['max_score_diff']:.2e}")
