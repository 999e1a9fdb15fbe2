"""Make 0/180 direction-classification sets from recognition samples (synthetic or real crops).

    python dataset_tools/synth_cls.py --label_file rec/label.txt --image_root rec --out cls_set
    python dataset_tools/synth_cls.py --synth 20000 --lang en --out cls_synth --seed 0 --workers 4
    python dataset_tools/synth_cls.py --synth 20000 --config paddle_pp/dataset_tools/presets/receipt.yml --out cls_receipt

Each source line image is stored upright (label `0`) and turned by 180 degrees (label `180`); with
--mode random each sample gets one of the two at random (--ratio_180). The upright copy keeps the
original bytes. Output: DIR/label.txt (`path<TAB>0|180`) and the images.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

import cv2
from tqdm import tqdm

from paddle_pp.dataset_tools.tool_io import (DataToolError, encode_image, make_montage, tool_main,
                                             write_montage_png)
from paddle_pp.utils.files import write_bytes_atomic, write_text_atomic
from paddle_pp.utils.image_io import decode_image, read_image
from paddle_pp.utils.label_files import read_label_lines


def source_from_label_file(label_file: Path, image_root: Path) -> Iterator[Tuple[str, bytes, str]]:
    """(where, original bytes, extension) for each readable line; unreadable ones are reported and skipped."""
    for line_number, path, _ in read_label_lines(label_file):
        where = f"{label_file}:{line_number}: {image_root / path}"
        try:
            data = (image_root / path).read_bytes()
            decode_image(data, where)
        except OSError as error:
            print(f"skipped: {where}: {error.strerror or error}", file=sys.stderr)
            continue
        except DataToolError as error:
            print(f"skipped: {error}", file=sys.stderr)
            continue
        yield where, data, Path(path).suffix.lstrip(".").lower() or "jpg"


def source_from_synth(num: int, lang: str, seed: int, workers: int, font_dirs=None, config_path=None,
                      corpus_file: Optional[Path] = None, max_len: int = 25) -> Iterator[Tuple[str, bytes, str]]:
    """Fresh synth_rec lines (made in a temporary folder, then read back); `config_path` holds synth_rec effect
    settings (one YAML file or a list, e.g. paddle_pp/dataset_tools/presets/receipt.yml), `corpus_file` its texts (cut to
    at most `max_len` characters)."""
    import tempfile
    from paddle_pp.dataset_tools import synth_rec
    synthesizer = synth_rec.make_synthesizer(lang, seed, font_dirs, corpus_file=corpus_file, max_len=max_len,
                                             config=synth_rec.load_config(config_path, lang))
    with tempfile.TemporaryDirectory(prefix="synth_cls_") as temp:
        synth_rec.generate(synthesizer, num, Path(temp) / "rec", workers=workers, ext="png")
        yield from source_from_label_file(Path(temp) / "rec" / "label.txt", Path(temp) / "rec")


def make_cls_set(samples, out: Path, mode: str = "both", ratio_180: float = 0.5, seed: int = 0,
                 progress: bool = True) -> dict:
    """Write the classification set; returns counts per label."""
    if mode not in ("both", "random"):
        raise DataToolError(f"unknown --mode {mode!r}: use both or random")
    lines: List[str] = []
    counts = {"0": 0, "180": 0}
    for index, (where, data, ext) in enumerate(tqdm(samples, desc="synth_cls", unit="img", disable=not progress)):
        rng = np.random.default_rng([seed, index])
        if mode == "both":
            angles = ["0", "180"]
        else:
            angles = ["180" if rng.random() < ratio_180 else "0"]
        for angle in angles:
            relpath = f"images/{index // 10000:04d}/{index:08d}_{angle}.{ext}"
            if angle == "0":
                payload = data
            else:
                payload = encode_image(cv2.rotate(decode_image(data, where), cv2.ROTATE_180), ext)
            write_bytes_atomic(out / relpath, payload, durable=False)
            lines.append(f"{relpath}\t{angle}")
            counts[angle] += 1
    if not lines:
        raise DataToolError("no readable source images; nothing written")
    write_text_atomic(out / "label.txt", "\n".join(lines) + "\n")
    return counts


def write_montage(out: Path, count: int, seed: int) -> Path:
    """Montage of random samples of the finished set, captioned with their labels."""
    lines = list(read_label_lines(out / "label.txt"))
    rng = np.random.default_rng([seed, 1 << 30])
    chosen = sorted(rng.choice(len(lines), size=min(count, len(lines)), replace=False).tolist())
    images = [read_image(out / lines[i][1]) for i in chosen]
    captions = [lines[i][2] for i in chosen]
    path = out / "montage.png"
    write_montage_png(path, make_montage(images, captions, columns=3, cell_width=300, cell_height=32,
                                         caption_height=16))
    return path


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", type=Path, help="recognition label file of the source crops")
    parser.add_argument("--image_root", type=Path, help="folder the label paths are relative to")
    parser.add_argument("--synth", type=int, default=0, help="make this many synth_rec lines as the source")
    parser.add_argument("--lang", choices=["en", "ch"], default="en", help="with --synth")
    parser.add_argument("--font_dir", type=Path, action="append", help="with --synth")
    parser.add_argument("--workers", type=int, default=1, help="with --synth")
    parser.add_argument("--config", type=Path, action="append",
                        help="with --synth: synth_rec effect settings (YAML, repeatable: later files win), e.g. "
                             "dataset_tools/presets/receipt.yml")
    parser.add_argument("--corpus_file", type=Path, help="with --synth: texts, one per line")
    parser.add_argument("--max_len", type=int, default=25,
                        help="with --synth --corpus_file: longer corpus lines are cut to this many characters")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", choices=["both", "random"], default="both")
    parser.add_argument("--ratio_180", type=float, default=0.5, help="with --mode random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--montage", type=int, default=18, help="samples in DIR/montage.png (0: none)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if (args.out / "label.txt").exists() and not args.overwrite:
        raise DataToolError(f"{args.out}/label.txt exists; pass --overwrite to replace the set")
    if args.synth:
        samples = source_from_synth(args.synth, args.lang, args.seed, max(1, args.workers), args.font_dir,
                                    args.config, args.corpus_file, args.max_len)
    elif args.label_file:
        if not args.label_file.is_file():
            raise DataToolError(f"{args.label_file}: label file not found")
        samples = source_from_label_file(args.label_file, args.image_root or args.label_file.parent)
    else:
        parser.error("give --label_file (and --image_root) or --synth N")
    counts = make_cls_set(samples, args.out, args.mode, args.ratio_180, args.seed)
    print(f"{args.out}/label.txt: {counts['0']} x 0, {counts['180']} x 180")
    if args.montage:
        print(f"montage: {write_montage(args.out, args.montage, args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
