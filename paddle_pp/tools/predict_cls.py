"""Text direction classification (0 / 180 degrees) of text-line images, as PaddleOCR's predict_cls.py.

    python deploy/predict_cls.py --image_dir crops/

The inputs are already text-line crops (what the detector cuts out), not whole pages. Writes
OUTPUT/cls_results.txt, one line per image: `image_name<TAB>label<TAB>score`, label '0' or '180'
(Global.label_list of the model's YAML) and its softmax score. Images are batched --cls_batch_num at a time.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

from paddle_pp.tools import utility

RESULTS = "cls_results.txt"


def outcomes(classify: Callable[[List[Any]], Sequence[Tuple[str, float]]],
             items: List[utility.Item]) -> List[utility.Outcome]:
    """One Outcome per image: its (label, score) from `classify(images)` as a cls_results.txt line.
    `paddle-pp ocr --det false --rec false` shares it."""
    results = classify([item.image for item in items])
    return [utility.Outcome({RESULTS: utility.result_line(item.name, label, str(float(score)))}, 1)
            for item, (label, score) in zip(items, results)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = utility.build_parser("cls", __doc__).parse_args(argv)

    def build():
        from paddle_pp.ocr import build_stage

        return build_stage("cls", model_dir=args.cls_model_dir, as_paddleocr=args.as_paddleocr,
                           **utility.model_choice(args), **utility.engine_options(args),
                           **utility.model_options(args, "cls"))

    def process(classifier, items: List[utility.Item]) -> List[utility.Outcome]:
        return outcomes(lambda images: classifier(images)[1], items)

    # Read a few batches at a time: the classifier sorts them by aspect ratio into batches of batch_num.
    batch = 8 * (args.cls_batch_num or int(utility.yaml_default("cls_batch_num")))
    return utility.run(args, build, process, [RESULTS], batch_size=batch, count_label="labels", desc="cls")


if __name__ == "__main__":
    sys.exit(main())
