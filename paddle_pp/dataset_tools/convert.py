r"""Label conversions and statistics.

    python dataset_tools/convert.py icdar2015 --gt_dir ch4_training_localization_transcription_gt \
        --image_dir ch4_training_images --out train_icdar2015_label.txt
    python dataset_tools/convert.py det2rec --label_file det_label.txt --image_root R --out rec_crops/
    python dataset_tools/convert.py det2cls --label_file det_label.txt --image_root R --out cls_crops/
    python dataset_tools/convert.py stack --label_file det_label.txt --image_root R --out long/ [--group 3] [--across]
    python dataset_tools/convert.py photograph --label_file det_label.txt --image_root R --out photos/ [--fill 0.5]
    python dataset_tools/convert.py stats --label_file rec_label.txt [--dict keys.txt] [--det]

icdar2015: each `gt_img_N.txt` (lines `x1,y1,...,x4,y4,transcription`, UTF-8 with or without BOM; the
transcription may contain commas) becomes one detection label line `<prefix>/img_N.jpg<TAB>[...]`, where
the prefix defaults to the image folder's name (PaddleOCR's layout: paths relative to the folder above).
det2rec: each quad is cut out by a perspective warp (as the PP-OCR system crops), "###" / "*" skipped.
det2cls: the same crops, each stored upright (label 0) and turned 180 degrees (label 180).
stack: long images (long receipts, as a test of the detector's resize): every `--group` labelled images in turn,
scaled to the narrowest one's width and stacked top to bottom (`--across`: to the lowest one's height, side by side,
left to right), their labels moved with them (`images/long_N.jpg` and `label.txt`, a detection label file).
photograph: each labelled page as a phone photographs it (a scanned receipt photographed on a table, as a test of
the detector's second pass): in a 3024x4032 frame, `--fill` of its height, slightly turned, held at an angle
(`--tilt`) and lit from one side (`--light`) when asked, blurred, with noise, its labels moved with it
(`images/N_NAME.jpg` and `label.txt`).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

import cv2
from tqdm import tqdm

from paddle_pp.dataset_tools.tool_io import DataToolError, load_dictionary, tool_main, write_image
from paddle_pp.utils.files import write_text_atomic
from paddle_pp.utils.image_io import read_image
from paddle_pp.utils.label_files import format_det_label, is_dont_care, parse_det_label, read_label_lines

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".PNG", ".JPEG")
GT_NAME = re.compile(r"^gt_(.+)\.txt$")


# ----------------------------------------------------------------------------- ICDAR 2015
def parse_icdar2015_gt(path: Path) -> List[dict]:
    """Items of one gt file; a malformed line raises DataToolError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataToolError(f"{path}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DataToolError(f"{path}: not UTF-8 text") from None
    items = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        parts = line.split(",", 8)
        if len(parts) < 9:
            raise DataToolError(f"{path}:{line_number}: expected 8 coordinates and a transcription, got {line!r}")
        try:
            coordinates = [int(round(float(value))) for value in parts[:8]]
        except ValueError:
            raise DataToolError(f"{path}:{line_number}: coordinates must be numbers, got {parts[:8]}") from None
        points = [[coordinates[i], coordinates[i + 1]] for i in range(0, 8, 2)]
        items.append({"transcription": parts[8], "points": points})
    return items


def find_image(image_dir: Path, stem: str) -> Optional[Path]:
    for suffix in IMAGE_SUFFIXES:
        candidate = image_dir / (stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def convert_icdar2015(gt_dir: Path, image_dir: Path, out: Path, path_prefix: Optional[str] = None) -> dict:
    """Write one detection label file for a folder of gt_img_N.txt; problems are reported, others go on."""
    if not gt_dir.is_dir():
        raise DataToolError(f"{gt_dir}: --gt_dir is not a folder")
    if not image_dir.is_dir():
        raise DataToolError(f"{image_dir}: --image_dir is not a folder")
    prefix = image_dir.name if path_prefix is None else path_prefix
    gt_files = sorted((p for p in gt_dir.iterdir() if GT_NAME.match(p.name)),
                      key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])
    if not gt_files:
        raise DataToolError(f"{gt_dir}: no gt_*.txt files")
    lines, problems, boxes, dont_care = [], [], 0, 0
    for gt_file in gt_files:
        stem = GT_NAME.match(gt_file.name).group(1)
        image = find_image(image_dir, stem)
        if image is None:
            problems.append(f"{gt_file}: no image {stem}.* in {image_dir}")
            continue
        try:
            items = parse_icdar2015_gt(gt_file)
        except DataToolError as error:
            problems.append(str(error))
            continue
        boxes += len(items)
        dont_care += sum(is_dont_care(item["transcription"]) for item in items)
        relative = f"{prefix}/{image.name}" if prefix else image.name
        lines.append(f"{relative}\t{format_det_label(items)}")
    write_text_atomic(out, "\n".join(lines) + ("\n" if lines else ""))
    return {"images": len(lines), "boxes": boxes, "dont_care": dont_care, "problems": problems}


# ----------------------------------------------------------------------------- crops
def crop_quad(image: np.ndarray, points: Sequence[Sequence[float]]) -> np.ndarray:
    """PP-OCR's get_rotate_crop_image: perspective-warp a quad to an upright rectangle; tall crops
    (h/w >= 1.5) are turned 90 degrees. Polygons with more than 4 points use their min-area rectangle."""
    quad = np.asarray(points, dtype=np.float32)
    if len(quad) != 4:
        box = cv2.boxPoints(cv2.minAreaRect(quad))
        quad = order_clockwise(box)
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    if width < 1 or height < 1:
        raise DataToolError("degenerate box (zero width or height)")
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(quad, target)
    crop = cv2.warpPerspective(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    if crop.shape[0] / crop.shape[1] >= 1.5:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def order_clockwise(points: np.ndarray) -> np.ndarray:
    """Top-left first, then clockwise (image coordinates)."""
    points = np.asarray(points, dtype=np.float32)
    by_x = points[np.argsort(points[:, 0])]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], np.float32)


