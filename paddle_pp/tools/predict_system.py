"""Run the whole PP-OCR system (detect, classify, recognize) on images, as PaddleOCR's predict_system.py.

    python deploy/predict_system.py                       # the bundled demo images
    python deploy/predict_system.py --image_dir photos/ --use_angle_cls false --visualize
    python deploy/predict_system.py --slim                # the slim system: pruned det, PACT-quantized cls + rec

    python deploy/predict_system.py --image_dir scans/ --output_format json,txt,hocr,pdf --pages 1-3

Inputs are images, PDFs and multi-page TIFFs (paddle_pp.documents): a document's pages are read one at a time
and named `file.pdf#page=3` in the results.

--output_format json (the default) writes OUTPUT/system_results.txt, one line per image or page in PaddleOCR's
format: `image_name<TAB>[{"transcription": ..., "points": [[x, y], ...4], "score": ...}, ...]` in reading order
(an image without text gets `[]`; with --return_word_box each line also has "words": [{"transcription",
"points", "score"}, ...]). txt, hocr and pdf write one file per input (a whole document in one file):
OUTPUT/<format>/<name>.<format> (paddle_pp.output); hocr and pdf turn --return_word_box on.
With --visualize, OUTPUT/vis/<image_name> shows the input with the boxes (and word boxes, thin) on the left and
the recognized text in the boxes' places on a white panel on the right.

PaddleOCR's command lines run as they are (paddle_pp/paddleocr_args.py): --draw_img_save_dir is --output,
--use_gpu false and --use_onnx are taken, --page_num N reads the first N pages. --save_crop_res true writes the crop
each kept line was read from (after the classifier's turn) to --crop_res_save_dir (./output) as
<image name>_crop_<k>.jpg (k: the line's place in the results; a page: scan.pdf_page3_crop_0.jpg), and rec_gt.txt
there, `crop<TAB>text` per crop: a recognition label file to correct and train on (docs/training.md).
The `paddleocr` command's --det false reads each input whole as one line (classified first with --use_angle_cls):
OUTPUT/rec_results.txt as predict_rec writes it; with --rec false too, OUTPUT/cls_results.txt as predict_cls;
--rec false alone writes the boxes in reading order to OUTPUT/det_results.txt as predict_det (docs/inference.md).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence

from paddle_pp import paddleocr_args
from paddle_pp.documents import PageResult
from paddle_pp.pipeline import OCRResult
from paddle_pp.tools import utility
from paddle_pp.utils.image_io import ImageOptions

RESULTS = "system_results.txt"
DOCUMENT_FORMATS = ("txt", "hocr", "pdf")   # one file per input, from paddle_pp.output
WORD_BOX_FORMATS = ("hocr", "pdf")          # need word boxes


class DocumentOutputs:
    """The per-input files of --output_format (txt, hocr, pdf): the pages' results go to every format's writer
    as they finish; close() writes each file atomically, and one that fails is reported without losing the
    others. Nothing is written for an input whose pages all failed."""

    def __init__(self, output: Path, name: str, formats: Sequence[str]) -> None:
        from paddle_pp.output import writer_class

        self.paths = {fmt: output / fmt / f"{name}.{fmt}" for fmt in formats}
        self.writers = {fmt: writer_class(fmt)(name) for fmt in formats}
        self.read = 0

    def add(self, result, image) -> None:
        self.read += result.error is None
        for writer in self.writers.values():
            writer.add(result, image)

    def close(self) -> List[str]:
        from paddle_pp.output import write_all

        if not self.read:
            return []
        return write_all({self.paths[fmt]: writer for fmt, writer in self.writers.items()})


def save_crops(outcome: utility.Outcome, crop_dir: Path, name: str, lines_read: Sequence[OCRResult]) -> List[str]:
    """--save_crop_res: write each line's crop (atomically) and return its label lines, `crop<TAB>text`. A crop that
    cannot be written is a warning of the image, and its label line is left out; the image keeps its results."""
    labels = []
    for index, line in enumerate(lines_read):
        crop_name = paddleocr_args.crop_file(name, index)
        if utility.visualize(outcome, crop_dir / crop_name, lambda: line.crop):
            labels.append(utility.result_line(crop_name, line.transcription))
    return labels


def build_ocr(args: argparse.Namespace, **kwargs: Any):
    """The PPOCR that the command line asks for."""
    from paddle_pp import PPOCR

    return PPOCR(**utility.system_options(args), max_pixels=args.max_pixels, pdf_dpi=args.pdf_dpi,
                 **utility.model_choice(args), **utility.engine_options(args),
                 **utility.model_options(args, "det", "cls", "rec"), **kwargs)


def one_stage_problem(args: argparse.Namespace) -> Optional[str]:
    """Why --det false / --rec false cannot run with the other flags given, or None. The flags that shape the
    system's results have nothing to act on there, and are refused rather than ignored."""
    given = {"--output_format": args.output_format != ["json"], "--return_word_box": args.return_word_box,
             "--save_crop_res": args.save_crop_res,
             "--use_doc_orientation_classify": args.use_doc_orientation_classify and not args.det,
             "--drop_score": args.drop_score is not None, "--visualize": args.visualize and not args.det}
    refused = [flag for flag, value in given.items() if value]
    stages = "--det false --rec false" if not (args.det or args.rec) else ("--det false" if not args.det
                                                                          else "--rec false")
    if refused:
        return f"{stages} writes one stage's results: {', '.join(refused)} cannot apply; leave it out"
    use_angle_cls = args.use_angle_cls
    if use_angle_cls is None:
        use_angle_cls = utility.load_config("system")["System"]["use_angle_cls"]
    if not (args.det or args.rec or use_angle_cls):
        return "--det false --rec false with --use_angle_cls false asks for nothing; keep --det, --rec or the classifier"
    return None


