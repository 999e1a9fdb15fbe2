"""End-to-end accuracy of the whole system (detection + classifier + recognition) on a labelled detection set.

    python deploy/eval_e2e.py --label_file train_data/det_sroie_val.txt --lang en              # full English system
    python deploy/eval_e2e.py --label_file train_data/det_sroie_val.txt --lang en --slim       # the slim one
    python deploy/eval_e2e.py --label_file train_data/det_sroie_val.txt --lang en --compare rapidocr   # + RapidOCR
    python deploy/eval_e2e.py --label_file train_data/det_sroie_val.txt --lang en --turn 90 \
        --use_doc_orientation_classify true                      # pages scanned sideways, turned upright first
    python deploy/eval_e2e.py --label_file train_data/rec_scene_words_val.txt --crops --ignore_case --lang en
                                                                 # word crops given to the whole system

Each ground-truth line (not "###") is matched one-to-one with the system's line of highest IoU above 0.5 (pairs taken
in order of decreasing IoU); a matched pair is a hit when the texts are equal after removing spaces (SPEC.md's
recognition rule; --ignore_case as well). Precision is hits over the system's lines (those not lying over a "###"
region), recall hits over the ground-truth lines, hmean their harmonic mean, as PaddleOCR's end-to-end evaluation
(tools/end2end) counts them. `1-NED` is one minus the edit distance over all ground-truth characters, a missed line
costing its whole length and a line the system made up its own length. The system runs with its own defaults
(configs/system.yml: the inference resize, drop_score), as users run it. `--turn` turns each image and its labels
clockwise before they are read. `--show_errors N` prints the first N labelled lines not read exactly, each with the
text of the system's line matched to it, or none, after a count of all of them by kind (`miss_kind`: nothing read
over it, a character lost at an end, case only, misread otherwise).

`--crops` takes a recognition label file instead (`path<TAB>text`, a word or line crop per image): each crop is read
by the whole system, as a user who does not know it holds one line would run it, and is a hit when the lines found,
joined in reading order, equal its text (spaces removed; --ignore_case as well). Reported: the crops in which any
text was found, the hits (accuracy: hits over crops) and 1-NED of the joined text.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from paddle_pp.config_schema import SYSTEM
from paddle_pp.metrics.rec_metric import levenshtein
from paddle_pp.pipeline import DENSE_KEYS, INKED_END_KEYS, UNSURE_KEYS, option_field, option_flags
from paddle_pp.tools.eval_det import _area, _intersection, hmean_from_counts
from paddle_pp.tools.peers import PEERS, rapidocr, rapidocr_lines
from paddle_pp.tools.utility import LabelledImages, schema_flag
from paddle_pp.utils.label_files import (is_dont_care, no_image_found, parse_det_label, read_label_lines,
                                         skip_malformed)
from paddle_pp.utils.page_orientation import ANGLES, points_before_turn

# The detector's flags (resize and DB post-processing), the classifier's (PaddleOCR's names) and how lines are cut for
# the recognizer and how dense and unsure lines are read again; PPOCR takes them as options.
MODEL_FLAGS = (option_flags("det") + option_flags("cls")
               + tuple(f"rec_{key}" for key in INKED_END_KEYS + DENSE_KEYS + UNSURE_KEYS) + ("rec_drop_bullets",))

Line = Tuple[np.ndarray, str]


def read_e2e_labels(label_file: Path, data_dir: Path) -> List[Tuple[Path, List[Line], List[np.ndarray]]]:
    """[(image path, [(points, text)] of the lines to read, [points] of the "###" regions)]."""
    items = []
    for line_number, path, label in read_label_lines(label_file, on_malformed=skip_malformed):
        care, dont_care = [], []
        for box in parse_det_label(label, f"{label_file}:{line_number}"):
            points = np.asarray(box["points"], dtype=np.float64).reshape(-1, 2)
            if is_dont_care(box["transcription"]):
                dont_care.append(points)
            else:
                care.append((points, box["transcription"]))
        items.append((data_dir / path, care, dont_care))
    return items


def normalise(text: str, ignore_case: bool) -> str:
    text = "".join(text.split())
    return text.lower() if ignore_case else text


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def match_lines(gts: List[Line], preds: List[Line]) -> List[Tuple[int, int]]:
    """One-to-one (gt index, pred index) pairs with IoU > 0.5, the highest IoU first."""
    candidates = sorted(((iou(g, p), i, j) for i, (g, _) in enumerate(gts) for j, (p, _) in enumerate(preds)),
                        reverse=True)
    used_gt, used_pred, pairs = set(), set(), []
    for value, i, j in candidates:
        if value <= 0.5:
            break
        if i not in used_gt and j not in used_pred:
            used_gt.add(i)
            used_pred.add(j)
            pairs.append((i, j))
    return pairs


# A labelled line the system did not read exactly: (its text, the text of the system's line matched to it, None when
# no line matched)
Miss = Tuple[str, Optional[str]]
NamedMiss = Tuple[str, str, Optional[str]]   # the same, after its image's name


def score_image(gts: List[Line], preds: List[Line], dont_care: List[np.ndarray], ignore_case: bool,
                misses: Optional[List[Miss]] = None) -> Dict[str, int]:
    """Counts for one image: hits, gt lines, predicted lines, edit distance and gt characters. The labelled lines
    missed are appended to `misses` when given."""
    def over_dont_care(points: np.ndarray) -> bool:
        area = _area(points)
        return area > 0 and any(_intersection(points, region) / area > 0.5 for region in dont_care)

    preds = [p for p in preds if not over_dont_care(p[0])]
    pairs = match_lines(gts, preds)
    distance, read_exactly = 0, set()
    for i, j in pairs:
        want, got = normalise(gts[i][1], ignore_case), normalise(preds[j][1], ignore_case)
        if want == got:
            read_exactly.add(i)
        distance += levenshtein(got, want)
    hits = len(read_exactly)
    if misses is not None:
        read_at = {i: preds[j][1] for i, j in pairs}
        misses += [(text, read_at.get(i)) for i, (_, text) in enumerate(gts) if i not in read_exactly]
    matched_gt, matched_pred = {i for i, _ in pairs}, {j for _, j in pairs}
    distance += sum(len(normalise(t, ignore_case)) for k, (_, t) in enumerate(gts) if k not in matched_gt)
    distance += sum(len(normalise(t, ignore_case)) for k, (_, t) in enumerate(preds) if k not in matched_pred)
    return {"hits": hits, "gt": len(gts), "pred": len(preds), "distance": distance,
            "chars": sum(len(normalise(t, ignore_case)) for _, t in gts)}


def read_crop_labels(label_file: Path, data_dir: Path) -> List[Tuple[Path, str]]:
    """[(crop path, its text)] of a recognition label file."""
    return [(data_dir / path, text)
            for _, path, text in read_label_lines(label_file, on_malformed=skip_malformed)]


def score_crop(text: str, lines: List[Line], ignore_case: bool, misses: Optional[List[Miss]] = None) -> Dict[str, int]:
    """Counts for one crop read by the whole system: its lines joined in reading order against its text (appended
    to `misses`, when given, if not read exactly)."""
    want, got = normalise(text, ignore_case), normalise("".join(t for _, t in lines), ignore_case)
    if misses is not None and want != got:
        misses.append((text, " ".join(t for _, t in lines) if lines else None))
    return {"hits": int(want == got), "gt": 1, "pred": int(bool(lines)), "distance": levenshtein(got, want),
            "chars": len(want)}


def summarise(counts: Dict[str, int]) -> Dict[str, float]:
    """Precision, recall and hmean of the hits (eval_det's formula) and 1-NED over the ground-truth characters."""
    result = hmean_from_counts(counts["hits"], counts["gt"], counts["pred"])
    result["1-NED"] = 1 - counts["distance"] / counts["chars"] if counts["chars"] else 0.0
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True,
                        help="a detection label file with transcriptions (with --crops: a recognition label file)")
    parser.add_argument("--crops", action="store_true",
                        help="each image is one word or line crop: its lines found, joined, are scored against "
                             "its text")
    parser.add_argument("--data_dir", default="./", help="label paths are relative to this")
    parser.add_argument("--lang", default=None, help="ch | en (configs/system.yml's rec_models)")
    parser.add_argument("--slim", action="store_true", help="the slim system (PPOCR(slim=True))")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--precision", default=None, help="fp32 | int8 (the slim models' model_int8.onnx)")
    for name in ("det", "cls", "rec"):
        parser.add_argument(f"--{name}_model_dir", default=None)
    for flag in MODEL_FLAGS:  # typed and range-checked by the YAML key each sets
        parser.add_argument(f"--{flag}", default=None, **schema_flag(option_field(flag), flag),
                            help="as predict_system.py's (default: the model's config)")
    parser.add_argument("--use_doc_orientation_classify", default=None,
                        **schema_flag(SYSTEM["use_doc_orientation_classify"], "use_doc_orientation_classify"),
                        help="turn pages upright first (default: configs/system.yml's)")
    parser.add_argument("--light_text_share", default=None, **schema_flag(SYSTEM["light_text_share"],
                                                                          "light_text_share"),
                        help="read a page inverted when more than this share of its lines are light on dark; "
                             "1 = never (default: configs/system.yml's)")
    parser.add_argument("--as_paddleocr", default=None, **schema_flag(SYSTEM["as_paddleocr"], "as_paddleocr"),
                        help="true = the system as PaddleOCR runs it with these models (what paddle-pp adds turned "
                             "off; docs/inference.md), to measure what that adds (default: configs/system.yml's)")
    parser.add_argument("--turn", type=int, default=0, choices=ANGLES,
                        help="turn each image and its labels clockwise by this many degrees first")
    parser.add_argument("--ignore_case", action="store_true", help="a hit ignores case as well as spaces")
    parser.add_argument("--compare", nargs="*", default=[], choices=PEERS,
                        help="also evaluate these systems on the same images (requirements-bench.txt)")
    parser.add_argument("--show_errors", type=int, default=0,
                        help="print the first N labelled lines (crops) each system did not read exactly: what it "
                             "read over each (its line whose box matches the label's), or that no line matched; "
                             "after a count of all of them by kind")
    return parser


def turned(image: np.ndarray, gts: List[Line], dont_care: List[np.ndarray],
           angle: int) -> Tuple[np.ndarray, List[Line], List[np.ndarray]]:
    """The image turned clockwise by `angle`, and its labels' points with it."""
    if angle == 0:
        return image, gts, dont_care
    given = np.ascontiguousarray(np.rot90(image, -ANGLES.index(angle)))

    def carry(points: np.ndarray) -> np.ndarray:   # the page needs `angle` counter-clockwise to be upright again
        return points_before_turn(points, angle, given.shape)

    return given, [(carry(points), text) for points, text in gts], [carry(points) for points in dont_care]


def _summed(items, desc: str, score: Callable[[Any, np.ndarray, List[Miss]], Dict[str, int]],
            misses: Optional[List[NamedMiss]] = None) -> Tuple[Dict[str, int], int]:
    """`score(item, image, its misses)` summed over the readable images, and how many could not be read; each
    image's misses are appended to `misses` (when given) with the image's name."""
    totals = {"hits": 0, "gt": 0, "pred": 0, "distance": 0, "chars": 0}
    images = LabelledImages(items, lambda item: item[0], desc)
    for item, image in images:
        image_misses: List[Miss] = []
        for key, value in score(item, image, image_misses).items():
            totals[key] += value
        if misses is not None:
            misses += [(Path(item[0]).name, want, got) for want, got in image_misses]
    return totals, images.failures


def evaluate(read_lines: Callable[[np.ndarray], List[Line]], items, ignore_case: bool,
             desc: str, turn: int = 0,
             misses: Optional[List[NamedMiss]] = None) -> Tuple[Dict[str, int], int]:
    """Counts summed over the images (``score_image``; each turned clockwise by `turn` first) and how many images
    could not be read; the lines missed, with their image's name, appended to `misses` when given."""
    def score(item, image: np.ndarray, image_misses: List[Miss]) -> Dict[str, int]:
        image, gts, dont_care = turned(image, item[1], item[2], turn)
        return score_image(gts, read_lines(image), dont_care, ignore_case, image_misses)

    return _summed(items, desc, score, misses)


def evaluate_crops(read_lines: Callable[[np.ndarray], List[Line]], items: List[Tuple[Path, str]], ignore_case: bool,
                   desc: str, misses: Optional[List[NamedMiss]] = None
                   ) -> Tuple[Dict[str, int], int]:
    """``evaluate`` for --crops: counts summed over the crops (``score_crop``)."""
    return _summed(items, desc, lambda item, image, image_misses: score_crop(item[1], read_lines(image), ignore_case,
                                                                              image_misses), misses)


MISS_KINDS = ("nothing read", "a character lost at an end", "case only", "misread")


def miss_kind(want: str, got: Optional[str]) -> str:
    """What kind of miss a labelled line (or crop) is, spaces aside (MISS_KINDS): nothing read over it; read but for
    its first or last character (a trailing ':' or '.' a box cut, say); read but for case; otherwise misread."""
    if got is None:
        return MISS_KINDS[0]
    want, got = normalise(want, False), normalise(got, False)
    if got in (want[:-1], want[1:]):
        return MISS_KINDS[1]
    return MISS_KINDS[2] if got.lower() == want.lower() else MISS_KINDS[3]


def _report_misses(misses: Sequence[NamedMiss], show: int, crops: bool) -> None:
    if show <= 0:
        return
    kinds = [miss_kind(want, got) for _, want, got in misses]
    print(f"  not read exactly: {len(misses)}; " + ", ".join(f"{kind} {kinds.count(kind)}" for kind in MISS_KINDS))
    none = "no text" if crops else "no line over its box (IoU > 0.5)"
    for name, want, got in misses[:show]:
        print(f"  {name}: want {want!r}  got " + (repr(got) if got is not None else none))


def _report_crops(name: str, totals: Dict[str, int], failures: int, ignore_case: bool) -> None:
    result = summarise(totals)          # a crop is one ground-truth line: its recall is the crops' accuracy
    print(f"{name}: crops: {totals['gt']} ({failures} unreadable); text found in {totals['pred']}, "
          f"read exactly {totals['hits']}")
    print(f"{name}: crops through the whole system: accuracy {result['recall']:.4f}  1-NED {result['1-NED']:.4f}"
          + ("  (ignoring case)" if ignore_case else ""))


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_pp.ocr import PPOCR

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.crops and args.turn:
        parser.error("--turn applies to detection label files, not to --crops")
    read = read_crop_labels if args.crops else read_e2e_labels
    items = read(Path(args.label_file), Path(args.data_dir))
    if not items:
        print(f"error: {args.label_file}: no labelled images", file=sys.stderr)
        return 1
    if args.crops and any(text.lstrip().startswith("[{") for _, text in items):
        print(f"error: {args.label_file}: a detection label file; --crops reads recognition labels (path<TAB>text)",
              file=sys.stderr)
        return 1
    problem = no_image_found(args.label_file, [item[0] for item in items], args.data_dir)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    options = {flag: getattr(args, flag) for flag in MODEL_FLAGS if getattr(args, flag) is not None}
    ocr = PPOCR(lang=args.lang, slim=args.slim or None, engine=args.engine, precision=args.precision,
                det_model_dir=args.det_model_dir, cls_model_dir=args.cls_model_dir, rec_model_dir=args.rec_model_dir,
                use_doc_orientation_classify=args.use_doc_orientation_classify, as_paddleocr=args.as_paddleocr,
                light_text_share=args.light_text_share, **options)
    systems: Dict[str, Callable[[np.ndarray], List[Line]]] = {
        "ours": lambda image: [(np.asarray(r["points"], dtype=np.float64), r["transcription"]) for r in ocr(image)]}
    if "rapidocr" in args.compare:
        peer = rapidocr()
        systems["rapidocr"] = lambda image: rapidocr_lines(peer, image)
    for name, read_lines in systems.items():
        misses: List[NamedMiss] = []
        if args.crops:
            totals, failures = evaluate_crops(read_lines, items, args.ignore_case, f"eval crops ({name})", misses)
            _report_crops(name, totals, failures, args.ignore_case)
            _report_misses(misses, args.show_errors, crops=True)
            continue
        totals, failures = evaluate(read_lines, items, args.ignore_case, f"eval e2e ({name})", args.turn, misses)
        result = summarise(totals)
        print(f"{name}: images: {len(items) - failures} ({failures} unreadable); lines: {totals['gt']} labelled, "
              f"{totals['pred']} read, {totals['hits']} hits")
        print(f"{name}: end-to-end: precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
              f"hmean {result['hmean']:.4f}  1-NED {result['1-NED']:.4f}"
              + ("  (ignoring case)" if args.ignore_case else ""))
        _report_misses(misses, args.show_errors, crops=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