def det_to_crops(label_file: Path, image_root: Path, out_dir: Path, with_180: bool = False,
                 ext: str = "jpg", keep_text: Optional[Callable[[str], Optional[str]]] = None) -> dict:
    """Crop every readable instance; write rec label.txt (and cls_label.txt with both orientations).

    `keep_text(text)` returns None to keep an instance or the reason to skip it (counted in "skipped")."""
    rec_lines, cls_lines, problems, skipped = [], [], [], Counter()
    entries = list(read_label_lines(label_file))
    for line_number, path, label in tqdm(entries, desc="crop", unit="img"):
        where = f"{label_file}:{line_number}"
        try:
            items = parse_det_label(label, where)
            image = read_image(image_root / path)
        except DataToolError as error:
            problems.append(str(error))
            continue
        stem = Path(path).stem
        for number, item in enumerate(items):
            text = item["transcription"]
            if is_dont_care(text) or not text.strip():
                continue
            reason = keep_text(text) if keep_text else None
            if reason:
                skipped[reason] += 1
                continue
            try:
                crop = crop_quad(image, item["points"])
            except (DataToolError, cv2.error) as error:
                problems.append(f"{where}: instance {number}: {error}")
                continue
            name = f"crops/{stem}_{number:03d}.{ext}"
            write_image(out_dir / name, crop)
            rec_lines.append(f"{name}\t{text}")
            cls_lines.append(f"{name}\t0")
            if with_180:
                flipped = f"crops/{stem}_{number:03d}_180.{ext}"
                write_image(out_dir / flipped, cv2.rotate(crop, cv2.ROTATE_180))
                cls_lines.append(f"{flipped}\t180")
    write_text_atomic(out_dir / "label.txt", "\n".join(rec_lines) + ("\n" if rec_lines else ""))
    if with_180:
        write_text_atomic(out_dir / "cls_label.txt", "\n".join(cls_lines) + ("\n" if cls_lines else ""))
    return {"crops": len(rec_lines), "cls_samples": len(cls_lines) if with_180 else 0, "problems": problems,
            "skipped": dict(skipped)}


