"""Text detection (DB) on images, as PaddleOCR's tools/infer/predict_det.py.

    python deploy/predict_det.py                                 # the bundled demo images
    python deploy/predict_det.py --image_dir photos/ --det_db_box_thresh 0.5 --visualize

Writes OUTPUT/det_results.txt, one line per image in PaddleOCR's predict_det format:
`image_name<TAB>[[[x, y], [x, y], [x, y], [x, y]], ...]`, a JSON list of boxes (integer source pixels,
clockwise from the top-left corner, in the detector's order). With --visualize, OUTPUT/det_vis/<image_name>
shows the boxes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

from paddle_pp.tools import utility

RESULTS = "det_results.txt"


def outcomes(boxes_of: Callable[[Any], List[Any]], items: List[utility.Item],
             args: argparse.Namespace) -> List[utility.Outcome]:
    """One Outcome per image: its boxes (`boxes_of(image)`) as a det_results.txt line, and with --visualize its
    det_vis picture. `paddle-pp ocr --rec false` shares it."""
    results = []
    for item in items:
        boxes = boxes_of(item.image)
        outcome = utility.Outcome({RESULTS: utility.result_line(item.name, json.dumps(utility.points_json(boxes)))},
                                  len(boxes))
        if args.visualize:
            from paddle_pp.utils.visualize import draw_det_boxes

            utility.visualize(outcome, utility.visual_path(args, item.name, "det_vis"),
                              lambda: draw_det_boxes(item.image, boxes))
        results.append(outcome)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = utility.build_parser("det", __doc__).parse_args(argv)

    def build():
        from paddle_pp.ocr import build_stage

        return build_stage("det", model_dir=args.det_model_dir, as_paddleocr=args.as_paddleocr,
                           **utility.model_choice(args), **utility.engine_options(args),
                           **utility.model_options(args, "det"))

    def process(detector, items: List[utility.Item]) -> List[utility.Outcome]:
        return outcomes(detector, items, args)

    return utility.run(args, build, process, [RESULTS], count_label="boxes", desc="det")


if __name__ == "__main__":
    sys.exit(main())
