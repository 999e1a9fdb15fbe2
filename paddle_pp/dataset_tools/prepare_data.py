"""Prepare under train_data/ the data of the recipes that reproduce the bundled models (idempotent).

    python dataset_tools/prepare_data.py [--shared ../shared/data] [--synth_rec 20000] [--synth_det 300]

What it writes, and which configs read it:
    rec_en_train.txt, rec_en_doc.txt          configs/rec_en.yml (models/rec_en); rec_en_doc also slim/rec_pact.yml
    rec_sroie_train.txt                       configs/slim/rec_pact.yml (paddle_pp/models/slim/rec)
    cls_synth_*_train.txt                     configs/cls_synth.yml (models/cls_synth)
    cls_sroie_train.txt                       configs/slim/cls_pact.yml (paddle_pp/models/slim/cls)
    det_prune_train.txt, det_prune_sens.txt   configs/slim/det_prune.yml (paddle_pp/models/slim/det)
    rec_sroie_val, cls_sroie_val, det_sroie_val, det_msra_test, rec_uw3_test (.txt): evaluation sets

Real data comes from ../shared/data (never copied: label files point at it); synthetic data is made with our
own generators. Label paths are written relative to the repository root, which is where training runs, so
every config uses `data_dir: ./`.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.dataset_tools.tool_io import DataToolError, tool_main
from paddle_pp.utils.files import write_text_atomic

ROOT = Path.cwd()  # where training runs: label paths are written relative to it
TOOLS = Path(__file__).resolve().parent


def rel(path: Path) -> str:
    """A path as training sees it: relative to the working directory (where training runs, `data_dir: ./`)."""
    return Path(os.path.relpath(path.resolve(), ROOT)).as_posix()


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
    write_text_atomic(path, "\n".join(lines) + "\n")
    print(f"{rel(path)}: {len(lines)} samples")


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


def synthetic_rec(args: argparse.Namespace, out: Path) -> Tuple[Path, Path, Path]:
    """Receipt-style English lines, natural-case document lines and their corpus (the English recognizer)."""
    synth_en, synth_doc, corpus = out / "synth_en", out / "synth_en_doc", out / "corpus_en_doc.txt"
    if not (synth_en / "label.txt").is_file():
        run([str(TOOLS / "synth_rec.py"), "--num", str(args.synth_rec), "--out", str(synth_en), "--lang", "en",
             "--seed", "1", "--workers", str(args.workers)])
    if not corpus.is_file():
        document_corpus(corpus, args.synth_rec)
    if not (synth_doc / "label.txt").is_file():
        run([str(TOOLS / "synth_rec.py"), "--num", str(args.synth_rec), "--out", str(synth_doc), "--lang", "en",
             "--corpus_file", str(corpus), "--seed", "5", "--workers", str(args.workers)])
    return synth_en, synth_doc, corpus


def synthetic_det(args: argparse.Namespace, out: Path, shared: Path) -> Tuple[Path, Path, Path]:
    """English and Chinese synthetic scenes, and unlabelled photos labelled by the official detector: the pruned
    detector's fine-tuning keeps seeing the kind of scene text the unpruned model was trained on."""
    synth_det, synth_det_ch = out / "synth_det", out / "synth_det_ch"
    if not (synth_det / "label.txt").is_file():
        run([str(TOOLS / "synth_det.py"), "--num", str(args.synth_det), "--out", str(synth_det), "--mode", "scene",
             "--lang", "en", "--seed", "2", "--workers", str(args.workers)])
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
        for sub in ("imgs", "imgs_en"):
            run([str(TOOLS / "pseudo_label_det.py"), "--image_dir", str(photos / sub), "--path_prefix",
                 rel(photos / sub), "--out", str(out / f"det_pseudo_{sub}.txt")])
        write(pseudo_photos, [line for sub in ("imgs", "imgs_en") for line in read_lines(out / f"det_pseudo_{sub}.txt")])
    return synth_det, synth_det_ch, pseudo_photos