def one_stage(args: argparse.Namespace) -> int:
    """PaddleOCR's `--det false` / `--rec false`, with the system's models and options: detection only (boxes in
    reading order), each input read as one line (classified first when use_angle_cls is on), or each input
    classified; written as predict_det, predict_rec and predict_cls write them."""
    from paddle_pp.tools import predict_cls, predict_det, predict_rec

    build = functools.partial(build_ocr, args)
    adjusted = ImageOptions.of(args).adjust
    if not args.rec and args.det:
        def boxes(ocr, items):
            return predict_det.outcomes(lambda image: ocr.system.page_boxes(adjusted(image))[0], items, args)

        return utility.run(args, build, boxes, [predict_det.RESULTS], count_label="boxes", desc="det")
    if args.rec:
        def texts(ocr, items):
            return predict_rec.outcomes(lambda images: ocr.read_lines([adjusted(i) for i in images]), items)

        batch = 8 * (args.rec_batch_num or int(utility.yaml_default("rec_batch_num")))
        return utility.run(args, build, texts, [predict_rec.RESULTS], batch_size=batch, count_label="texts",
                           desc="rec")

    def labels(ocr, items):
        return predict_cls.outcomes(lambda images: ocr.classify_lines([adjusted(i) for i in images]), items)

    batch = 8 * (args.cls_batch_num or int(utility.yaml_default("cls_batch_num")))
    return utility.run(args, build, labels, [predict_cls.RESULTS], batch_size=batch, count_label="labels", desc="cls")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = utility.build_parser("system", __doc__)
    args = parser.parse_args(argv)
    if not (args.det and args.rec):
        problem = one_stage_problem(args)
        if problem:
            parser.error(problem)
        return one_stage(args)
    formats = args.output_format
    word_boxes = args.return_word_box
    if word_boxes is None and any(fmt in WORD_BOX_FORMATS for fmt in formats):
        word_boxes = True  # hOCR words and the PDF's text layer sit on word boxes
    build = functools.partial(build_ocr, args, return_word_box=word_boxes)
    adjusted = ImageOptions.of(args).adjust   # what is read; pictures show the image as given

    crop_dir = Path(args.crop_res_save_dir) if args.save_crop_res else None
    # an absolute name: the results files live in --output, this one in --crop_res_save_dir
    crop_labels = str((crop_dir / utility.CROP_LABELS).resolve()) if crop_dir is not None else None

    def process(ocr, items: List[utility.Item]) -> List[utility.Outcome]:
        outcomes = []
        for item in items:
            lines_read = ocr.ocr_results(adjusted(item.image), keep_crops=crop_dir is not None)
            results = [line.to_dict() for line in lines_read]
            lines = {RESULTS: utility.result_line(item.name, json.dumps(results, ensure_ascii=False))}
            outcome = utility.Outcome(lines if "json" in formats else {}, len(results))
            if crop_dir is not None:
                outcome.lines[crop_labels] = save_crops(outcome, crop_dir, item.name, lines_read)
            if item.page is not None:
                outcome.page = PageResult.of(item.page, results, angle=ocr.page_angle(lines_read))
            if args.visualize:
                from paddle_pp.utils.visualize import draw_ocr_box_txt

                # a page's picture is a PNG named after the page: vis/scan.pdf#page=3.png
                picture = item.name + ".png" if item.page is not None and item.page.number else item.name
                utility.visualize(outcome, utility.visual_path(args, picture),
                                  lambda: draw_ocr_box_txt(item.image, [r["points"] for r in results],
                                                           [r["transcription"] for r in results],
                                                           font_path=args.vis_font_path,
                                                           word_boxes=[[w["points"] for w in r.get("words", [])]
                                                                       for r in results]))
            outcomes.append(outcome)
        return outcomes

    per_input = [fmt for fmt in formats if fmt in DOCUMENT_FORMATS]
    documents = (lambda path, name: DocumentOutputs(Path(args.output), name, per_input)) if per_input else None
    result_files = ([RESULTS] if "json" in formats else []) + ([crop_labels] if crop_labels else [])
    return utility.run(args, build, process, result_files, count_label="text lines", desc="ocr", documents=documents,
                       document_dirs=per_input)


if __name__ == "__main__":
    sys.exit(main())
