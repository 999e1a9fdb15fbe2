"""Hostile input for the LMDB tools (issue 21, defects 6 and 9).

Defect 6: `build_lmdb --check` must survive the damage it exists to find (a truncated, emptied or overwritten
data.mdb, corrupted pages, a `num-samples` that is not a number), give a verdict per LMDB, keep checking the
others, and exit non-zero when any is bad; training must refuse a truncated set with a named error instead of
dying of SIGBUS. Defect 9: truncated images are refused when building and flagged by `--check --decode` when
already stored; a label line that is not UTF-8 is named (file, line, byte, column).

The damaged LMDBs are generated here. Anything that could kill the interpreter (a bus error on a truncated
mmap) runs the tool in a subprocess with a bounded timeout.
"""
import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

from paddle_pp.dataset_tools.build_lmdb import build_lmdb
from paddle_pp.utils.label_files import LabelFileError, read_label_lines

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds; generous (2 shared cores), only there so a hang fails instead of blocking the suite
PAGE_FLAGS = struct.Struct("=QHH")  # LMDB page header: page number, pad, flags
P_BRANCH, P_LEAF, P_OVERFLOW = 0x01, 0x02, 0x04
F_BIGDATA = 0x01  # leaf node flag: the value lives in overflow pages


# ----------------------------------------------------------------------------- fixtures
def noise_image(seed: int, size=(32, 100)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=size + (3,), dtype=np.uint8)


def encoded(ext: str, seed: int = 0) -> bytes:
    ok, buffer = cv2.imencode("." + ext, cv2.GaussianBlur(noise_image(seed, (64, 200)), (5, 5), 0))
    assert ok
    return buffer.tobytes()


def make_good_lmdb(root: Path, out: Path, count: int = 12) -> Path:
    """A complete LMDB built by the tool itself (PNG samples big enough to use overflow pages)."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(count):
        name = f"img/{out.name}_{index:03d}.png"
        cv2.imwrite(str(root / name), noise_image(index))
        lines.append(f"{name}\tsample {index}")
    label_file = root / f"{out.name}_labels.txt"
    label_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = build_lmdb([label_file], root, out, progress=False)
    assert result["written"] == count and not result["skipped"]
    return out


def write_raw_lmdb(path: Path, items: dict) -> Path:
    """An LMDB written directly (as a foreign tool would), bypassing build_lmdb's checks."""
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=32 << 20)
    with env.begin(write=True) as txn:
        for key, value in items.items():
            txn.put(key, value)
    env.close()
    return path


def page_size_of(data_mdb: Path) -> int:
    return struct.unpack_from("=I", data_mdb.read_bytes(), 40)[0]  # meta page 0: FREE_DBI's md_pad


def pages_with_flags(data_mdb: Path, flags: int) -> list:
    data, page_size = data_mdb.read_bytes(), page_size_of(data_mdb)
    found = []
    for number in range(2, len(data) // page_size):
        page_number, _, page_flags = PAGE_FLAGS.unpack_from(data, number * page_size)
        if page_number == number and page_flags & flags:
            found.append(number)
    return found


def flip_bytes(data_mdb: Path, pages: list, start: int, stop: int) -> None:
    data, page_size = bytearray(data_mdb.read_bytes()), page_size_of(data_mdb)
    for number in pages:
        for offset in range(number * page_size + start, number * page_size + stop):
            data[offset] ^= 0xFF
    data_mdb.write_bytes(bytes(data))


def oversize_first_big_value(data_mdb: Path) -> None:
    """Damage the header check cannot see: the first value stored in overflow pages (an image) claims to be as
    long as the whole file, so reading it runs off the end of the mapped file (SIGBUS inside lmdb)."""
    data, page_size = bytearray(data_mdb.read_bytes()), page_size_of(data_mdb)
    for number in pages_with_flags(data_mdb, P_LEAF):
        page = number * page_size
        lower = struct.unpack_from("=H", data, page + 12)[0]
        for slot in range(16, lower, 2):
            node = page + struct.unpack_from("=H", data, page + slot)[0]
            if struct.unpack_from("=H", data, node + 4)[0] & F_BIGDATA:
                struct.pack_into("=HH", data, node, len(data) & 0xFFFF, len(data) >> 16)
                data_mdb.write_bytes(bytes(data))
                return
    raise AssertionError("no value in overflow pages")


def truncate_half(lmdb_dir: Path) -> None:
    data_mdb = lmdb_dir / "data.mdb"
    os.truncate(data_mdb, data_mdb.stat().st_size // 2)


def set_num_samples(lmdb_dir: Path, value: bytes) -> None:
    env = lmdb.open(str(lmdb_dir), map_size=64 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", value)
    env.close()


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "build_lmdb.py"), *args],
                          capture_output=True, text=True, timeout=TIMEOUT)