def synthetic_cls(args: argparse.Namespace, out: Path, doc_corpus: Path) -> None:
    """The direction classifier's synthetic lines, each stored upright and turned (configs/cls_synth.yml).

    Receipt-styled (presets/receipt.yml: grey, tight, partly dot-matrix) receipt texts, 1-4 character texts, and
    lines with strips of their neighbours plus long ones; then scanned-receipt lines (presets/receipt_scan.yml:
    light paper, crisp print, tight crops) with receipt, short and long texts; then scanned lines fitted to what
    real crops measure (condensed print, more room above the ink than below, neighbour strips on both sides).
    """
    short_corpus = out / "corpus_short.txt"
    if not short_corpus.is_file():
        short_token_corpus(short_corpus, args.synth_cls)
    long_corpus = long_line_corpus(out / "corpus_long.txt", doc_corpus)
    n, workers = args.synth_cls, args.workers
    receipt_cls_pairs(out / "synth_cls_receipt2", n, 13, workers)
    receipt_cls_pairs(out / "synth_cls_short", n // 2, 14, workers, short_corpus)
    receipt_cls_pairs(out / "synth_cls_receipt3", n, 15, workers, neighbor_lines=True)
    receipt_cls_pairs(out / "synth_cls_long", n // 2, 16, workers, long_corpus, neighbor_lines=True, max_len=60)
    receipt_cls_pairs(out / "synth_cls_scan", n, 17, workers, preset="receipt_scan.yml")
    receipt_cls_pairs(out / "synth_cls_scan_short", n // 2, 18, workers, short_corpus, preset="receipt_scan.yml")
    receipt_cls_pairs(out / "synth_cls_scan_long", n // 4, 19, workers, long_corpus, max_len=60,
                      preset="receipt_scan.yml")
    receipt_cls_pairs(out / "synth_cls_scan_long2", n // 2, 20, workers, long_corpus, max_len=60,
                      preset="receipt_scan.yml")
    fitted = ["condensed_print.yml", "box_margins.yml"]
    receipt_cls_pairs(out / "synth_cls_scan_fit", n * 6 // 5, 23, workers, preset="receipt_scan.yml",
                      extra_presets=fitted + ["dense_lines.yml"])
    receipt_cls_pairs(out / "synth_cls_scan_fit_short", n * 3 // 5, 24, workers, short_corpus,
                      preset="receipt_scan.yml", extra_presets=fitted)
    receipt_cls_pairs(out / "synth_cls_scan_fit_long", n * 2 // 5, 25, workers, long_corpus, max_len=60,
                      preset="receipt_scan.yml", extra_presets=fitted + ["dense_lines.yml"])


def labels_of(out: Path, *names: str) -> List[str]:
    """The label lines of synthetic sets under `out`, in order, with paths as training sees them."""
    return [line for name in names for line in rebase(out / name / "label.txt", out / name)]


def check_shared(shared: Path) -> None:
    """Fail before minutes of synthesis when the real data sets are not where --shared says."""
    needed = [shared / "sroie_dev" / "rec_train_label.txt", shared / "sroie_dev" / "det_train_label.txt",
              shared / "uw3_lines" / "test_label.txt", shared / "msra_td500_test" / "test_label.txt"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise DataToolError(f"--shared {shared}: missing {', '.join(missing)}")


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "train_data"))
    parser.add_argument("--synth_rec", type=int, default=20000)
    parser.add_argument("--synth_det", type=int, default=300)
    parser.add_argument("--synth_det_ch", type=int, default=200)
    parser.add_argument("--synth_cls", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    shared, out = Path(args.shared), Path(args.out)
    check_shared(shared)
    sroie, uw3, msra = shared / "sroie_dev", shared / "uw3_lines", shared / "msra_td500_test"

    synth_en, synth_doc, doc_corpus = synthetic_rec(args, out)
    synth_det, synth_det_ch, pseudo_photos = synthetic_det(args, out, shared)
    synthetic_cls(args, out, doc_corpus)

    sroie_rec_train = rebase(sroie / "rec_train_label.txt", sroie)
    write(out / "rec_sroie_train.txt", sroie_rec_train)
    write(out / "rec_en_train.txt", rebase(synth_en / "label.txt", synth_en) + sroie_rec_train)
    write(out / "rec_en_doc.txt", rebase(synth_doc / "label.txt", synth_doc))

    sroie_det_train = rebase(sroie / "det_train_label.txt", sroie)
    scenes = rebase(synth_det / "label.txt", synth_det)
    # slim/prune.py's evaluation set: a few training receipts and synthetic scenes (never the val/test sets).
    write(out / "det_prune_sens.txt", sroie_det_train[:6] + scenes[:6])
    # Pruned-detector fine-tuning: receipts, English and Chinese synthetic scenes, pseudo-labelled photos (x4).
    scenes_ch = rebase(synth_det_ch / "label.txt", synth_det_ch) if (synth_det_ch / "label.txt").is_file() else []
    write(out / "det_prune_train.txt", sroie_det_train + scenes + scenes_ch + 4 * read_lines(pseudo_photos))

    write(out / "cls_synth_short_train.txt", labels_of(out, "synth_cls_short"))
    write(out / "cls_synth_receipt2_train.txt", labels_of(out, "synth_cls_receipt2"))
    write(out / "cls_synth_receipt3_train.txt", labels_of(out, "synth_cls_receipt3", "synth_cls_long"))
    write(out / "cls_synth_scan_train.txt", labels_of(out, "synth_cls_scan", "synth_cls_scan_short",
                                                      "synth_cls_scan_long"))
    write(out / "cls_synth_scan_long_train.txt", labels_of(out, "synth_cls_scan_long", "synth_cls_scan_long2"))
    write(out / "cls_synth_scan_fit_train.txt", labels_of(out, "synth_cls_scan_fit", "synth_cls_scan_fit_short",
                                                          "synth_cls_scan_fit_long"))
    # Real train crops turned at random: the PACT classifier calibrates on the domain it is evaluated on.
    write(out / "cls_sroie_train.txt", flipped_eval_set(sroie / "rec_train_label.txt", sroie, out / "cls_sroie_train",
                                                        seed=1))

    # Evaluation sets (the recipes' Eval sections and deploy/eval_*.py --label_file).
    write(out / "rec_sroie_val.txt", rebase(sroie / "rec_val_label.txt", sroie))
    write(out / "rec_uw3_test.txt", rebase(uw3 / "test_label.txt", uw3))
    write(out / "cls_sroie_val.txt", flipped_eval_set(sroie / "rec_val_label.txt", sroie, out / "cls_sroie_val"))
    write(out / "det_sroie_val.txt", rebase(sroie / "det_val_label.txt", sroie))
    write(out / "det_msra_test.txt", rebase(msra / "test_label.txt", msra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
