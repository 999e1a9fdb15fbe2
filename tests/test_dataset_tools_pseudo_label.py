"""dataset_tools/pseudo_label_det.py: the official detector labels rendered pages; the labels load back."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

import fixtures
from paddle_pp.dataset_tools.pseudo_label_det import pseudo_label
from paddle_pp.utils.label_files import parse_det_label

ROOT = Path(__file__).resolve().parent.parent


def make_images(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    page, _ = fixtures.document()
    cv2.imwrite(str(folder / "page.jpg"), page)
    cv2.imwrite(str(folder / "sub" / "photo.png"), fixtures.photo_like())
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 300, 3), 255, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not an image")


def test_pseudo_labels_cover_the_rendered_lines(tmp_path, models_dir):
    from paddle_pp.ocr import build_stage

    make_images(tmp_path / "imgs")
    detector = build_stage("det")
    images = sorted((tmp_path / "imgs").rglob("*.*"))
    lines = pseudo_label(images, tmp_path / "imgs", "photos", detector, progress=False)
    by_path = dict(line.split("\t", 1) for line in lines)
    # the blank page has no text and the broken file is reported and skipped: neither is labelled
    assert set(by_path) == {"photos/page.jpg", "photos/sub/photo.png"}
    items = parse_det_label(by_path["photos/page.jpg"], "page")
    assert len(items) == len(fixtures.DOC_LINES)
    assert all(item["transcription"] == "" and np.asarray(item["points"]).shape == (4, 2) for item in items)


def test_pseudo_label_command_line_writes_file_and_names_problems(tmp_path, models_dir):
    make_images(tmp_path / "imgs")
    out = tmp_path / "label.txt"
    run = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "pseudo_label_det.py"), "--image_dir",
                          str(tmp_path / "imgs"), "--path_prefix", "x", "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "broken.jpg" in run.stderr and "Traceback" not in run.stderr
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and all(json.loads(r.split("\t", 1)[1]) for r in rows)
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "pseudo_label_det.py"), "--image_dir",
                          str(empty), "--out", str(tmp_path / "none.txt")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "no images" in run.stderr and not (tmp_path / "none.txt").exists()
