"""LMDB building and checking: round trip, bad images, map growth, interrupted builds."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddle_pp.dataset_tools.build_lmdb import build_lmdb, check, iter_samples
from paddle_pp.dataset_tools.lmdb_io import INCOMPLETE_SUFFIX, LmdbReader, has_num_samples
from paddle_pp.dataset_tools.tool_io import DataToolError

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["TOTAL 12.50", "收银员 A", "Ünïcödé ✓", "x", "DATE: 01/02/2019", "  spaced  text ", "9556939040116"]


def make_image_set(root: Path, count: int = 7, size=(32, 100)) -> Path:
    """PNG/JPG images of random noise with known labels; returns the label file."""
    rng = np.random.default_rng(0)
    lines = []
    for index in range(count):
        image = rng.integers(0, 256, size=size + (3,), dtype=np.uint8)
        name = f"img/{index:03d}.{'png' if index % 2 else 'jpg'}"
        (root / "img").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), image)
        lines.append(f"{name}\t{LABELS[index % len(LABELS)]}")
    label_file = root / "label.txt"
    label_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return label_file


def test_round_trip_same_bytes_and_labels(tmp_path):
    label_file = make_image_set(tmp_path)
    result = build_lmdb([label_file], tmp_path, tmp_path / "db", progress=False)
    assert result["written"] == 7 and not result["skipped"]
    with LmdbReader(tmp_path / "db") as reader:
        assert len(reader) == 7
        for index, (_, path, label) in enumerate(iter_samples([label_file], tmp_path), start=1):
            image_bytes, stored_label = reader.get(index)
            assert image_bytes == (tmp_path / path).read_bytes()
            assert stored_label == label
    assert not (tmp_path / ("db" + INCOMPLETE_SUFFIX)).exists()


def test_bad_and_missing_images_are_reported_and_skipped(tmp_path):
    label_file = make_image_set(tmp_path, count=3)
    (tmp_path / "img" / "broken.jpg").write_bytes(b"not an image at all")
    (tmp_path / "img" / "empty.png").write_bytes(b"")
    with open(label_file, "a", encoding="utf-8") as handle:
        handle.write("img/broken.jpg\tbroken\nimg/missing.jpg\tmissing\nimg/empty.png\tempty\n")
    result = build_lmdb([label_file], tmp_path, tmp_path / "db", progress=False)
    assert result["written"] == 3
    assert len(result["skipped"]) == 3
    assert any("broken.jpg" in problem and "label.txt:4" in problem for problem in result["skipped"])
    with LmdbReader(tmp_path / "db") as reader:
        assert [reader.get(i)[1] for i in range(1, 4)] == LABELS[:3]


def test_map_grows_when_full(tmp_path):
    label_file = make_image_set(tmp_path, count=20, size=(64, 256))  # ~1 MB of incompressible PNG/JPG
    result = build_lmdb([label_file], tmp_path, tmp_path / "db", map_size=64 * 1024, commit_every=3,
                        progress=False)
    assert result["written"] == 20
    with LmdbReader(tmp_path / "db") as reader:
        assert len(reader) == 20


def test_interrupted_build_is_never_complete(tmp_path):
    label_file = make_image_set(tmp_path, count=7)

    def interrupted():
        for number, sample in enumerate(iter_samples([label_file], tmp_path)):
            if number == 5:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build
            yield sample

    with pytest.raises(KeyboardInterrupt):
        build_lmdb([label_file], tmp_path, tmp_path / "db", commit_every=2, progress=False,
                   samples=interrupted())
    partial = tmp_path / ("db" + INCOMPLETE_SUFFIX)
    assert not (tmp_path / "db").exists()
    assert (partial / "data.mdb").exists()
    assert has_num_samples(partial) is None  # samples were committed, the completion mark was not
    with pytest.raises(DataToolError, match="incomplete"):
        LmdbReader(partial)
    reports = check(tmp_path)
    assert reports == [{"path": str(partial), "incomplete": True}]
    # A fresh build replaces the leftover and completes.
    build_lmdb([label_file], tmp_path, tmp_path / "db", progress=False)
    assert not partial.exists()
    assert has_num_samples(tmp_path / "db") == 7


def test_existing_output_needs_overwrite(tmp_path):
    label_file = make_image_set(tmp_path, count=2)
    build_lmdb([label_file], tmp_path, tmp_path / "db", progress=False)
    with pytest.raises(DataToolError, match="--overwrite"):
        build_lmdb([label_file], tmp_path, tmp_path / "db", progress=False)
    build_lmdb([label_file], tmp_path, tmp_path / "db", overwrite=True, progress=False)


def test_label_line_without_tab_names_file_and_line(tmp_path):
    (tmp_path / "bad.txt").write_text("img/0.jpg no tab here\n", encoding="utf-8")
    with pytest.raises(DataToolError, match=r"bad\.txt:1"):
        build_lmdb([tmp_path / "bad.txt"], tmp_path, tmp_path / "db", progress=False)


def test_command_line_build_and_check(tmp_path):
    label_file = make_image_set(tmp_path, count=4)
    out = tmp_path / "tree" / "train"
    run = [sys.executable, str(ROOT / "dataset_tools" / "build_lmdb.py")]
    built = subprocess.run(run + ["--label_file", str(label_file), "--image_root", str(tmp_path), "--out", str(out),
                                  "--no_progress"], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    checked = subprocess.run(run + ["--check", str(tmp_path / "tree"), "--dump", "2", "--dump_dir",
                                    str(tmp_path / "dump")], capture_output=True, text=True, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "4 samples" in checked.stdout and "label length histogram" in checked.stdout
    assert len(list((tmp_path / "dump").glob("*.png"))) == 2
    missing = subprocess.run(run + ["--label_file", str(tmp_path / "nope.txt"), "--image_root", str(tmp_path),
                                    "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr
