"""Text recognition (CRNN + CTC) of text-line images, as PaddleOCR's tools/infer/predict_rec.py.

    python deploy/predict_rec.py --image_dir crops/ --rec_batch_num 8

The inputs are already text-line crops (what the detector cuts out), not whole pages. Writes
OUTPUT/rec_results.txt, one line per image: `image_name<TAB>text<TAB>score` (score: the mean of the kept
steps' probabilities). Images are sorted by aspect ratio and batched --rec_batch_num at a time, the batch
width set by its widest crop, as PaddleOCR does, except that a batch is split rather than pad a crop beyond
rec.yml's Inference.max_pad_ratio times its own width (1.0: a crop's result is what it gives alone, whatever
its batch-mates); a few batches are read at a time. An image wider than
2048 times its height is reported as a failure (its input would need gigabytes), not recognized.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

from paddle_pp.tools import utility

RESULTS = "rec_results.txt"
# The recognizer's input width grows with the crop's aspect ratio (32 * w / h pixels, 8 * w / h LSTM steps):
# a 1x100000 "line" would need gigabytes. Wider than this is reported as a failure, not run.
MAX_ASPECT_RATIO = 2048


def too_wide(image) -> Optional[str]:
    h, w = image.shape[:2]
    if w > MAX_ASPECT_RATIO * h:
        return (f"aspect ratio {w}:{h} is too wide for a text line (the limit is {MAX_ASPECT_RATIO}:1; "
                "crop the image into lines)")
    return None


def outcomes(read: Callable[[List[Any]], Sequence[Tuple[str, float]]],
             items: List[utility.Item]) -> List[utility.Outcome]:
    """One Outcome per image: its (text, score) from `read(images)` as a rec_results.txt line; an image too wide
    for a text line fails alone. `paddle-pp ocr --det false` shares it."""
    results = [utility.Outcome(error=too_wide(item.image)) for item in items]
    ok = [i for i, outcome in enumerate(results) if outcome.error is None]
    for i, (text, score) in zip(ok, read([items[i].image for i in ok]) if ok else []):
        results[i] = utility.Outcome({RESULTS: utility.result_line(items[i].name, text, str(float(score)))}, 1)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = utility.build_parser("rec", __doc__).parse_args(argv)

    def build():
        from paddle_pp.ocr import build_stage

        return build_stage("rec", model_dir=args.rec_model_dir, as_paddleocr=args.as_paddleocr,
                           **utility.model_choice(args), **utility.engine_options(args),
                           **utility.model_options(args, "rec"))

    batch = 8 * (args.rec_batch_num or int(utility.yaml_default("rec_batch_num")))
    return utility.run(args, build, outcomes, [RESULTS], batch_size=batch, count_label="texts", desc="rec")


if __name__ == "__main__":
    sys.exit(main())
