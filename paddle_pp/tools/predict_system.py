"""Run the whole PP-OCR system (detect, classify, recognize) on images, as PaddleOCR's predict_system.py.

    python deploy/predict_system.py                       # the bundled demo images
    python deploy/predict_system.py --image_dir photos/ --use_angle_cls false --visualize
    python deploy/predict_system.py --slim                # the slim system: pruned det, PACT-quantized cls + rec

Writes OUTPUT/system_results.txt, one line per image in PaddleOCR's format:
`image_name<TAB>[{"transcription": ..., "points": [[x, y], ...4], "score": ...}, ...]` in reading order
(an image without text gets `[]`). With --visualize, OUTPUT/vis/<image_name> shows the input with the boxes
on the left and the recognized text in the boxes' places on a white panel on the right.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from paddle_pp.tools import utility

RESULTS = "system_results.txt"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = utility.build_parser("system", __doc__).parse_args(argv)

    def build():
        from paddle_pp import PPOCR

        return PPOCR(det_model_dir=args.det_model_dir, cls_model_dir=args.cls_model_dir,
                     rec_model_dir=args.rec_model_dir, use_angle_cls=args.use_angle_cls, drop_score=args.drop_score,
                     lang=args.lang, slim=args.slim, max_pixels=args.max_pixels,
                     **utility.engine_options(args), **utility.model_options(args, "det", "cls", "rec"))

    def process(ocr, items: List[utility.Item]) -> List[utility.Outcome]:
        outcomes = []
        for item in items:
            results = ocr(item.image)
            line = utility.result_line(item.name, json.dumps(results, ensure_ascii=False))
            outcome = utility.Outcome({RESULTS: line}, len(results))
            if args.visualize:
                from paddle_pp.utils.visualize import draw_ocr_box_txt

                utility.visualize(outcome, utility.visual_path(args, item.name),
                                  lambda: draw_ocr_box_txt(item.image, [r["points"] for r in results],
                                                           [r["transcription"] for r in results],
                                                           font_path=args.vis_font_path))
            outcomes.append(outcome)
        return outcomes

    return utility.run(args, build, process, [RESULTS], count_label="text lines", desc="ocr")


if __name__ == "__main__":
    sys.exit(main())