# ----------------------------------------------------------------------------- long images
def stack_images(label_file: Path, image_root: Path, out_dir: Path, group: int, across: bool = False) -> dict:
    """Every `group` images of a detection label file stacked top to bottom into one long image (each scaled to
    the narrowest one's width; `across`: side by side at the lowest one's height), with their labels; the last
    stack may hold fewer. An unreadable image or label is skipped and named in "problems"."""
    if group < 1:
        raise DataToolError(f"--group must be at least 1, got {group}")
    entries, problems, lines, pages = list(read_label_lines(label_file)), [], [], 0
    group_pages: List[Tuple[np.ndarray, List[dict]]] = []
    for index, (line_number, path, label) in enumerate(tqdm(entries, desc="stack", unit="img")):
        try:  # one stack's images in memory at a time
            group_pages.append((read_image(image_root / path), parse_det_label(label, f"{label_file}:{line_number}")))
        except DataToolError as error:
            problems.append(str(error))
        if group_pages and (len(group_pages) == group or index == len(entries) - 1):
            image, items = stacked_across(group_pages) if across else stacked(group_pages)
            name = f"images/long_{len(lines):03d}.jpg"
            write_image(out_dir / name, image)
            lines.append(f"{name}\t{format_det_label(items)}")
            pages += len(group_pages)
            group_pages = []
    write_text_atomic(out_dir / "label.txt", "\n".join(lines) + ("\n" if lines else ""))
    return {"images": len(lines), "pages": pages, "problems": problems}


def stacked(pages: Sequence[Tuple[np.ndarray, List[dict]]]) -> Tuple[np.ndarray, List[dict]]:
    """(image, items) of labelled pages stacked top to bottom at the narrowest one's width."""
    width = min(image.shape[1] for image, _ in pages)
    parts, items, top = [], [], 0
    for image, page_items in pages:
        scale = width / image.shape[1]
        if scale != 1:
            image = cv2.resize(image, (width, max(1, int(round(image.shape[0] * scale)))), interpolation=cv2.INTER_AREA)
        for item in page_items:
            points = np.asarray(item["points"], dtype=np.float64) * scale + [0, top]
            items.append({"transcription": item["transcription"], "points": np.rint(points).astype(int).tolist()})
        parts.append(image)
        top += image.shape[0]
    return np.vstack(parts), items


def stacked_across(pages: Sequence[Tuple[np.ndarray, List[dict]]]) -> Tuple[np.ndarray, List[dict]]:
    """(image, items) of labelled pages side by side, left to right, at the lowest one's height: stacked() of the
    pages transposed, transposed back."""
    def transposed(image: np.ndarray, items: List[dict]) -> Tuple[np.ndarray, List[dict]]:
        flipped = [{**item, "points": [[y, x] for x, y in item["points"]]} for item in items]
        return np.ascontiguousarray(image.swapaxes(0, 1)), flipped

    return transposed(*stacked([transposed(image, items) for image, items in pages]))


# ----------------------------------------------------------------------------- pages as a phone photographs them
PHONE_FRAME = (3024, 4032)     # a 12 MP phone photo held upright (width, height)


def photograph_pages(label_file: Path, image_root: Path, out_dir: Path, fill: float, seed: int = 0,
                     tilt: float = 0.0, light: float = 0.0) -> dict:
    """Each page of a detection label file as a phone photographs it (photographed()), with its labels carried
    along: a scanned receipt held at arm's length (`fill` 0.5) or close (0.85), a page held at an angle (`tilt`)
    under a lamp to one side (`light`). An unreadable image or label is skipped and named in "problems"."""
    if not 0 < fill <= 1:
        raise DataToolError(f"--fill must be in (0, 1], got {fill}")
    if not 0 <= tilt < 0.5:
        raise DataToolError(f"--tilt must be in [0, 0.5), got {tilt}")
    if not 0 <= light < 1:
        raise DataToolError(f"--light must be in [0, 1), got {light}")
    rng = np.random.default_rng(seed)
    lines, problems = [], []
    for line_number, path, label in tqdm(list(read_label_lines(label_file)), desc="photograph", unit="img"):
        try:
            page, items = read_image(image_root / path), parse_det_label(label, f"{label_file}:{line_number}")
        except DataToolError as error:
            problems.append(str(error))
            continue
        image, moved = photographed(page, items, fill, rng, tilt, light)
        name = f"images/{len(lines):04d}_{Path(path).stem}.jpg"     # numbered: pages of one name in two folders
        write_image(out_dir / name, image)
        lines.append(f"{name}\t{format_det_label(moved)}")
    write_text_atomic(out_dir / "label.txt", "\n".join(lines) + ("\n" if lines else ""))
    return {"images": len(lines), "problems": problems}