def assert_clean_failure(run: subprocess.CompletedProcess, exit_code: int = 1) -> None:
    """Exited on its own (no signal death, e.g. -7 / 135 for SIGBUS) with the code and no traceback."""
    assert run.returncode == exit_code, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr


# ----------------------------------------------------------------------------- defect 6: --check on damage
DAMAGES = {
    "truncated": (truncate_half, "truncated"),
    "zeroed_header": (lambda d: (d / "data.mdb").write_bytes(
        bytes(4096) + (d / "data.mdb").read_bytes()[4096:]), "header"),
    "empty": (lambda d: (d / "data.mdb").write_bytes(b""), "empty"),
    "corrupt_tree_page": (lambda d: flip_bytes(d / "data.mdb", pages_with_flags(d / "data.mdb", P_BRANCH | P_LEAF),
                                               8, 16), "corrupt"),
    "num_samples_abc": (lambda d: set_num_samples(d, b"abc"), "num-samples"),
    "num_samples_huge": (lambda d: set_num_samples(d, b"99999999999"), "num-samples"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_check_gives_a_verdict_on_damaged_lmdb(tmp_path, damage):
    make_good_lmdb(tmp_path, tmp_path / "db")
    damage_function, expected_word = DAMAGES[damage]
    damage_function(tmp_path / "db")
    run = run_tool("--check", str(tmp_path / "db"), "--no_progress")
    assert_clean_failure(run)
    verdicts = [line for line in run.stdout.splitlines() if line.startswith(f"{tmp_path / 'db'}: DAMAGED")]
    assert len(verdicts) == 1, run.stdout
    assert expected_word in verdicts[0], verdicts[0]


def test_one_bad_lmdb_does_not_stop_the_check_of_the_others(tmp_path):
    tree = tmp_path / "tree"
    for name in ("a_good", "b_truncated", "c_good", "d_bad_count", "e_good"):
        make_good_lmdb(tmp_path, tree / name, count=5)
    truncate_half(tree / "b_truncated")
    set_num_samples(tree / "d_bad_count", b"abc")
    run = run_tool("--check", str(tree), "--no_progress")
    assert_clean_failure(run)
    for name in ("a_good", "c_good", "e_good"):
        assert f"{tree / name}: OK" in run.stdout, run.stdout
    assert f"{tree / 'b_truncated'}: DAMAGED" in run.stdout
    assert f"{tree / 'd_bad_count'}: DAMAGED" in run.stdout
    assert "5 LMDB(s) checked: 3 OK, 2 damaged" in run.stdout


def test_a_crash_inside_lmdb_costs_only_that_lmdbs_verdict(tmp_path):
    tree = tmp_path / "tree"
    for name in ("a_good", "b_crashes", "c_good"):
        make_good_lmdb(tmp_path, tree / name, count=4)
    oversize_first_big_value(tree / "b_crashes" / "data.mdb")
    run = run_tool("--check", str(tree), "--no_progress")
    assert_clean_failure(run)
    assert f"{tree / 'a_good'}: OK" in run.stdout and f"{tree / 'c_good'}: OK" in run.stdout, run.stdout
    assert f"{tree / 'b_crashes'}: DAMAGED (bus error (SIGBUS) while reading" in run.stdout, run.stdout
    assert "3 LMDB(s) checked: 2 OK, 1 damaged" in run.stdout


def test_check_of_good_lmdbs_exits_zero(tmp_path):
    make_good_lmdb(tmp_path, tmp_path / "tree" / "a", count=3)
    make_good_lmdb(tmp_path, tmp_path / "tree" / "b", count=4)
    run = run_tool("--check", str(tmp_path / "tree"), "--decode", "--no_progress")
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "2 LMDB(s) checked: 2 OK" in run.stdout and "7 samples" in run.stdout


def test_corrupted_image_pages_fail_check_decode(tmp_path):
    make_good_lmdb(tmp_path, tmp_path / "db")
    data_mdb = tmp_path / "db" / "data.mdb"
    flip_bytes(data_mdb, pages_with_flags(data_mdb, P_OVERFLOW), 100, 200)  # the PNG bytes, not the tree
    assert run_tool("--check", str(tmp_path / "db"), "--no_progress").returncode == 0  # structure is intact
    run = run_tool("--check", str(tmp_path / "db"), "--decode", "--no_progress")
    assert_clean_failure(run)
    assert f"{tmp_path / 'db'}: BAD" in run.stdout and "sample 1" in run.stdout


READ_EVERY_SAMPLE = {
    # Today's code builds the dataset (the labels sit in the first half) and dies of SIGBUS on an image.
    "dataset": ("from paddle_pp.data import DataError as Refused, LMDBDataSet\n"
                "def read_all(root):\n"
                "    dataset = LMDBDataSet(root, transforms=[{'DecodeImage': {'img_mode': 'BGR'}}])\n"
                "    return [dataset[i] for i in range(len(dataset))]\n"),
    "reader": ("from paddle_pp.dataset_tools.lmdb_io import LmdbReader\n"
               "from paddle_pp.utils.errors import InputError as Refused\n"
               "def read_all(root):\n"
               "    with LmdbReader(root + '/train') as reader:\n"
               "        return list(reader)\n"),
}


@pytest.mark.parametrize("reader", sorted(READ_EVERY_SAMPLE))
def test_training_readers_refuse_a_truncated_lmdb_with_a_named_error(tmp_path, reader):
    make_good_lmdb(tmp_path, tmp_path / "lmdb" / "train", count=24)
    truncate_half(tmp_path / "lmdb" / "train")
    script = READ_EVERY_SAMPLE[reader] + ("import sys\n"
                                          "try:\n"
                                          "    read_all(sys.argv[1])\n"
                                          "except Refused as error:\n"
                                          "    print('refused:', error)\n")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "lmdb")], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert run.returncode == 0, (run.returncode, run.stderr)
    assert run.stdout.startswith("refused: ") and "train" in run.stdout and "truncated" in run.stdout, run.stdout


