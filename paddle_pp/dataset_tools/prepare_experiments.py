"""Prepare the data of the README's training experiments under train_data/ (idempotent).

    python dataset_tools/prepare_experiments.py [--shared ../shared/data] [--synth_rec 20000] [--synth_det 300]

Real data comes from ../shared/data (never copied: label files point at it); synthetic data is made with our
own generators. Label paths are written relative to the repository root, which is where training runs, so
every config uses `data_dir: ./`.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

ROOT = Path.cwd()  # where training runs: label paths are written relative to it
TOOLS = Path(__file__).resolve().parent


def rel(path: Path) -> str:
    """A path as training sees it: relative to the repository root when possible."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return Path(*([".."] * 1), path.resolve().relative_to(ROOT.parent)).as_posix()


def rebase(label_file: Path, image_root: Path) -> List[str]:
    lines = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        path, label = line.split("\t", 1)
        lines.append(f"{rel(image_root / path)}\t{label}")
    return lines


def read_lines(label_file: Path) -> List[str]:
    return [line for line in label_file.read_text(encoding="utf-8").splitlines() if "\t" in line]


def write(path: Path, lines: List[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"{path.relative_to(ROOT)}: {len(lines)} samples")


def has_cjk_font() -> bool:
    from paddle_pp.dataset_tools.fonts import discover_fonts, fonts_for_language

    return bool(fonts_for_language(discover_fonts(), "ch"))


def run(args: List[str]) -> None:
    """Run one of the dataset tools (given by its file in this package) as a module."""
    module = f"paddle_pp.dataset_tools.{Path(args[0]).stem}"
    subprocess.run([sys.executable, "-m", module] + args[1:], check=True, cwd=ROOT)


def flipped_eval_set(label_file: Path, image_root: Path, out: Path, seed: int = 0) -> List[str]:
    """Real crops each turned by 180 degrees or not at random: the classifier's evaluation set."""
    rng = random.Random(seed)
    lines = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        path, _ = line.split("\t", 1)
        img = cv2.imread(str(image_root / path))
        if img is None:
            continue
        flip = rng.random() < 0.5
        target = out / (Path(path).stem + ("_180" if flip else "_0") + ".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            cv2.imwrite(str(target), np.ascontiguousarray(np.rot90(img, 2)) if flip else img)
        lines.append(f"{rel(target)}\t{'180' if flip else '0'}")
    return lines


def document_corpus(path: Path, n: int, seed: int = 4) -> Path:
    """Document-like English lines in natural case (sentence case, lower case, some Title Case and a few
    capitals, with punctuation and numbers) from corpus/en_words.txt: receipts and SROIE's labels are almost all
    upper case, and a recognizer trained on those alone learns to answer in capitals."""
    words = [w for w in (TOOLS / "corpus" / "en_words.txt").read_text(encoding="utf-8").split() if w.isalpha()]
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rng.randint(2, 9)
        tokens = [rng.choice(words) for _ in range(k)]
        style = rng.random()
        if style < 0.5:
            tokens[0] = tokens[0].capitalize()
        elif style < 0.65:
            tokens = [t.capitalize() for t in tokens]
        elif style < 0.7:
            tokens = [t.upper() for t in tokens]
        for i in range(len(tokens) - 1):
            if rng.random() < 0.08:
                tokens[i] += rng.choice([",", ";", ":"])
        if rng.random() < 0.25:
            tokens.insert(rng.randint(0, len(tokens)), rng.choice([str(rng.randint(0, 9999)), f"({rng.randint(1, 99)})",
                                                                 f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"]))
        line = " ".join(tokens)
        if rng.random() < 0.4:
            line += rng.choice([".", ".", ",", "?", "!", ":"])
        lines.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def short_token_corpus(path: Path, n: int, seed: int = 6) -> Path:
    """Short texts (1-4 characters) cut from synthetic receipt lines: quantities, currency codes, tax codes, single
    digits and symbols. Receipts have many such boxes (1/10 of the SROIE val crops are no wider than 1.5x their
    height) and full lines teach a classifier nothing about them."""
    from paddle_pp.dataset_tools.text_corpus import ReceiptCorpus

    corpus, rng = ReceiptCorpus(), np.random.default_rng(seed)
    lines: List[str] = []
    while len(lines) < n:
        tokens = [t for t in corpus.sample(rng).split() if 1 <= len(t) <= 4]
        if tokens:
            lines.append(tokens[int(rng.integers(len(tokens)))])
        if rng.random() < 0.3:  # single characters, punctuation included
            line = corpus.sample(rng).replace(" ", "")
            if line:
                lines.append(line[int(rng.integers(len(line)))])
    path.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    return path


def long_line_corpus(path: Path, document_corpus_path: Path, seed: int = 8) -> Path:
    """The document sentences with half of them in capitals: receipts print long lines such as "THANK YOU FOR
    YOUR PATRONAGE" in capitals, and a crop that wide is squeezed 5x into the classifier's 192 columns."""
    if not path.is_file():
        rng = np.random.default_rng(seed)
        lines = [line.upper() if rng.random() < 0.5 else line
                 for line in document_corpus_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        write(path, lines)
    return path


def collect_backgrounds(folders: List[Path], dest: Path, exclude: List[str]) -> Path:
    """Link the usable photos of `folders` into `dest` for synth_det.py --bg_dir.

    Skipped: images with an alpha channel (transparent wallpapers decode as black), near-flat ones (nothing to
    learn from), and names containing an `exclude` substring (for pictures that hold text or logos, which the
    synthetic labels would wrongly call background).
    """
    missing = [str(folder) for folder in folders if not Path(folder).is_dir()]
    if missing:
        raise SystemExit(f"--bg_dir: not a folder: {', '.join(missing)}")
    from paddle_pp.dataset_tools.effects import IMAGE_SUFFIXES

    dest.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for folder in folders for p in Path(folder).rglob("*")
                     if p.suffix.lower() in IMAGE_SUFFIXES and not any(s in p.name for s in exclude))
    kept = 0
    for index, source in enumerate(sources):
        image = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 3 or image.shape[2] != 3:
            continue
        if cv2.resize(image, (320, 200), interpolation=cv2.INTER_AREA).std() < 15:
            continue
        link = dest / f"{index:03d}_{source.name}"
        if not link.is_symlink():
            link.symlink_to(source.resolve())
        kept += 1
    if not kept:
        raise SystemExit(f"--bg_dir: no usable photos in {', '.join(map(str, folders))}")
    print(f"{kept} background photos linked in {dest}")
    return dest


def receipt_cls_pairs(out: Path, num: int, seed: int, workers: int, corpus: Optional[Path] = None,
                      neighbor_lines: bool = False, max_len: int = 25, preset: str = "receipt.yml",
                      extra_presets: Sequence[str] = ()) -> None:
    """`num` receipt-styled synthetic lines (presets/`preset`, plus presets/neighbor_lines.yml when asked, plus
    each of presets/`extra_presets` in turn), each stored upright and turned, unless made."""
    if (out / "label.txt").is_file():
        return
    presets = [preset] + (["neighbor_lines.yml"] if neighbor_lines else []) + list(extra_presets)
    run([str(TOOLS / "synth_cls.py"), "--synth", str(num), "--lang", "en", "--out", str(out), "--mode", "both",
         "--seed", str(seed), "--workers", str(workers), "--max_len", str(max_len)]
        + [arg for name in presets for arg in ("--config", str(TOOLS / "presets" / name))]
        + (["--corpus_file", str(corpus)] if corpus else []))


def photo_background_scenes(args: argparse.Namespace, out: Path) -> List[str]:
    """English and Chinese scenes whose backgrounds are mostly (80%) crops of the --bg_dir photos."""
    backgrounds = collect_backgrounds(args.bg_dir, out / "photo_backgrounds", args.bg_exclude)
    lines = []
    for name, lang, num, seed in (("synth_det_photo", "en", args.synth_det_photo, 11),
                                  ("synth_det_photo_ch", "ch", args.synth_det_photo_ch, 12)):
        folder = out / name
        if lang == "ch" and not has_cjk_font():
            continue
        if not (folder / "label.txt").is_file():
            run([str(TOOLS / "synth_det.py"), "--num", str(num), "--out", str(folder), "--mode", "scene", "--lang",
                 lang, "--seed", str(seed), "--workers", str(args.workers), "--bg_dir", str(backgrounds),
                 "--bg_share", "0.8"])
        lines += rebase(folder / "label.txt", folder)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "train_data"))
    parser.add_argument("--synth_rec", type=int, default=20000)
    parser.add_argument("--synth_det", type=int, default=300)
    parser.add_argument("--synth_det_ch", type=int, default=200)
    parser.add_argument("--synth_cls", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bg_dir", type=Path, action="append", default=[],
                        help="folder of text-free photos (repeatable): adds SynthText-style scenes on them "
                             "(README, 'Scenes on photos')")
    parser.add_argument("--bg_exclude", nargs="*", default=[], help="skip photos whose name contains one of these")
    parser.add_argument("--synth_det_photo", type=int, default=400)
    parser.add_argument("--synth_det_photo_ch", type=int, default=200)
    args = parser.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    sroie, uw3, msra = shared / "sroie_dev", shared / "uw3_lines", shared / "msra_td500_test"

    synth_en = out / "synth_en"
    if not (synth_en / "label.txt").is_file():
        run([str(TOOLS / "synth_rec.py"), "--num", str(args.synth_rec), "--out", str(synth_en), "--lang", "en",
             "--seed", "1", "--workers", str(args.workers)])
    synth_doc = out / "synth_en_doc"
    corpus = out / "corpus_en_doc.txt"
    if not corpus.is_file():
        document_corpus(corpus, args.synth_rec)
    if not (synth_doc / "label.txt").is_file():
        run([str(TOOLS / "synth_rec.py"), "--num", str(args.synth_rec), "--out", str(synth_doc), "--lang", "en",
             "--corpus_file", str(corpus), "--seed", "5", "--workers", str(args.workers)])
    synth_det = out / "synth_det"
    if not (synth_det / "label.txt").is_file():
        run([str(TOOLS / "synth_det.py"), "--num", str(args.synth_det), "--out", str(synth_det), "--mode", "scene",
             "--lang", "en", "--seed", "2", "--workers", str(args.workers)])
    synth_det_ch = out / "synth_det_ch"
    if not (synth_det_ch / "label.txt").is_file():
        if has_cjk_font():
            run([str(TOOLS / "synth_det.py"), "--num", str(args.synth_det_ch), "--out", str(synth_det_ch), "--mode",
                 "scene", "--lang", "ch", "--seed", "4", "--workers", str(args.workers)])
        else:
            print("note: no CJK font (e.g. apt install fonts-wqy-microhei): det_prune_train.txt gets no Chinese "
                  "synthetic scenes")
    photos = shared / "paddleocr_samples" / "doc"
    pseudo_photos = out / "det_pseudo_photos.txt"
    if not pseudo_photos.is_file():
        # Unlabelled photos labelled by the official detector: the pruned detector's fine-tuning keeps seeing the
        # kind of scene text the unpruned model was trained on (configs/slim/det_prune.yml).
        for sub in ("imgs", "imgs_en"):
            run([str(TOOLS / "pseudo_label_det.py"), "--image_dir", str(photos / sub), "--path_prefix",
                 rel(photos / sub), "--out", str(out / f"det_pseudo_{sub}.txt")])
        write(pseudo_photos, [line for sub in ("imgs", "imgs_en") for line in read_lines(out / f"det_pseudo_{sub}.txt")])
    synth_cls_pairs = out / "synth_cls_pairs"
    if not (synth_cls_pairs / "label.txt").is_file():
        run([str(TOOLS / "synth_cls.py"), "--synth", str(args.synth_cls // 2), "--lang", "en", "--out",
             str(synth_cls_pairs), "--mode", "both", "--seed", "7", "--workers", str(args.workers)])
    # Receipt-styled pairs (grey, tight, partly dot-matrix; presets/receipt.yml): receipt and document texts,
    # more receipt texts (the classifier's step 6, drawn with every installed font) and 1-4 character texts.
    synth_cls_receipt, synth_cls_receipt_doc = out / "synth_cls_receipt", out / "synth_cls_receipt_doc"
    synth_cls_receipt2, synth_cls_short = out / "synth_cls_receipt2", out / "synth_cls_short"
    receipt_cls_pairs(synth_cls_receipt, args.synth_cls, 11, args.workers)
    receipt_cls_pairs(synth_cls_receipt_doc, args.synth_cls // 2, 12, args.workers, corpus)
    receipt_cls_pairs(synth_cls_receipt2, args.synth_cls, 13, args.workers)
    if not (synth_cls_short / "label.txt").is_file():
        receipt_cls_pairs(synth_cls_short, args.synth_cls // 2, 14, args.workers,
                          short_token_corpus(out / "corpus_short.txt", args.synth_cls))
    # The classifier's step 7: strips of neighbouring lines in the crops, and long (up to 60 character) lines.
    receipt_cls_pairs(out / "synth_cls_receipt3", args.synth_cls, 15, args.workers, neighbor_lines=True)
    receipt_cls_pairs(out / "synth_cls_long", args.synth_cls // 2, 16, args.workers,
                      long_line_corpus(out / "corpus_long.txt", corpus), neighbor_lines=True, max_len=60)
    # Scanned-receipt lines (presets/receipt_scan.yml: light paper, crisp upright print, tight crops), with the
    # receipt texts, 1-4 character texts and long lines in about the proportions of SROIE's crops.
    short_corpus = out / "corpus_short.txt"
    if not short_corpus.is_file():
        short_token_corpus(short_corpus, args.synth_cls)
    receipt_cls_pairs(out / "synth_cls_scan", args.synth_cls, 17, args.workers, preset="receipt_scan.yml")
    receipt_cls_pairs(out / "synth_cls_scan_short", args.synth_cls // 2, 18, args.workers, short_corpus,
                      preset="receipt_scan.yml")
    receipt_cls_pairs(out / "synth_cls_scan_long", args.synth_cls // 4, 19, args.workers,
                      long_line_corpus(out / "corpus_long.txt", corpus), max_len=60, preset="receipt_scan.yml")
    # More long scanned lines for the classifier's second stage (configs/experiments/cls_scan_long.yml): lines wider
    # than 10x their height are squeezed 5x and more into 192 columns, and the first stage still turned 4.5% of
    # its own long training lines.
    receipt_cls_pairs(out / "synth_cls_scan_long2", args.synth_cls // 2, 20, args.workers,
                      long_line_corpus(out / "corpus_long.txt", corpus), max_len=60, preset="receipt_scan.yml")
    # The classifier's third stage (configs/experiments/cls_scan_fit.yml): scanned lines fitted to what real crops
    # measure. Condensed print (presets/condensed_print.yml), more room above the ink than below
    # (presets/box_margins.yml), and on the longer texts strips of the neighbouring lines, often on both sides
    # (presets/dense_lines.yml), as on densely printed receipts.
    fitted = ["condensed_print.yml", "box_margins.yml"]
    receipt_cls_pairs(out / "synth_cls_scan_fit", args.synth_cls * 6 // 5, 23, args.workers, preset="receipt_scan.yml",
                      extra_presets=fitted + ["dense_lines.yml"])
    receipt_cls_pairs(out / "synth_cls_scan_fit_short", args.synth_cls * 3 // 5, 24, args.workers, short_corpus,
                      preset="receipt_scan.yml", extra_presets=fitted)
    receipt_cls_pairs(out / "synth_cls_scan_fit_long", args.synth_cls * 2 // 5, 25, args.workers,
                      long_line_corpus(out / "corpus_long.txt", corpus), max_len=60, preset="receipt_scan.yml",
                      extra_presets=fitted + ["dense_lines.yml"])
    synth_cls = out / "synth_cls"
    if not (synth_cls / "label.txt").is_file():
        run([str(TOOLS / "synth_cls.py"), "--synth", str(args.synth_cls), "--lang", "en", "--out", str(synth_cls),
             "--mode", "random", "--seed", "3", "--workers", str(args.workers)])

    sroie_rec_train = rebase(sroie / "rec_train_label.txt", sroie)
    write(out / "rec_sroie_train.txt", sroie_rec_train)
    write(out / "rec_sroie_val.txt", rebase(sroie / "rec_val_label.txt", sroie))
    write(out / "rec_uw3_test.txt", rebase(uw3 / "test_label.txt", uw3))
    write(out / "rec_en_train.txt", rebase(synth_en / "label.txt", synth_en) + sroie_rec_train)
    write(out / "rec_en_doc.txt", rebase(synth_doc / "label.txt", synth_doc))
    sroie_det_train = rebase(sroie / "det_train_label.txt", sroie)
    write(out / "det_sroie_train.txt", sroie_det_train)
    write(out / "det_train.txt", sroie_det_train + rebase(synth_det / "label.txt", synth_det))
    # Model selection without looking at det_val: every fifth training receipt is held out (16 of 80).
    held_out = sroie_det_train[4::5]
    write(out / "det_sroie_holdout.txt", held_out)
    write(out / "det_train_minus_holdout.txt", [line for line in sroie_det_train if line not in held_out]
          + rebase(synth_det / "label.txt", synth_det))
    # slim/prune.py's sensitivity set: a few training receipts and synthetic scenes (never the val/test sets).
    write(out / "det_prune_sens.txt", sroie_det_train[:6] + rebase(synth_det / "label.txt", synth_det)[:6])
    # Pruned-detector fine-tuning: receipts, English and Chinese synthetic scenes, pseudo-labelled photos (x4).
    prune_scenes = (rebase(synth_det / "label.txt", synth_det)
                    + (rebase(synth_det_ch / "label.txt", synth_det_ch) if (synth_det_ch / "label.txt").is_file()
                       else [])
                    + 4 * read_lines(pseudo_photos))
    write(out / "det_prune_train.txt", sroie_det_train + prune_scenes)
    write(out / "det_prune_scenes.txt", prune_scenes)  # without the receipts (README, "Where the limit comes from")
    if args.bg_dir:
        photo_scenes = photo_background_scenes(args, out)
        write(out / "det_photo_bg.txt", photo_scenes)
        write(out / "det_prune_photo_train.txt", sroie_det_train + prune_scenes + photo_scenes)
    write(out / "det_sroie_val.txt", rebase(sroie / "det_val_label.txt", sroie))
    write(out / "det_msra_test.txt", rebase(msra / "test_label.txt", msra))
    write(out / "cls_synth_train.txt", rebase(synth_cls / "label.txt", synth_cls))
    write(out / "cls_synth_pairs_train.txt", rebase(synth_cls_pairs / "label.txt", synth_cls_pairs))
    write(out / "cls_synth_receipt_train.txt", rebase(synth_cls_receipt / "label.txt", synth_cls_receipt)
          + rebase(synth_cls_receipt_doc / "label.txt", synth_cls_receipt_doc))
    write(out / "cls_synth_short_train.txt", rebase(synth_cls_short / "label.txt", synth_cls_short))
    write(out / "cls_synth_receipt2_train.txt", rebase(synth_cls_receipt2 / "label.txt", synth_cls_receipt2))
    write(out / "cls_synth_receipt3_train.txt", [line for name in ("synth_cls_receipt3", "synth_cls_long")
                                                 for line in rebase(out / name / "label.txt", out / name)])
    write(out / "cls_synth_scan_train.txt", [line for name in ("synth_cls_scan", "synth_cls_scan_short",
                                                               "synth_cls_scan_long")
                                             for line in rebase(out / name / "label.txt", out / name)])
    write(out / "cls_synth_scan_long_train.txt", [line for name in ("synth_cls_scan_long", "synth_cls_scan_long2")
                                                  for line in rebase(out / name / "label.txt", out / name)])
    fitted_sets = ("synth_cls_scan_fit", "synth_cls_scan_fit_short", "synth_cls_scan_fit_long")
    write(out / "cls_synth_scan_fit_train.txt", [line for name in fitted_sets
                                                 for line in rebase(out / name / "label.txt", out / name)])
    write(out / "cls_sroie_val.txt", flipped_eval_set(sroie / "rec_val_label.txt", sroie, out / "cls_sroie_val"))
    # Real train crops turned at random too: the PACT classifier calibrates on the domain it is evaluated on.
    write(out / "cls_sroie_train.txt", flipped_eval_set(sroie / "rec_train_label.txt", sroie, out / "cls_sroie_train",
                                                        seed=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