def photographed(page: np.ndarray, items: List[dict], fill: float, rng: np.random.Generator, tilt: float = 0.0,
                 light: float = 0.0) -> Tuple[np.ndarray, List[dict]]:
    """(photo, items): the page on a table of one colour in a PHONE_FRAME photo, its height `fill` of the frame's
    (at most 0.9 of its width), turned by up to 3 degrees about its centre; held at an angle when `tilt` > 0 (its
    top edge that share of its width narrower, each top corner moved in by half of it: a perspective); lit from one
    side when `light` > 0 (the light falls by that share across the frame, from a side drawn at random); then the
    camera's blur (sigma 1.2 px) and sensor noise (sigma 4). Each item's points are carried by the same transform."""
    width, height = PHONE_FRAME
    h, w = page.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-3, 3), min(fill * height / h, 0.9 * width / w))
    turn[:, 2] += (width / 2 - w / 2, height / 2 - h / 2)
    transform = np.vstack([turn, [0.0, 0.0, 1.0]])
    if tilt > 0:
        corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        narrowed = corners + np.float32([[tilt * w / 2, 0], [-tilt * w / 2, 0], [0, 0], [0, 0]])
        transform = transform @ cv2.getPerspectiveTransform(corners, narrowed).astype(np.float64)
    table = np.empty((height, width, 3), np.uint8)
    table[:] = rng.integers(60, 140, size=3)
    on_table = _warp(page, transform, (width, height), cv2.INTER_CUBIC)
    inside = _warp(np.full((h, w), 255, np.uint8), transform, (width, height), cv2.INTER_NEAREST)
    photo = np.where(inside[..., None] > 0, on_table, table)
    if light > 0:
        photo = lit_from_one_side(photo, light, rng)
    photo = cv2.GaussianBlur(photo, (0, 0), 1.2)
    photo = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
    moved = [{"transcription": item["transcription"],
              "points": np.rint(cv2.perspectiveTransform(np.asarray(item["points"], np.float64)[None], transform)[0])
              .astype(int).tolist()} for item in items]
    return photo, moved


def _warp(image: np.ndarray, transform: np.ndarray, size: Tuple[int, int], flags: int) -> np.ndarray:
    """The image under a 3x3 transform; an affine one by warpAffine, which photographed sets made before the tilt
    used (warpPerspective rounds a few pixels differently)."""
    if np.array_equal(transform[2], [0.0, 0.0, 1.0]):
        return cv2.warpAffine(image, transform[:2], size, flags=flags)
    return cv2.warpPerspective(image, transform, size, flags=flags)


def lit_from_one_side(photo: np.ndarray, falloff: float, rng: np.random.Generator) -> np.ndarray:
    """The photo under a light from one side (drawn at random): full at that side, `falloff` darker at the other."""
    height, width = photo.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = (xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)   # -0.71 .. 0.71
    gain = 1.0 - falloff * (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    return np.clip(photo * gain[..., None], 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- statistics
def label_statistics(label_files: Sequence[Path], dictionary: Optional[Sequence[str]], det: bool) -> dict:
    """Length histogram, character counts and characters missing from the dictionary."""
    lengths, characters = Counter(), Counter()
    lines = 0
    for label_file in label_files:
        for line_number, _, label in read_label_lines(label_file):
            lines += 1
            texts = [item["transcription"] for item in parse_det_label(label, f"{label_file}:{line_number}")
                     if not is_dont_care(item["transcription"])] if det else [label]
            for text in texts:
                lengths[len(text)] += 1
                characters.update(text)
    known = set(dictionary) | {" "} if dictionary else None
    missing = {c: n for c, n in characters.items() if known is not None and c not in known}
    covered = sum(n for c, n in characters.items() if c not in missing)
    return {"lines": lines, "texts": sum(lengths.values()), "lengths": lengths, "characters": characters,
            "missing": missing, "coverage": covered / max(sum(characters.values()), 1)}


def print_statistics(stats: dict) -> None:
    from paddle_pp.dataset_tools.build_lmdb import length_histogram_text
    print(f"{stats['lines']} label lines, {stats['texts']} texts, {len(stats['characters'])} distinct characters")
    print("label length histogram:")
    for line in length_histogram_text(stats["lengths"]):
        print(line)
    if stats["missing"] or stats["coverage"] < 1:
        missing = " ".join(f"{c!r}:{n}" for c, n in sorted(stats["missing"].items(), key=lambda x: -x[1]))
        print(f"characters not in the dictionary ({len(stats['missing'])}, "
              f"{100 * (1 - stats['coverage']):.2f}% of all characters): {missing}")


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    icdar = commands.add_parser("icdar2015", help="gt_img_N.txt files -> detection label file")
    icdar.add_argument("--gt_dir", type=Path, required=True)
    icdar.add_argument("--image_dir", type=Path, required=True)
    icdar.add_argument("--out", type=Path, required=True, help="detection label file to write")
    icdar.add_argument("--path_prefix", default=None,
                       help="folder written before each image name (default: the image folder's name)")
    for name, helptext in (("det2rec", "detection labels -> recognition crops"),
                           ("det2cls", "detection labels -> 0/180 classification crops")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--label_file", type=Path, required=True)
        sub.add_argument("--image_root", type=Path, required=True)
        sub.add_argument("--out", type=Path, required=True, help="output folder")
        sub.add_argument("--ext", choices=["jpg", "png"], default="jpg")
    stack = commands.add_parser("stack", help="detection labels -> long images, several stacked top to bottom")
    stack.add_argument("--label_file", type=Path, required=True)
    stack.add_argument("--image_root", type=Path, required=True)
    stack.add_argument("--out", type=Path, required=True, help="output folder")
    stack.add_argument("--group", type=int, default=3, help="images per long image")
    stack.add_argument("--across", action="store_true", help="side by side (wide images), not top to bottom")
    photo = commands.add_parser("photograph", help="detection labels -> each page as a phone photographs it")
    photo.add_argument("--label_file", type=Path, required=True)
    photo.add_argument("--image_root", type=Path, required=True)
    photo.add_argument("--out", type=Path, required=True, help="output folder")
    photo.add_argument("--fill", type=float, default=0.5,
                       help="the page's height as a share of the 3024x4032 frame's (0.5: held at arm's length)")
    photo.add_argument("--tilt", type=float, default=0.0,
                       help="held at an angle: the page's top edge this share of its width narrower (0: flat)")
    photo.add_argument("--light", type=float, default=0.0,
                       help="lit from one side: the light falls by this share across the frame (0: even)")
    photo.add_argument("--seed", type=int, default=0)
    stats = commands.add_parser("stats", help="label statistics against a dictionary")
    stats.add_argument("--label_file", type=Path, nargs="+", required=True)
    stats.add_argument("--dict", dest="dict_path", type=Path, default=None,
                       help="dictionary (default: the official ppocr_keys_v1.txt)")
    stats.add_argument("--det", action="store_true", help="the label files are detection labels")
    args = parser.parse_args(argv)

    if args.command == "icdar2015":
        result = convert_icdar2015(args.gt_dir, args.image_dir, args.out, args.path_prefix)
        for problem in result["problems"]:
            print(f"skipped: {problem}", file=sys.stderr)
        print(f"{args.out}: {result['images']} images, {result['boxes']} boxes ({result['dont_care']} '###')")
    elif args.command in ("det2rec", "det2cls"):
        result = det_to_crops(args.label_file, args.image_root, args.out, with_180=args.command == "det2cls",
                              ext=args.ext)
        for problem in result["problems"]:
            print(f"skipped: {problem}", file=sys.stderr)
        written = "label.txt" + (" and cls_label.txt" if args.command == "det2cls" else "")
        print(f"{args.out}: {result['crops']} crops, {written}")
    elif args.command == "stack":
        result = stack_images(args.label_file, args.image_root, args.out, args.group, args.across)
        for problem in result["problems"]:
            print(f"skipped: {problem}", file=sys.stderr)
        print(f"{args.out}: {result['images']} long images of {result['pages']} labelled ones, label.txt")
    elif args.command == "photograph":
        result = photograph_pages(args.label_file, args.image_root, args.out, args.fill, args.seed, args.tilt,
                                  args.light)
        for problem in result["problems"]:
            print(f"skipped: {problem}", file=sys.stderr)
        print(f"{args.out}: {result['images']} photographed pages, label.txt")
    else:
        print_statistics(label_statistics(args.label_file, load_dictionary(args.dict_path), args.det))
    return 0


if __name__ == "__main__":
    sys.exit(main())