# ----------------------------------------------------------------------------- defect 9: strict decode, labels
def test_build_refuses_truncated_images_and_counts_them(tmp_path):
    jpeg, png = encoded("jpg"), encoded("png")
    (tmp_path / "img").mkdir()
    files = {"good.jpg": jpeg, "good.png": png, "half.jpg": jpeg[:len(jpeg) // 2],
             "no_eoi.jpg": jpeg[:-2], "half.png": png[:len(png) // 2]}
    for name, data in files.items():
        (tmp_path / "img" / name).write_bytes(data)
    label_file = tmp_path / "labels.txt"
    label_file.write_text("".join(f"img/{name}\t{name}\n" for name in files), encoding="utf-8")
    run = run_tool("--label_file", str(label_file), "--image_root", str(tmp_path), "--out", str(tmp_path / "db"),
                   "--no_progress")
    assert run.returncode == 0, run.stderr
    assert "2 samples written, 3 skipped (2 truncated JPEG, 1 truncated PNG)" in run.stdout, run.stdout
    assert f"{label_file}:3: " in run.stderr and "half.jpg: truncated JPEG" in run.stderr
    assert f"{label_file}:5: " in run.stderr and "half.png: truncated PNG" in run.stderr


def test_check_decode_flags_a_truncated_image_already_stored(tmp_path):
    jpeg = encoded("jpg")
    write_raw_lmdb(tmp_path / "db", {b"image-000000001": jpeg, b"label-000000001": b"whole",
                                     b"image-000000002": jpeg[:-2], b"label-000000002": b"cut",
                                     b"num-samples": b"2"})
    run = run_tool("--check", str(tmp_path / "db"), "--decode", "--no_progress")
    assert_clean_failure(run)
    assert f"{tmp_path / 'db'}: BAD" in run.stdout
    assert "sample 2: truncated JPEG" in run.stdout, run.stdout


def test_label_file_not_utf8_names_file_line_byte_and_column(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(encoded("png"))
    label_file = tmp_path / "latin1.txt"
    label_file.write_bytes("img/a.png\tfine\nimg/a.png\talso fine\n".encode() + b"img/a.png\tcaf\xe9\n")
    with pytest.raises(LabelFileError, match=r"latin1\.txt:3: not UTF-8 \(byte 0xe9 at column 14\)"):
        list(read_label_lines(label_file))
    run = run_tool("--label_file", str(label_file), "--image_root", str(tmp_path), "--out", str(tmp_path / "db"),
                   "--no_progress")
    assert_clean_failure(run, exit_code=2)
    assert f"{label_file}:3: not UTF-8 (byte 0xe9 at column 14)" in run.stderr, run.stderr
    # The whole build stops before anything is written (see build_lmdb's docstring for why).
    assert not (tmp_path / "db").exists() and not (tmp_path / "db.incomplete").exists()


def test_stored_label_not_utf8_is_a_problem_not_a_traceback(tmp_path):
    png = encoded("png")
    items = {b"image-000000001": png, b"label-000000001": b"fine", b"image-000000002": png,
             b"label-000000002": b"caf\xe9", b"num-samples": b"2"}
    write_raw_lmdb(tmp_path / "lmdb" / "db", items)
    run = run_tool("--check", str(tmp_path / "lmdb"), "--no_progress")
    assert_clean_failure(run)
    assert "sample 2: label is not UTF-8 (byte 0xe9 at offset 3)" in run.stdout, run.stdout
    assert f"{tmp_path / 'lmdb' / 'db'}: BAD" in run.stdout
    from paddle_pp.data import LMDBDataSet
    dataset = LMDBDataSet(str(tmp_path / "lmdb"), transforms=[{"DecodeImage": {"img_mode": "BGR"}}])
    assert len(dataset) == 1 and dataset.dropped_labels == {"label not UTF-8": 1}
