"""The C++ demo's pre/post-processing (deploy/lite/cpp) against paddle_pp's Python on the same inputs.

The C++ test driver (no Paddle-Lite) is built with CMake for the host and cross-built for aarch64 with Debian's
g++-aarch64-linux-gnu; the aarch64 binary runs under qemu-aarch64-static. Every check is exact: same tensors bit
for bit, same boxes, same crops, same strings and scores. The end-to-end test runs the whole C++ OcrSystem with
the models served from Python (onnxruntime on the official ONNX files) and compares with paddle_pp's TextSystem.

Needs cmake, g++, libopencv-imgproc-dev, libpolyclipping-dev (host) and g++-aarch64-linux-gnu, qemu-user-static,
libopencv-imgproc-dev:arm64, libpolyclipping-dev:arm64 (aarch64); skips with the reason when they are absent.
Set PADDLE_PP_CPP_BUILD_DIR to keep the builds between runs.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import pytest

import fixtures

ROOT = Path(__file__).resolve().parent.parent
CPP_DIR = ROOT / "deploy" / "lite" / "cpp"

from paddle_pp.lite.make_cpp_config import write_cpp_config
from paddle_pp.config import load_config  # noqa: E402
from paddle_pp.data.imaug.det_ops import (add_border, as_grey, det_preprocess, detection_border,  # noqa: E402
                                          flat_share, median_aspect)
from paddle_pp.data.imaug.rec_ops import blurred, cls_piece_spans, resize_norm_cls, resize_norm_rec  # noqa: E402
from paddle_pp.postprocess.cls_postprocess import ClsPostProcess, combine_votes  # noqa: E402
from paddle_pp.postprocess.ctc_decode import CTCLabelDecode  # noqa: E402
from paddle_pp.postprocess.db_postprocess import DBPostProcess, filter_tag_det_res  # noqa: E402
from paddle_pp.utils.crop import get_rotate_crop_image  # noqa: E402
from paddle_pp.utils.reading_order import column_order, order_boxes, row_order, sorted_boxes  # noqa: E402

QEMU = "qemu-aarch64-static"
ARM64_LIBS = ("/usr/lib/aarch64-linux-gnu/libopencv_imgproc.so", "/usr/lib/aarch64-linux-gnu/libpolyclipping.so")
SHARED = ROOT.parent / "shared" / "data"
TIMEOUT = 600  # seconds per driver call (qemu is slow, but a hang must fail, not block CI)


def _build(build_dir: Path, toolchain: bool) -> Path:
    cmd = ["cmake", "-S", str(CPP_DIR), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"]
    if toolchain:
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={CPP_DIR / 'toolchain-aarch64.cmake'}")
    for step in (cmd, ["cmake", "--build", str(build_dir), "-j2", "--target", "ocr_test_driver"]):
        proc = subprocess.run(step, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(step)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return build_dir / "ocr_test_driver"


# CROP_ON_ARM64: Debian's arm64 OpenCV 4.6 warpPerspective (INTER_CUBIC) rounds some sampling coordinates of a
# tilted quad differently from the x86 build (pip opencv-python 4.6 and Debian amd64 agree bit for bit): a few
# percent of a tilted crop's pixels differ by a few levels. Boxes and texts stay the same; recognition scores can
# move by ~1e-3. Everything else is bit-exact on aarch64 too (batches are compared on the same crops).
ARM64_SCORE_TOL = 1e-2
# DB_ON_ARM64: on a few probability maps (wide_receipt's zoomed pass in windows, the photographed page's zoomed pass
# in grey), the aarch64 build's DB post-processing puts one corner of one box 1 px from the x86 build's
# (`ocr_test_driver db_post` on that same map, so neither the windows' code nor the grey; Debian's arm64 OpenCV
# again). Texts stay the same, but for a thin line of small print (the photographed page's) read from the moved box.
ARM64_POINT_TOL = 1


def _assert_same_lines(driver, got, ref):
    """The C++ system's lines are Python's: the same boxes, texts and scores on the host; on aarch64 boxes within
    ARM64_POINT_TOL (DB_ON_ARM64), and wherever the box is the same the same text and the score within ARM64_SCORE_TOL
    (CROP_ON_ARM64; a thin line of small print cropped 1 px lower may read otherwise)."""
    if driver.arch == "host":
        assert [r["points"] for r in got] == [r["points"] for r in ref]
        assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]
        assert [r["score"] for r in got] == [r["score"] for r in ref]
        return
    assert len(got) == len(ref)
    for line, want in zip(got, ref):
        assert np.abs(np.array(line["points"]) - want["points"]).max() <= ARM64_POINT_TOL
        if line["points"] == want["points"]:
            assert line["transcription"] == want["transcription"]
            assert abs(line["score"] - want["score"]) <= ARM64_SCORE_TOL


def _missing(arch: str):
    tools = ["cmake", "make", "g++"] + (["aarch64-linux-gnu-g++", QEMU] if arch == "aarch64" else [])
    missing = [t for t in tools if shutil.which(t) is None]
    headers = ["/usr/include/polyclipping/clipper.hpp", "/usr/include/opencv4/opencv2/imgproc.hpp"]
    missing += [h for h in headers if not os.path.exists(h)]
    if arch == "aarch64":
        missing += [lib for lib in ARM64_LIBS if not os.path.exists(lib)]
    return missing


@pytest.fixture(scope="session", params=["host", "aarch64"])
def driver(request, tmp_path_factory):
    """A callable running the test driver: on the host, or the aarch64 build under qemu."""
    arch = request.param
    missing = _missing(arch)
    if missing:
        pytest.skip(f"{arch} C++ build needs {', '.join(missing)} (see deploy/lite/cpp/CMakeLists.txt)")
    base = Path(os.environ.get("PADDLE_PP_CPP_BUILD_DIR") or tmp_path_factory.mktemp("cpp"))
    exe = _build(base / arch, toolchain=arch == "aarch64")
    prefix = [QEMU, "-L", "/usr/aarch64-linux-gnu", str(exe)] if arch == "aarch64" else [str(exe)]

    def run(*args, **kwargs):
        proc = subprocess.run(prefix + [str(a) for a in args], capture_output=True, timeout=TIMEOUT, **kwargs)
        assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-3000:]
        return json.loads(proc.stdout.decode("utf-8"))

    run.prefix = prefix
    run.arch = arch
    return run


@pytest.fixture(scope="session")
def cpp_config(tmp_path_factory):
    return write_cpp_config(tmp_path_factory.mktemp("cfg") / "ocr_config.txt")


def _config_without(base: Path, tmp_path: Path, key: str) -> Path:
    """The config as written before `key` existed."""
    out = tmp_path / "without.txt"
    out.write_text("".join(line + "\n" for line in base.read_text().splitlines() if line.split(" ", 1)[0] != key))
    return out


def _variant_config(base: Path, tmp_path: Path, **changes) -> Path:
    lines = []
    for line in base.read_text().splitlines():
        key = line.split(" ", 1)[0]
        lines.append(f"{key} {changes[key]}" if key in changes else line)
    out = tmp_path / "variant.txt"
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="session")
def onnx_models():
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.weights import official_file

    return {name: OnnxEngine(official_file(load_config(name)["Global"]["official_onnx"])) for name in ("det", "cls", "rec")}


@pytest.fixture(scope="session")
def dict_path():
    from paddle_pp.weights import OFFICIAL_DICT, official_file

    return official_file(OFFICIAL_DICT)


def _turned(img: np.ndarray, degrees: float) -> np.ndarray:
    """The image turned counter-clockwise about its centre, on its background."""
    h, w = img.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, turn, (w, h), borderValue=tuple(int(v) for v in img[0, 0]))


def _images():
    """Rendered images, plus a few real ones from ../shared/data when present."""
    doc, _ = fixtures.document()
    word, line = fixtures.tight_crops(["CASH", "TOTAL 27.30"])   # small: detected inside a border
    images = {"photo_like": fixtures.photo_like(), "document": doc,
              "odd_size": cv2.resize(fixtures.photo_like(), (1111, 637)), "tight_word": word, "tight_line": line,
              "small_print": fixtures.half_size_document(),                 # detected twice, the second zoomed
              "photographed_small_print": fixtures.photographed_small_print(),  # ... past its size (a photo)
              "nearly_large": fixtures.nearly_large_document(),             # the same, zoomed less
              "tiny_print": fixtures.tiny_print_page(),                     # nothing found: zoomed past its size
              "large_tiny_print": fixtures.small_print_page(),              # ... by the most, within its size
              "scribbled_tiny_print": fixtures.scribbled_tiny_print_page(),  # found, none read: looked at closer
              "photographed_page": fixtures.photographed_page(),            # thin lines scored by their region
              "slide": fixtures.slide(),                                    # a title split, joined far off
              "turned_slide": _turned(fixtures.slide(), 6),                 # ... at an angle
              "bulleted": fixtures.bulleted_points(),                       # bullets cut off the lines
              "highlighted": fixtures.highlighted_page(),                   # zoomed past its size, seen in grey
              "blank_page": np.full((1200, 1600, 3), 255, np.uint8),        # nothing found, nothing to look at
              "long_line_turned": np.ascontiguousarray(np.rot90(fixtures.long_line_page(), 2)),  # cls in pieces
              "short_word": fixtures.short_word_page(),                    # cls turned too
              "dense_print": fixtures.dense_print_page(),                  # lines read again wider
              "poor_scan_words": fixtures.poorly_scanned_words(),          # unsure lines read again blurred
              "dark_page": np.ascontiguousarray(255 - doc),                # read inverted
              "long_page": cv2.resize(np.vstack([doc] * 4), (1280, 3360)),  # shrunk by its short side
              "long_receipt": np.vstack([doc] * 16)}  # past det_max_side_limit at its own size: two windows
    for rel in ("sroie_dev/images/080.jpg", "msra_td500_test/orig/MSRA-TD500/test/IMG_0059.JPG",
                "scene_words/iiit5k_train/IMG/10.jpg"):
        path = SHARED / rel
        if path.is_file():
            images[path.stem] = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return images


IMAGES = _images()


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, np.ascontiguousarray(array))
    return path


def _bordered(img, inf):
    """The image the detector sees before its resize (pipeline.TextDetector): a small one inside its border."""
    border = detection_border(img.shape[0], img.shape[1], inf["border_below"], inf["border_ratio"])
    return (add_border(img, border) if border else img), border


def _det_pipeline(img, onnx_models):
    det_cfg = load_config("det")
    inf = det_cfg["Inference"]
    bordered, border = _bordered(img, inf)
    chw, shape_info = det_preprocess(bordered, inf["limit_side_len"], inf["limit_type"], inf["mean"], inf["std"],
                                     inf["scale"], inf["max_side_limit"], 0.0 if border else inf["long_image_aspect"])
    return chw, shape_info, onnx_models["det"](chw[None])


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_det_preprocess_is_bit_exact(driver, cpp_config, tmp_path, name):
    img = IMAGES[name]
    inf = load_config("det")["Inference"]
    bordered, border = _bordered(img, inf)
    # 10: an IIIT5K word crop; the long line's page is 110 px high, the short word's 120
    assert (border > 0) == (name.startswith("tight_") or name in ("10", "long_line_turned", "short_word"))
    chw, shape_info = det_preprocess(bordered, inf["limit_side_len"], inf["limit_type"], inf["mean"], inf["std"],
                                     inf["scale"], inf["max_side_limit"], 0.0 if border else inf["long_image_aspect"])
    if name == "long_page":  # 4 pages high: shrunk until its short side is 960 / 1.5, not its long side to 960
        assert min(chw.shape[1:]) == round(960 / 1.5 / 32) * 32 and max(chw.shape[1:]) > 960
    out = driver("det_pre", cpp_config, _save(tmp_path / "img.npy", img), tmp_path / "chw.npy")
    assert out["shape_info"] == shape_info.tolist() and out["border"] == border
    assert out["flat_share"] == flat_share(img)       # rendered print or a photo: the zoom past the image's size
    cpp = np.load(tmp_path / "chw.npy")
    assert cpp.shape == chw.shape and np.array_equal(cpp, chw)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_det_preprocess_with_a_capped_long_side_is_bit_exact(driver, cpp_config, tmp_path, name):
    """limit_type min grows small images and never shrinks large ones; det_max_side_limit caps the long side."""
    img = IMAGES[name]
    inf = load_config("det")["Inference"]
    config = _variant_config(cpp_config, tmp_path, det_limit_type="min", det_limit_side_len=736,
                             det_max_side_limit=1000)
    chw, shape_info = det_preprocess(_bordered(img, inf)[0], 736, "min", inf["mean"], inf["std"], inf["scale"],
                                     max_side_limit=1000)
    assert max(chw.shape[1:]) <= 1000
    out = driver("det_pre", config, _save(tmp_path / "img.npy", img), tmp_path / "chw.npy")
    assert out["shape_info"] == shape_info.tolist()
    assert np.array_equal(np.load(tmp_path / "chw.npy"), chw)


def assert_same_boxes(driver, cpp_boxes, boxes, context) -> None:
    """The C++ boxes equal the Python ones: exactly on the host. On aarch64, Debian's arm64 OpenCV computes
    minAreaRect's corners with other float rounding (105.00001 for 105.0), so a corner whose scaled coordinate
    is exactly a half pixel (105 / 480 * 624 = 136.5) can round the other way: at most 2 coordinates of a map
    may differ, by 1 pixel."""
    cpp = np.array(cpp_boxes, dtype=np.float64).reshape(-1, 4, 2)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4, 2)
    if driver.arch == "host":
        assert np.array_equal(cpp, boxes), context
        return
    assert cpp.shape == boxes.shape, context
    off = np.abs(cpp - boxes)
    assert off.max(initial=0) <= 1 and np.count_nonzero(off) <= 2, (context, np.argwhere(off))


def _db_post(driver, config, tmp_path, prob, shape_info):
    src_h, src_w, ratio_h, ratio_w = shape_info.tolist()
    return driver("db_post", config, _save(tmp_path / "prob.npy", prob[0, 0]), int(src_h), int(src_w),
                  repr(ratio_h), repr(ratio_w))


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_db_postprocess_gives_the_same_boxes(driver, cpp_config, onnx_models, tmp_path, name):
    img = IMAGES[name]
    _, shape_info, prob = _det_pipeline(img, onnx_models)
    post = load_config("det")["PostProcess"]
    reading_order = load_config("system")["System"]["reading_order"]
    variants = [({}, {}), ({"reading_order": "paddleocr"}, {}), ({"reading_order": "columns"}, {}),
                ({"det_db_score_mode": "slow"}, {"score_mode": "slow"}),
                ({"det_use_dilation": 1, "det_db_box_thresh": 0.5}, {"use_dilation": True, "box_thresh": 0.5}),
                ({"det_db_nested_thresh": 0.5, "det_db_box_thresh": 0.3}, {"nested_thresh": 0.5, "box_thresh": 0.3})]
    for cpp_changes, py_changes in variants:
        config = _variant_config(cpp_config, tmp_path, **cpp_changes) if cpp_changes else cpp_config
        kwargs = {k: v for k, v in post.items() if k != "name"}
        kwargs.update(py_changes)
        raw = DBPostProcess(**kwargs)(prob, shape_info[None])[0]
        filtered = filter_tag_det_res(raw, (int(shape_info[0]), int(shape_info[1])))  # a small image's: bordered
        out = _db_post(driver, config, tmp_path, prob, shape_info)
        assert len(raw) > 0 or name in ("document", "tiny_print", "large_tiny_print", "blank_page",
                                        "photographed_page")  # none at 960
        assert np.array_equal(np.array(out["raw"]).reshape(-1, 4, 2), raw.astype(np.float64)), cpp_changes
        assert np.array_equal(np.array(out["filtered"]).reshape(-1, 4, 2), filtered), cpp_changes
        assert out["median_aspect"] == median_aspect(filtered), cpp_changes   # words and lines, or pieces
        ordered = order_boxes(filtered, cpp_changes.get("reading_order", reading_order))
        assert np.array_equal(np.array(out["sorted"]).reshape(-1, 4, 2), np.array(ordered).reshape(-1, 4, 2))


def _random_page(rng, count):
    """Boxes as a detector gives them on a page: rows of words, some tilted, of varied heights, a few sideways
    (taller than wide) and a few degenerate; float32 [K, 4, 2], clockwise from top-left."""
    boxes = []
    for _ in range(count):
        centre = (float(rng.uniform(0, 1000)), float(rng.choice(np.arange(20, 1400, 37)) + rng.normal(0, 6)))
        size = (float(rng.uniform(8, 300)), float(rng.uniform(10, 40)))
        if rng.random() < 0.1:
            size = size[::-1]
        if rng.random() < 0.03:
            size = (size[0], 0.0)
        angle = float(rng.choice([0.0, rng.normal(0, 8)]))
        pts = cv2.boxPoints((centre, size, angle))
        start = int(np.argmin(pts.sum(axis=1)))      # clockwise from the top-left corner, as DB orders them
        boxes.append(np.roll(pts, -start, axis=0))
    return np.round(np.array(boxes, np.float32).reshape(-1, 4, 2))


def _column_page(rng, columns):
    """Boxes of a page set in `columns` columns: a title across them, lines of running text (some short, some split
    in two, a little skew and jitter), a footer across; shuffled, float32 [K, 4, 2]."""
    skew = float(rng.normal(0, 0.02))
    width = 900 / columns
    rects = [(50, 20, 900, 40)]
    for c in range(columns):
        for r in range(int(rng.integers(3, 12))):
            x, w = 50 + c * width, (width - 40) * (1 if rng.random() < 0.8 else rng.uniform(0.2, 1))
            y = 100 + r * 34 + rng.normal(0, 2)
            if rng.random() < 0.1:
                rects += [(x, y, w * 0.4, 26), (x + w * 0.5, y, w * 0.5, 26)]
            else:
                rects.append((x, y, w, 26))
    rects.append((50, 520, 900, 26))
    boxes = [[[x, y + skew * x], [x + w, y + skew * (x + w)], [x + w, y + h + skew * (x + w)], [x, y + h + skew * x]]
             for x, y, w, h in rects]
    return np.round(np.array(boxes, np.float32)[rng.permutation(len(boxes))])


def test_reading_order_is_the_python_order(driver, tmp_path):
    """The C++ row and column orders are reading_order.py's, index for index, on pages of tilted, sideways and
    flat boxes, and on pages set in columns."""
    rng = np.random.default_rng(3)
    pages = [_random_page(rng, count) for count in [0, 1, 2, 7, 40, 40, 150, 400]]
    pages += [_column_page(rng, columns) for columns in (1, 2, 2, 3, 3)]
    pages.append(np.array(fixtures.nested_cut_boxes(12)))        # cuts 24 deep
    cut = 0
    for trial, boxes in enumerate(pages):
        path = _save(tmp_path / "boxes.npy", boxes)
        assert driver("order", "rows", path)["order"] == row_order(boxes), trial
        assert driver("order", "columns", path)["order"] == column_order(boxes), trial
        cut += column_order(boxes) != row_order(boxes)
        expected = [next(i for i, b in enumerate(boxes) if np.array_equal(b, s)) for s in sorted_boxes(list(boxes))]
        if len({b.tobytes() for b in boxes}) == len(boxes):   # the driver finds boxes by value
            assert driver("order", "paddleocr", path)["order"] == expected, trial
    assert cut == 5                         # the pages of several columns were read column by column


def test_db_postprocess_on_synthetic_maps(driver, cpp_config, tmp_path):
    """Blobs at many angles, sizes and strengths, several touching the border, and blobs with an island in a hole
    (the island's box lies inside its blob's: what nested_thresh drops)."""
    rng = np.random.default_rng(1)
    counts = {None: 0, 0.5: 0, 0.9: 0}
    for trial in range(4):
        h, w = 320, 480
        prob = np.zeros((h, w), np.float32)
        for _ in range(25):
            center = (float(rng.uniform(-10, w + 10)), float(rng.uniform(-10, h + 10)))
            size = (float(rng.uniform(2, 120)), float(rng.uniform(2, 30)))
            pts = cv2.boxPoints((center, size, float(rng.uniform(-90, 90)))).astype(np.int32)
            cv2.fillPoly(prob, [pts], float(rng.uniform(0.25, 1.0)))
        for _ in range(3):   # a blob, a hole in it, an island in the hole: the island's box is nested
            center, angle = (float(rng.uniform(80, w - 80)), float(rng.uniform(40, h - 40))), float(rng.uniform(-30, 30))
            for size, value in (((140, 56), 0.95), ((70, 30), 0.0), ((float(rng.uniform(20, 40)), 10), 0.95)):
                cv2.fillPoly(prob, [cv2.boxPoints((center, size, angle)).astype(np.int32)], value)
        prob = np.clip(cv2.GaussianBlur(prob, (5, 5), 1.5) + rng.normal(0, 0.02, prob.shape).astype(np.float32), 0, 1)
        prob = prob.astype(np.float32)[None, None]
        shape_info = np.array([h * 1.7, w * 1.3, 1 / 1.7, 1 / 1.3])
        shape_info[:2] = np.floor(shape_info[:2])
        for nested in counts:
            config = _variant_config(cpp_config, tmp_path, det_db_nested_thresh=nested or 0)
            raw = DBPostProcess(nested_thresh=nested)(prob, shape_info[None])[0]
            out = _db_post(driver, config, tmp_path, prob, shape_info)
            assert_same_boxes(driver, out["raw"], raw, (trial, nested))
            filtered = filter_tag_det_res(raw, (int(shape_info[0]), int(shape_info[1])))
            assert_same_boxes(driver, out["filtered"], filtered, (trial, nested))
            counts[nested] += len(raw)
    assert counts[None] > counts[0.5] >= counts[0.9] > 0, counts   # the islands' boxes go


def _crops_for(img, onnx_models):
    _, shape_info, prob = _det_pipeline(img, onnx_models)
    boxes = filter_tag_det_res(DBPostProcess()(prob, shape_info[None])[0], img.shape)
    return sorted_boxes(boxes)


@pytest.mark.parametrize("name", ["photo_like", "080", "IMG_0059"])
def test_crops_cls_and_rec_batches_are_bit_exact(driver, cpp_config, onnx_models, tmp_path, name):
    if name not in IMAGES:
        pytest.skip(f"{name}: ../shared/data not present")
    img = IMAGES[name]
    boxes = [np.asarray(b, np.float32) for b in _crops_for(img, onnx_models)]
    h, w = img.shape[:2]  # plus a tall box (rotated 90 degrees) and a tilted one
    boxes += [np.float32([[10, 10], [40, 10], [40, 120], [10, 120]]),
              np.float32([[w * 0.2, h * 0.3], [w * 0.6, h * 0.25], [w * 0.62, h * 0.35], [w * 0.21, h * 0.4]])]
    driver("crop", _save(tmp_path / "img.npy", img), _save(tmp_path / "boxes.npy", np.stack(boxes)), tmp_path / "crop_")
    crops = [get_rotate_crop_image(img, b) for b in boxes]
    for i, crop in enumerate(crops):
        got = np.load(tmp_path / f"crop_{i}.npy")
        if driver.arch == "host":
            assert np.array_equal(got, crop), i
        else:  # see CROP_ON_ARM64
            diff = np.abs(got.astype(np.int16) - crop)
            assert got.shape == crop.shape and diff.max() <= 16 and (diff > 0).mean() < 0.1, (i, diff.max())
    crop_files = [_save(tmp_path / f"py_crop_{i}.npy", c) for i, c in enumerate(crops)]

    ratios = np.array([c.shape[1] / c.shape[0] for c in crops])
    order = np.argsort(ratios, kind="stable")
    for kind in ("cls", "rec"):
        inf = load_config(kind)["Inference"]
        out = driver(f"{kind}_batches", cpp_config, tmp_path / f"{kind}_batch_", *crop_files)
        assert out["order"] == order.tolist()
        for b, start in enumerate(range(0, len(crops), inf["batch_num"])):
            ids = order[start:start + inf["batch_num"]]
            if kind == "cls":
                ref = np.stack([resize_norm_cls(crops[i], inf["image_shape"]) for i in ids])
            else:
                _, img_h, img_w = inf["image_shape"]
                max_ratio = max(img_w / img_h, max(ratios[i] for i in ids))
                ref = np.stack([resize_norm_rec(crops[i], max_ratio, img_h, img_w) for i in ids])
            assert np.array_equal(np.load(tmp_path / f"{kind}_batch_{b}.npy"), ref), (kind, b)


def test_ctc_and_cls_decode(driver, onnx_models, dict_path, tmp_path):
    decode = CTCLabelDecode(str(dict_path), True)
    lines = fixtures.text_lines()
    preds = [onnx_models["rec"](fixtures.to_rec_batch(lines, 320)), onnx_models["rec"](fixtures.to_rec_batch(lines[:2], 960))]
    rng = np.random.default_rng(2)  # random softmax rows with runs, blanks and long sequences (pairwise mean)
    logits = rng.normal(0, 3, (3, 300, decode.num_classes)).astype(np.float32)
    logits[:, ::3, 0] += 8
    logits[:, 5:40, 17] += 12
    preds.append((np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32))
    for p in preds:
        out = driver("ctc", dict_path, 1, _save(tmp_path / "preds.npy", p))
        assert [tuple(r) for r in out] == decode(p)
    out = driver("ctc", dict_path, 0, _save(tmp_path / "preds.npy", preds[0][..., :-1].copy()))
    assert [tuple(r) for r in out] == CTCLabelDecode(str(dict_path), False)(preds[0][..., :-1])
    cls = onnx_models["cls"](fixtures.to_cls_batch(lines + [np.ascontiguousarray(np.rot90(lines[1], 2))]))
    out = driver("cls_post", _save(tmp_path / "cls.npy", cls))
    labels = ClsPostProcess(("0", "180"))(cls)
    assert [(("0", "180")[i], s) for i, s in out] == labels
    # the votes of a crop's views (whole and pieces) combine to the same float32 probabilities
    for votes in (cls[:1], cls, np.array([[1.0, 0.0], [0.3, 0.7], [0.5, 0.5]], np.float32)):
        out = driver("cls_votes", _save(tmp_path / "votes.npy", np.ascontiguousarray(votes)))
        assert out == [float(v) for v in np.array(combine_votes(votes), np.float32)]


def test_cls_pieces_are_cut_as_python_cuts_them(driver):
    for width, height, above, most in [(600, 30, 6, 4), (210, 30, 6, 4), (180, 30, 6, 4), (600, 30, 0, 4),
                                       (1551, 46, 6, 4), (997, 31, 6, 3), (4000, 12, 6, 8), (601, 100, 6, 4)]:
        spans = cls_piece_spans(width, height, (3, 48, 192), above, most)
        assert driver("cls_pieces", width, height, 48, 192, above, most) == [list(s) for s in spans]


def _window_boxes(rng, spans, axis, across):
    """The boxes each window of an image finds, at random: the image's lines (across the windows' axis, as a
    receipt's, and, side by side, long lines along it too) clipped to each window, ending a few pixels short of a
    cut as DB's do, each a little tilted, some missed, plus a few boxes only one window finds."""
    along = 1 - axis
    length = spans[-1][1]
    lines = []
    for _ in range(int(rng.integers(5, 40))):
        size = float(rng.integers(10, 60))
        if axis == 1 and rng.random() < 0.3:
            size = float(rng.integers(200, length // 2))
        low = float(rng.integers(0, length - int(size)))
        a = float(rng.integers(0, across // 2))
        lines.append((low, low + size, a, min(a + float(rng.integers(8, 40)), across - 1)))
    window_boxes = []
    for start, end in spans:
        boxes = []
        for low, high, a, b in lines + [(float(start + rng.integers(0, end - start - 60)), 0.0, 5.0, 30.0)]:
            if high == 0.0:                               # only this window finds it
                high = low + 30
            if high <= start or low >= end - 1 or rng.random() < 0.1:
                continue
            low = low if low > start else start + float(rng.integers(0, 8))       # cut: short of the cut
            high = high if high < end - 1 else end - 1 - float(rng.integers(0, 8))
            if high - low < 4:
                continue
            quad = np.array([[a, low], [b, low], [b, high], [a, high]] if along == 1 else
                            [[low, a], [high, a], [high, b], [low, b]], np.float32)
            boxes.append(np.round(quad + rng.normal(0, 0.7, quad.shape)).astype(np.float32))   # a little tilted
        window_boxes.append(np.array(boxes, np.float32).reshape(-1, 4, 2))
    return window_boxes


def test_windows_are_cut_and_joined_as_python_does(driver, tmp_path):
    """det_windows.cc and DetWindowLength against det_windows.py and det_ops.det_window_length: the same windows,
    and the same boxes joined from random windows' boxes (duplicates in the bands, pieces cut at the cuts, lines
    across several windows), box for box."""
    from paddle_pp.data.imaug.det_ops import det_window_length
    from paddle_pp.postprocess import det_windows

    header = (CPP_DIR / "src/det_windows.h").read_text()
    constants = dict(re.findall(r"constexpr double (kWindow\w+) = ([\d.]+);", header))
    assert {k: float(v) for k, v in constants.items()} == {
        "kWindowDuplicate": det_windows.DUPLICATE, "kWindowCutReach": det_windows.CUT_REACH,
        "kWindowCutTolerance": det_windows.CUT_TOLERANCE}
    for h, w, limit, kind, cap, aspect in [(16000, 700, 960, "max", 4000, 1.5), (700, 16000, 960, "max", 4000, 1.5),
                                           (6720, 640, 960, "max", 4000, 1.5), (4000, 640, 960, "max", 4000, 1.5),
                                           (16000, 700, 736, "min", 4000, 0), (16000, 700, 960, "max", 4000, 0),
                                           (30000, 5000, 736, "min", 4000, 0), (15277, 1080, 960, "max", 4000, 1.5),
                                           (5798, 710, 960, "max", 4000, 1.5), (6000, 640, 960, "max", 4000, 1.5)]:
        for below in (1.0, 0.67):
            assert driver("window_length", h, w, limit, kind, cap, aspect, below) == \
                det_window_length(h, w, limit, kind, cap, aspect, below)
    for length, window, overlap in [(9055, 4000, 220), (16000, 4375, 350), (4001, 4000, 100), (3000, 4000, 500),
                                    (20000, 3000, 2900), (15277, 6750, 540)]:
        assert driver("window_spans", length, window, overlap) == [list(s) for s in
                                                                   det_windows.window_spans(length, window, overlap)]
    rng = np.random.default_rng(11)
    joined = dropped = 0
    for trial in range(40):
        axis = trial % 2
        length, across = int(rng.integers(5000, 16000)), int(rng.integers(240, 900))
        spans = det_windows.window_spans(length, 4000, across // 2)
        window_boxes = _window_boxes(rng, spans, axis, across)
        shape = (length, across) if axis == 0 else (across, length)
        expected = det_windows.merge_window_boxes(window_boxes, spans, axis, shape)
        got = driver("merge_windows", axis, *shape,
                     _save(tmp_path / "spans.npy", np.array(spans, np.float32)),
                     _save(tmp_path / "boxes.npy", np.concatenate(window_boxes).reshape(-1, 4, 2)),
                     _save(tmp_path / "counts.npy", np.array([len(b) for b in window_boxes], np.float32)))
        assert got == expected.tolist(), trial
        boxes = np.concatenate(window_boxes)
        joined += sum(not any(np.array_equal(box, b) for b in boxes) for box in expected)
        dropped += len(boxes) - len(expected)
    assert joined > 20 and dropped > 200        # the trials did join pieces and drop duplicates and cut boxes


def _marked_crop(rng: np.random.Generator) -> np.ndarray:
    """A line crop that may start with a mark: a dot, a ring, a square, a dash or a letter's blob, of random size,
    height and distance from the words after it, dark on light or light on dark, with noise at times."""
    height = int(rng.integers(16, 80))
    ground, ink = (240, 20) if rng.random() < 0.7 else (20, 240)
    img = np.full((height, int(rng.integers(4, 12)) * height, 3), ground, np.uint8)
    size = max(1, int(height * rng.uniform(0.05, 0.6)))
    x, y = int(rng.integers(0, height // 3 + 1)), int(height * rng.uniform(0.15, 0.85))
    kind = rng.choice(["disc", "ring", "square", "dash", "none"])
    colour = (ink, ink, ink)
    if kind == "disc":
        cv2.circle(img, (x + size // 2, y), size // 2, colour, -1, cv2.LINE_AA)
    elif kind == "ring":
        cv2.circle(img, (x + size // 2, y), size // 2, colour, max(1, size // 5), cv2.LINE_AA)
    elif kind == "square":
        img[max(0, y - size // 2):y + size // 2 + 1, x:x + size] = ink
    elif kind == "dash":
        img[y:y + max(1, size // 4), x:x + size] = ink
    start = x + size + int(height * rng.uniform(0.0, 1.0))
    for word in range(int(rng.integers(1, 4))):
        left = start + word * 3 * height // 2
        img[height // 5:4 * height // 5, left:left + height] = ink
    if rng.random() < 0.3:
        img = np.clip(img.astype(np.int16) + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    return img


def test_leading_bullets_are_cut_as_python_cuts_them(driver, tmp_path):
    """crop.cc's LeadingBulletEnd and BoxFromColumn against crop.py's leading_bullet_end and box_from_column: the
    constants, the same column on random crops that start with dots, rings, squares, dashes or nothing, and the
    same boxes from random columns of random boxes."""
    from paddle_pp.utils import crop as crop_py

    header = (CPP_DIR / "src/crop.h").read_text()
    constants = dict(re.findall(r"(kBullet\w+) = (\d+)", header))
    assert {k: int(v) for k, v in constants.items()} == {
        "kBulletSizeLow": crop_py.BULLET_SIZE[0], "kBulletSizeHigh": crop_py.BULLET_SIZE[1],
        "kBulletAspectLow": crop_py.BULLET_ASPECT[0], "kBulletAspectHigh": crop_py.BULLET_ASPECT[1],
        "kBulletFill": crop_py.BULLET_FILL, "kBulletMiddleLow": crop_py.BULLET_MIDDLE[0],
        "kBulletMiddleHigh": crop_py.BULLET_MIDDLE[1], "kBulletOfText": crop_py.BULLET_OF_TEXT,
        "kBulletGap": crop_py.BULLET_GAP,
        "kBulletMargin": crop_py.BULLET_MARGIN}
    rng = np.random.default_rng(31)
    cut = 0
    for trial in range(120):
        crop = _marked_crop(rng)
        expected = crop_py.leading_bullet_end(crop)
        assert driver("bullet", _save(tmp_path / "crop.npy", crop)) == {"end": expected}, trial
        cut += expected > 0
    assert 10 < cut < 100
    boxes = np.array([cv2.boxPoints(((rng.uniform(50, 500), rng.uniform(50, 500)), (rng.uniform(20, 400),
                                      rng.uniform(8, 60)), rng.uniform(-40, 40))) for _ in range(30)], np.float32)
    boxes = np.array([np.roll(box, -int(np.argmin(box.sum(axis=1))), axis=0) for box in boxes], np.float32)
    for column, from_right in ((7.0, 0), (13.5, 1)):
        expected = [crop_py.box_from_column(box, column, bool(from_right)).tolist() for box in boxes]
        assert driver("box_from_column", _save(tmp_path / "boxes.npy", boxes), column, from_right) == expected


def _split_lines(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes of a page of lines, some split into pieces (gaps from overlapping to a height apart, heights and turns
    jittered), and far boxes: each line whole (at times as tall as two lines, or reaching past a neighbour), and
    boxes of nothing in particular."""
    boxes, far = [], []
    for _ in range(int(rng.integers(2, 9))):
        height, angle = float(rng.uniform(10, 80)), float(rng.choice([0.0, rng.uniform(-30, 30)]))
        unit = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
        normal = np.array([-unit[1], unit[0]])
        start = rng.uniform([0, 0], [1500, 1500])
        at = 0.0
        for _ in range(int(rng.integers(1, 5))):
            length = float(rng.uniform(1, 6)) * height
            h = height * float(rng.uniform(0.8, 1.25))
            u = unit if rng.random() < 0.7 else np.array([np.cos(np.radians(angle + rng.uniform(-15, 15))),
                                                          np.sin(np.radians(angle + rng.uniform(-15, 15)))])
            n = np.array([-u[1], u[0]])
            origin = start + unit * at + normal * float(rng.uniform(-0.4, 0.4)) * height
            boxes.append([origin, origin + u * length, origin + u * length + n * h, origin + n * h])
            at += length + float(rng.uniform(-0.7, 1.0)) * height
        grow = float(rng.choice([1.1, 1.1, 1.1, 2.2]))
        margin = float(rng.uniform(0.05, 0.2)) * height
        reach = at + float(rng.choice([0.0, 0.0, 3.0])) * height
        top = start - normal * (grow - 1) * height / 2 - unit * margin
        far.append([top, top + unit * (reach + 2 * margin), top + unit * (reach + 2 * margin) + normal * grow * height,
                    top + normal * grow * height])
    for _ in range(int(rng.integers(0, 3))):
        x, y, w, h = rng.uniform([0, 0, 20, 10], [1500, 1500, 600, 90])
        far.append([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    order = rng.permutation(len(boxes))
    return (np.array(boxes, np.float32)[order].reshape(-1, 4, 2),
            np.array(far, np.float32)[rng.permutation(len(far))].reshape(-1, 4, 2))


def test_split_lines_are_joined_as_python_joins_them(driver, tmp_path):
    """det_join.cc against det_join.py: its constants, and on random pages of lines split into pieces with random
    far boxes, the same pieces, far pass and boxes, box for box."""
    from paddle_pp.postprocess import det_join

    header = (CPP_DIR / "src/det_join.h").read_text()
    constants = dict(re.findall(r"constexpr (?:double|int) (kJoin\w+) = ([\d.]+);", header))
    assert {k: float(v) for k, v in constants.items()} == {
        "kJoinHeightRatio": det_join.HEIGHT_RATIO, "kJoinMaxTurn": det_join.MAX_TURN, "kJoinAcross": det_join.ACROSS,
        "kJoinGap": det_join.GAP, "kJoinFarTaller": det_join.FAR_TALLER, "kJoinMinFarSide": det_join.MIN_FAR_SIDE}
    rng = np.random.default_rng(23)
    joins = kept = 0
    for trial in range(60):
        boxes, far = _split_lines(rng)
        scale, above, height, input_long_side = float(rng.uniform(0.4, 1.2)), 28.0, 18.0, int(rng.integers(640, 1400))
        heights = det_join.input_heights(boxes, scale)
        pieces = det_join.split_line_boxes(boxes, heights, above)
        far_side = det_join.far_long_side(heights, pieces, height, input_long_side) if pieces else 0
        expected = det_join.join_split_lines(boxes, far, heights, above)
        got = driver("join_lines", scale, above, height, input_long_side, _save(tmp_path / "boxes.npy", boxes),
                     _save(tmp_path / "far.npy", far))
        assert got == {"pieces": pieces, "far_side": far_side, "boxes": expected.tolist()}, trial
        joins += len(boxes) - len(expected) + sum(any(np.array_equal(f, b) for f in far) for b in expected)
        kept += len(pieces) > 1 and len(expected) == len(boxes)
    assert joins > 30 and kept > 5          # the trials joined pieces, and left some pieces as found


def _mixed_case_preds(decode: CTCLabelDecode, n: int = 24, t: int = 60, seed: int = 5) -> np.ndarray:
    """Softmax rows spelling words of ASCII letters whose case twins come close: the case prior has work to do."""
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(decode.characters)}
    letters = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c in index]
    others = [index[c] for c in " 0-." if c in index]
    logits = rng.normal(0, 1, (n, t, decode.num_classes)).astype(np.float32)
    for b in range(n):
        for s in range(t):
            r = rng.random()
            if r < 0.25:
                logits[b, s, 0] += 12
            elif r < 0.35:
                logits[b, s, others[int(rng.integers(len(others)))]] += 12
            else:
                ch = letters[int(rng.integers(len(letters)))]
                logits[b, s, index[ch]] += 12
                logits[b, s, index[ch.swapcase()]] += 12 - rng.exponential(1.0)  # a close twin
            if s and rng.random() < 0.2:
                logits[b, s] = logits[b, s - 1]  # runs: a character over several steps
    return (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)


def test_ctc_decode_with_the_case_prior(driver, dict_path, tmp_path):
    greedy = CTCLabelDecode(str(dict_path), True)
    preds = _mixed_case_preds(greedy)
    for prior in (0.01, 0.3):
        decode = CTCLabelDecode(str(dict_path), True, prior)
        expected = decode(preds)
        changed = sum(a != b for a, b in zip(expected, greedy(preds)))
        assert changed >= len(preds) // 2, f"the fixture must make the prior re-case words ({changed})"
        out = driver("ctc", dict_path, 1, _save(tmp_path / "preds.npy", preds), repr(prior))
        assert [tuple(r) for r in out] == expected


def _python_system(onnx_models, dict_path, use_doc_orientation_classify=False, as_paddleocr=False,
                   rec_inference=None, **det_inference):
    """paddle_pp's TextSystem on the served models; `det_inference` overrides keys of det.yml's Inference,
    `rec_inference` of rec.yml's; `as_paddleocr`: set as PPOCR(as_paddleocr=True) sets it."""
    from paddle_pp.pipeline import TextClassifier, TextDetector, TextRecognizer, TextSystem
    from paddle_pp.pipeline import as_paddleocr as as_paddleocr_configs

    system = dict(load_config("system")["System"])
    configs = {name: load_config(name) for name in ("det", "cls", "rec")}
    configs["det"]["Inference"].update(det_inference)
    configs["rec"]["Inference"].update(rec_inference or {})
    if as_paddleocr:
        as_paddleocr_configs(configs, system)
    classifier = TextClassifier(configs["cls"], onnx_models["cls"]) if system["use_angle_cls"] else None
    return TextSystem(TextDetector(configs["det"], onnx_models["det"]),
                      TextRecognizer(configs["rec"], onnx_models["rec"], dict_path), classifier, system["drop_score"],
                      reading_order=system["reading_order"],
                      use_doc_orientation_classify=use_doc_orientation_classify)


def _run_piped_system(driver, config, dict_path, image_file, onnx_models, angle=None, det_sides=None,
                      cls_inputs=None, rec_inputs=None):
    """Run `ocr_test_driver system`, answering each model call with onnxruntime; `angle` (a list) receives the
    page angle the system reports, `det_sides` (a list) the long side of each detector input, `cls_inputs` (a
    list) the number of crops in each classifier batch, `rec_inputs` (a list) the shape of each recognizer batch."""
    proc = subprocess.Popen(driver.prefix + ["system", str(config), str(dict_path), str(image_file)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while True:
            header = proc.stdout.readline().decode("utf-8")
            if not header:
                raise AssertionError(proc.stderr.read().decode("utf-8", "replace")[-3000:])
            if header.startswith("RESULT "):
                return json.loads(header[len("RESULT "):])
            if header.startswith("ANGLE "):
                if angle is not None:
                    angle.append(int(header.split()[1]))
                continue
            _, model, ndim, *dims = header.split()
            shape = tuple(int(d) for d in dims[:int(ndim)])
            if model == "det" and det_sides is not None:
                det_sides.append(max(shape[2:]))
            if model == "cls" and cls_inputs is not None:
                cls_inputs.append(shape[0])
            if model == "rec" and rec_inputs is not None:
                rec_inputs.append(shape)
            data = proc.stdout.read(4 * int(np.prod(shape)))
            out = np.ascontiguousarray(onnx_models[model](np.frombuffer(data, np.float32).reshape(shape)), np.float32)
            proc.stdin.write((" ".join([str(out.ndim)] + [str(d) for d in out.shape]) + "\n").encode())
            proc.stdin.write(out.tobytes())
            proc.stdin.flush()
    finally:
        proc.stdin.close()
        proc.wait(timeout=TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_whole_cpp_system_matches_python(driver, cpp_config, onnx_models, dict_path, tmp_path, name):
    img = IMAGES[name]
    python_rec_inputs, rec_inputs = [], []
    models = dict(onnx_models, rec=lambda x: (python_rec_inputs.append(x.shape), onnx_models["rec"](x))[1])
    ref = [r.to_dict() for r in _python_system(models, dict_path)(img)]
    det_sides, cls_inputs = [], []
    got = _run_piped_system(driver, cpp_config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                            det_sides=det_sides, cls_inputs=cls_inputs, rec_inputs=rec_inputs)
    # the same batches, the dense lines read again alike (on aarch64 a tilted crop's score moves by ~1e-3, which
    # may decide a second read the other way: CROP_ON_ARM64; its texts are compared below)
    assert rec_inputs == python_rec_inputs or driver.arch != "host"
    if name in ("dense_print", "poor_scan_words"):  # read once in batches, then some lines again, wider or blurred
        assert sum(shape[0] for shape in rec_inputs) > len(ref)
    if name == "dark_page":                    # light lines on dark: detected again, inverted (no zoom: text large)
        assert len(det_sides) == 2 and ref
    assert ref or name not in ("tight_word", "tight_line", "10")   # found inside their border
    if name == "small_print":                            # its 12 px lines: a second pass, at the page's own size
        assert det_sides == [960, 1600]
    if name == "photographed_small_print":               # the same page with a camera's noise: past its size
        assert det_sides == [960, 2336] and len(ref) == len(fixtures.DOC_LINES)
    if name == "tiny_print":                             # nothing found at 960: twice that, past the page's size
        assert det_sides == [960, 1920] and len(ref) == len(fixtures.DOC_LINES)
    if name == "large_tiny_print":                       # nothing found at 960: 3 times, within its 3200 px
        assert det_sides == [960, 2880] and len(ref) == len(fixtures.DOC_LINES)
    if name == "scribbled_tiny_print":                   # the scribble found at 960 and dropped: read at 1920
        assert det_sides == [960, 1920] and len(ref) == len(fixtures.DOC_LINES)
    if name == "photographed_page":                      # nothing found at 960; at 1920 six lines, slow-scored
        assert det_sides == [960, 1920] and len(ref) == len(fixtures.MINUTES)
    if name == "highlighted":                            # zoomed past its size and seen in grey: every line whole
        assert det_sides == [992, 1888] and [r["transcription"] for r in ref] == fixtures.HIGHLIGHTED_LINES
    if name in ("slide", "turned_slide"):               # the title's pieces joined by a far pass, shrunk
        assert det_sides == [1152, 416 if name == "slide" else 384] and ref[0]["transcription"] == fixtures.SLIDE_TITLE
    if name == "bulleted":                               # no bullet read
        assert [r["transcription"] for r in ref] == fixtures.BULLETED_POINTS
    if name == "blank_page":                             # a single colour: no closer look
        assert det_sides == [960] and ref == []
    if name == "nearly_large":                                     # 24 px lines: zoomed to 32 px, 4/3
        assert det_sides == [960, 1280]
    if name == "long_line_turned":                         # the line whole, then turned and in 4 pieces; turned back
        assert cls_inputs == [1, 5]
        assert [r["transcription"].replace(" ", "") for r in got] == [fixtures.LONG_LINE.replace(" ", "")]
    if name == "short_word":                               # called turned whole: classified turned as well
        assert cls_inputs == [1, 1]
    _assert_same_lines(driver, got, ref)


def _window_images():
    """Images longer than det_max_side_limit at the config's resize, detected in windows (det.yml's window_overlap):
    name -> (image, the long side of each detector input: first pass, then the zoomed one)."""
    doc, _ = fixtures.document()
    half = cv2.resize(doc, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    three_quarter = cv2.resize(doc, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    banner, _ = fixtures.render_lines([(" ".join([fixtures.LONG_LINE] * 5), 28)] * 2, size=(7200, 240))
    return {"receipt": (np.vstack([half] * 64), [4000] * 4),            # 13440 x 320, at its own size
            # 9450 x 960 seen at 2/3 (two windows), its print small: zoomed to its own size (three windows)
            "wide_receipt": (np.vstack([np.hstack([three_quarter] * 2)] * 30), [4000] * 5),
            "banner": (banner, [4000] * 2),                               # lines across both windows, joined
            "tall_banner": (np.ascontiguousarray(np.rot90(banner)), [4000] * 2)}   # pieces faded at a cut yield


@pytest.mark.parametrize("name", sorted(_window_images()))
def test_cpp_system_detects_long_images_in_windows_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path,
                                                             name):
    img, sides = _window_images()[name]
    python_sides = []
    models = dict(onnx_models, det=lambda x: (python_sides.append(max(x.shape[2:])), onnx_models["det"](x))[1])
    ref = [r.to_dict() for r in _python_system(models, dict_path)(img)]
    det_sides = []
    got = _run_piped_system(driver, cpp_config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                            det_sides=det_sides)
    assert det_sides == python_sides == sides
    assert len(ref) == {"receipt": 256, "wide_receipt": 240, "banner": 2}[name] if name != "tall_banner" else \
        len(ref) > 10
    _assert_same_lines(driver, got, ref)


def test_cpp_system_shrinks_long_images_to_the_cap_without_windows(driver, cpp_config, onnx_models, dict_path,
                                                                   tmp_path):
    """det_window_overlap 0: the long receipt is seen once at the cap, its small text traced again, as Python."""
    img = IMAGES["long_receipt"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, window_overlap=0)(img)]
    det_sides = []
    config = _variant_config(cpp_config, tmp_path, det_window_overlap=0)
    got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                            det_sides=det_sides)
    assert det_sides == [4000] and len(ref) == 64
    assert [r["points"] for r in got] == [r["points"] for r in ref]
    assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]


def test_cpp_system_keeps_what_it_found_unread_when_told_as_python(driver, cpp_config, onnx_models, dict_path,
                                                                    tmp_path):
    """det_small_text_empty_unread 0: the scribbled page's scribble, found and dropped, stands; nothing is read, and
    the detector runs once, as in Python. A config written before the key reads so too."""
    img = IMAGES["scribbled_tiny_print"]
    assert _python_system(onnx_models, dict_path, small_text_empty_unread=False)(img) == []
    for config in (_variant_config(cpp_config, tmp_path, det_small_text_empty_unread=0),
                   _config_without(cpp_config, tmp_path, "det_small_text_empty_unread")):
        det_sides = []
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                                det_sides=det_sides)
        assert got == [] and det_sides == [960]


def test_cpp_second_pass_scores_as_told_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """det_small_text_score_mode fast: the photographed page's second pass scores its lines by their rectangles and
    keeps five of six, in C++ as in Python; a config written before the key scores them as the first pass does."""
    img = IMAGES["photographed_page"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, small_text_score_mode="fast")(img)]
    assert len(ref) == 5
    for config in (_variant_config(cpp_config, tmp_path, det_small_text_score_mode="fast"),
                   _config_without(cpp_config, tmp_path, "det_small_text_score_mode")):
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models)
        _assert_same_lines(driver, got, ref)


def test_cpp_reads_bullets_as_told_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """rec_drop_bullets 0, and a config written before the key: the list's first two points are read with their
    bullets (`o ` as cut, `·` from the blurred second read), in C++ as in Python."""
    img = IMAGES["bulleted"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, rec_inference={"drop_bullets": False})(img)]
    assert [r["transcription"][0] for r in ref[:2]] == ["o", "·"]
    for config in (_variant_config(cpp_config, tmp_path, rec_drop_bullets=0),
                   _config_without(cpp_config, tmp_path, "rec_drop_bullets")):
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models)
        assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]


def _ink_lines_detector(x: np.ndarray) -> np.ndarray:
    """A stand-in detector's probability map: the input's dark ink, each line's marks joined along it (a bullet with
    its text), as DB's map of such a line would be."""
    ink = (x[0].mean(axis=0) < 0).astype(np.uint8)
    lines = cv2.morphologyEx(cv2.dilate(ink, np.ones((1, 41), np.uint8)), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return lines.astype(np.float32)[None, None]


def test_cpp_cuts_the_bullets_of_turned_lines_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """The bulleted list turned upside down, its lines found with their bullets (a stand-in detector: the mobile DB
    leaves these bullets out upside down): the classifier turns each line, its bullet is then at its crop's right
    end, and C++ cuts it off as Python does, the same boxes and texts."""
    models = dict(onnx_models, det=_ink_lines_detector)
    img = np.ascontiguousarray(np.rot90(fixtures.bulleted_points(), 2))
    ref = [r.to_dict() for r in _python_system(models, dict_path)(img)]
    as_read = [r.to_dict() for r in _python_system(models, dict_path, rec_inference={"drop_bullets": False})(img)]
    assert len(ref) == len(as_read) == 3          # read as they are, the bullets come out as `·` or a letter
    assert all(a["transcription"][1:].lstrip().startswith(r["transcription"][:8]) and
               a["transcription"] != r["transcription"] for a, r in zip(as_read, ref))
    got = _run_piped_system(driver, cpp_config, dict_path, _save(tmp_path / "img.npy", img), models)
    assert [r["points"] for r in got] == [r["points"] for r in ref]
    assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]


@pytest.mark.parametrize("name", ["highlighted", "photographed_page", "photo_like", "odd_size"])
def test_cpp_grey_is_pythons(driver, tmp_path, name):
    """AsGrey against det_ops.as_grey, pixel for pixel: what the zoomed pass sees (det_small_text_grey)."""
    img = IMAGES[name]
    driver("grey", _save(tmp_path / "img.npy", img), tmp_path / "grey.npy")
    grey = np.load(tmp_path / "grey.npy")
    assert np.array_equal(grey, as_grey(img))
    assert np.array_equal(grey[:, :, 0], grey[:, :, 2]) and not np.array_equal(img[:, :, 0], img[:, :, 2])


@pytest.mark.parametrize("name", ["poor_scan_words", "photo_like", "odd_size", "tight_word"])
def test_cpp_blur_is_pythons(driver, tmp_path, name):
    """Blurred against rec_ops.blurred, pixel for pixel: what an unsure line is read again from (rec_unsure_blur),
    its sigma grown with a crop taller than the recognizer's input."""
    img = IMAGES[name]
    for sigma in (0.8, 1.5):
        driver("blur", _save(tmp_path / "img.npy", img), tmp_path / "soft.npy", sigma, 32)
        soft = np.load(tmp_path / "soft.npy")
        assert np.array_equal(soft, blurred(img, sigma, 32)) and not np.array_equal(soft, img)


def test_cpp_keeps_a_blurred_read_where_python_does(driver):
    """SoftenedIsBetter against pipeline._softened_is_better: surer, no fewer characters (spaces aside, UTF-8 counted
    by code point) and no fewer commas."""
    from paddle_pp.pipeline import _softened_is_better

    cases = [("Veicome", 0.83, "Welcome", 0.92), ("-23.50", 0.93, "23.50", 0.999), ("3,835.24", 0.7, "3.835.24", 0.95),
             ("16.363.76", 0.9, "16,363.76", 0.92), ("Irvoice 0142", 0.72, "Invoice0142", 0.76),
             ("ab", 0.9, "abc", 0.8), ("无时属", 0.78, "无耐属", 0.83), ("无时属", 0.78, "ab", 0.9), ("", 0.0, "a", 0.5)]
    for cut, cut_score, soft, soft_score in cases:
        want = _softened_is_better((cut, cut_score, []), (soft, soft_score, []))
        assert driver("softened_is_better", cut, cut_score, soft, soft_score)["better"] is want, (cut, soft)
    assert [_softened_is_better((c, a, []), (s, b, [])) for c, a, s, b in cases] == [
        True, False, False, True, True, False, True, False, True]


def test_cpp_reads_unsure_lines_once_as_told_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """rec_unsure_blur 0, and a config written before the key: the poorly scanned words are read as cut, in C++
    as in Python, and some lines read otherwise than with the blurred second read."""
    img = IMAGES["poor_scan_words"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, rec_inference={"unsure_blur": 0})(img)]
    again = [r.to_dict() for r in _python_system(onnx_models, dict_path)(img)]
    assert [r["transcription"] for r in ref] != [r["transcription"] for r in again]
    for config in (_variant_config(cpp_config, tmp_path, rec_unsure_blur=0),
                   _config_without(cpp_config, tmp_path, "rec_unsure_blur")):
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models)
        _assert_same_lines(driver, got, ref)


def test_cpp_zoomed_pass_in_colour_as_told_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """det_small_text_grey 0, and a config written before the key: the highlighted page's zoomed pass sees it in
    colour, in C++ as in Python, and its lines come apart alike."""
    img = IMAGES["highlighted"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, small_text_grey=False)(img)]
    assert len(ref) > len(fixtures.HIGHLIGHTED_LINES)
    for config in (_variant_config(cpp_config, tmp_path, det_small_text_grey=0),
                   _config_without(cpp_config, tmp_path, "det_small_text_grey")):
        det_sides = []
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                                det_sides=det_sides)
        assert det_sides == [992, 1888]
        assert [r["points"] for r in got] == [r["points"] for r in ref]
        assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]


def test_cpp_joins_split_lines_as_told_as_python(driver, cpp_config, onnx_models, dict_path, tmp_path):
    """det_large_text_above 0, and a config written before the key: the slide's title stays in the two pieces
    the first pass found, in C++ as in Python, with no far pass."""
    img = IMAGES["slide"]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, large_text_above=0)(img)]
    assert len(ref) == 4
    for config in (_variant_config(cpp_config, tmp_path, det_large_text_above=0),
                   _config_without(cpp_config, tmp_path, "det_large_text_above")):
        det_sides = []
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                                det_sides=det_sides)
        assert det_sides == [1152]
        assert [r["points"] for r in got] == [r["points"] for r in ref]
        assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]


@pytest.mark.parametrize("name", [n for n in ("080", "long_receipt", "tight_line", "long_line_turned") if n in IMAGES])
def test_cpp_system_as_paddleocr_matches_python(driver, onnx_models, dict_path, tmp_path, name):
    """`make_cpp_config --as_paddleocr`: the demo detects, turns, crops, batches and orders lines as PaddleOCR does,
    as PPOCR(as_paddleocr=True): one detection pass, no border, every crop classified whole, PaddleOCR's padded
    recognition batches (a SROIE receipt's texts depend on them) and its reading order."""
    config = write_cpp_config(tmp_path / "ocr_config.txt", as_paddleocr=True)
    values = dict(line.split(" ", 1) for line in config.read_text().splitlines() if not line.startswith("#"))
    assert values["reading_order"] == "paddleocr" and float(values["rec_max_pad_ratio"]) == 0
    img = IMAGES[name]
    ref = [r.to_dict() for r in _python_system(onnx_models, dict_path, as_paddleocr=True)(img)]
    det_sides, cls_inputs = [], []
    got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models,
                            det_sides=det_sides, cls_inputs=cls_inputs)
    assert len(det_sides) == 1                                  # one pass, no windows
    if name == "long_line_turned":                              # the line classified whole once, no pieces
        assert cls_inputs == [1]
    if name == "long_receipt":                                  # shrunk by its long side, as PaddleOCR does
        assert det_sides == [960]
    if name == "tight_line":                                    # no border: PaddleOCR's detector misses it
        assert not ref
    assert [r["points"] for r in got] == [r["points"] for r in ref]
    assert [r["transcription"] for r in got] == [r["transcription"] for r in ref]
    tol = 0 if driver.arch == "host" else ARM64_SCORE_TOL  # see CROP_ON_ARM64
    assert np.allclose([r["score"] for r in got], [r["score"] for r in ref], atol=tol, rtol=0)


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_cpp_system_turns_pages_upright_as_python(driver, onnx_models, dict_path, tmp_path, turn):
    """use_doc_orientation_classify: a form turned clockwise by `turn` is turned back by the same votes, read
    upright, and its points carried back into the image as given, as pipeline.py does. The small-print page turned
    by 90 degrees takes the full-size pass."""
    config = write_cpp_config(tmp_path / "ocr_config.txt")
    text = config.read_text().replace("use_doc_orientation_classify 0", "use_doc_orientation_classify 1")
    assert text != config.read_text()
    config.write_text(text)
    pages = [fixtures.form()] + ([fixtures.small_print_page((1600, 1200))] if turn == 90 else [])
    for upright in pages:
        img = np.ascontiguousarray(np.rot90(upright, -turn // 90))
        read = _python_system(onnx_models, dict_path, use_doc_orientation_classify=True)(img)
        angle = []
        got = _run_piped_system(driver, config, dict_path, _save(tmp_path / "img.npy", img), onnx_models, angle)
        assert read.angle == turn and angle == [turn]
        assert [r["points"] for r in got] == [r.points for r in read]
        assert [r["transcription"] for r in got] == [r.transcription for r in read]
        tol = 0 if driver.arch == "host" else ARM64_SCORE_TOL  # see CROP_ON_ARM64
        assert np.allclose([r["score"] for r in got], [r.score for r in read], atol=tol, rtol=0)


def test_cpp_page_orientation_constants_are_pythons():
    from paddle_pp.utils import page_orientation as P

    header = (Path(__file__).parents[1] / "deploy/lite/cpp/src/page_orientation.h").read_text()
    constants = dict(re.findall(r"constexpr double (kOrientation\w+) = ([\d.]+);", header))
    assert {name: float(value) for name, value in constants.items()} == {
        "kOrientationMinAspect": P.MIN_ASPECT, "kOrientationMinScore": P.MIN_SCORE, "kOrientationMargin": P.MARGIN,
        "kOrientationMinVotes": P.MIN_VOTES, "kOrientationRecountShrunkBelow": P.RECOUNT_SHRUNK_BELOW}


def test_config_comes_from_the_yaml(cpp_config):
    values = dict(line.split(" ", 1) for line in cpp_config.read_text().splitlines() if not line.startswith("#"))
    det, cls, rec = (load_config(n) for n in ("det", "cls", "rec"))
    assert float(values["det_db_box_thresh"]) == det["PostProcess"]["box_thresh"]
    assert int(values["det_limit_side_len"]) == det["Inference"]["limit_side_len"]
    assert int(values["det_max_side_limit"]) == det["Inference"]["max_side_limit"] == 4000
    assert float(values["det_long_image_aspect"]) == det["Inference"]["long_image_aspect"] == 1.5
    assert float(values["det_window_overlap"]) == det["Inference"]["window_overlap"] == 0.5
    assert float(values["det_window_below"]) == det["Inference"]["window_below"] == 0.67
    assert int(values["det_border_below"]) == det["Inference"]["border_below"] == 192
    assert float(values["det_border_ratio"]) == det["Inference"]["border_ratio"] == 0.5
    assert float(values["det_border_unclip_ratio"]) == det["Inference"]["border_unclip_ratio"] == 2.0
    assert float(values["det_small_text_below"]) == det["Inference"]["small_text_below"] == 28
    assert float(values["det_small_text_zoom"]) == det["Inference"]["small_text_zoom"] == 3
    assert float(values["det_small_text_height"]) == det["Inference"]["small_text_height"] == 32
    assert float(values["cls_pieces_above"]) == cls["Inference"]["pieces_above"] == 6
    assert int(values["cls_max_pieces"]) == cls["Inference"]["max_pieces"] == 4
    assert float(values["cls_upright_sure"]) == cls["Inference"]["upright_sure"] == 0.99
    assert values["cls_turned_view"] == "1" and cls["Inference"]["turned_view"] is True
    assert float(values["det_small_text_unclip_ratio"]) == det["Inference"]["small_text_unclip_ratio"] == 1.8
    assert values["det_small_text_score_mode"] == det["Inference"]["small_text_score_mode"] == "slow"
    assert float(values["det_small_text_empty_zoom"]) == det["Inference"]["small_text_empty_zoom"] == 2
    assert values["det_small_text_empty_unread"] == "1" and det["Inference"]["small_text_empty_unread"] is True
    assert float(values["det_small_text_rendered_share"]) == det["Inference"]["small_text_rendered_share"] == 0.9
    assert float(values["det_small_text_past_aspect"]) == det["Inference"]["small_text_past_aspect"] == 2
    assert values["det_small_text_grey"] == "1" and det["Inference"]["small_text_grey"] is True
    assert float(values["det_large_text_above"]) == det["Inference"]["large_text_above"] == 28
    assert float(values["det_large_text_height"]) == det["Inference"]["large_text_height"] == 18
    assert float(values["det_scale"]) == det["Inference"]["scale"]
    assert values["cls_image_shape"].split() == [str(v) for v in cls["Inference"]["image_shape"]]
    assert int(values["rec_batch_num"]) == rec["Inference"]["batch_num"]
    assert float(values["rec_mixed_case_prior"]) == 0.0   # rec.yml: none (PaddleOCR's greedy decoding)
    assert values["rec_drop_bullets"] == "1" and rec["Inference"]["drop_bullets"] is True
    for key, value in (("widen_inked_ends", 0.2), ("ink_strip", 0.06), ("ink_share", 0.1), ("dense_pitch", 3.5),
                       ("dense_stretch", 1.25), ("dense_sure", 0.98), ("unsure_below", 0.95), ("unsure_blur", 0.8)):
        assert float(values[f"rec_{key}"]) == rec["Inference"][key] == value
    assert float(values["drop_score"]) == load_config("system")["System"]["drop_score"]
    assert float(values["light_text_share"]) == load_config("system")["System"]["light_text_share"] == 0.5
    assert float(values["light_text_height"]) == load_config("system")["System"]["light_text_height"] == 24
    assert values["reading_order"] == load_config("system")["System"]["reading_order"] == "rows"
    assert values["use_doc_orientation_classify"] == "0"   # system.yml's default: pages read as they are


def test_english_models_carry_their_case_prior_to_the_demo():
    from paddle_pp.lite.make_cpp_config import cpp_config_lines

    for model in ("rec_en", "slim/rec_en"):
        rec = load_config(str(ROOT / "paddle_pp" / "models" / model / "config.yml"))
        lines = cpp_config_lines(load_config("det"), load_config("cls"), rec, dict(load_config("system")["System"]))
        assert f"rec_mixed_case_prior {rec['PostProcess']['mixed_case_prior']!r}" in lines
        assert rec["PostProcess"]["mixed_case_prior"] == 0.01


def test_the_pruned_detector_carries_its_post_processing_to_the_demo():
    """Its own nested-box setting and box threshold (0.5: its map is less sure inside lines), not det.yml's."""
    from paddle_pp.lite.make_cpp_config import cpp_config_lines

    system = dict(load_config("system")["System"])
    pruned = load_config(str(ROOT / "paddle_pp" / "models" / "slim" / "det" / "config.yml"))
    assert pruned["PostProcess"]["nested_thresh"] == 0.5
    assert (pruned["PostProcess"]["box_thresh"], load_config("det")["PostProcess"]["box_thresh"]) == (0.5, 0.6)
    lines = cpp_config_lines(pruned, load_config("cls"), load_config("rec"), system)
    assert "det_db_nested_thresh 0.5" in lines and "det_db_box_thresh 0.5" in lines
    # the official detector's det.yml drops nested boxes too, with PaddleOCR's box threshold; a config without the
    # key (or 0) keeps every box, as PaddleOCR
    official = cpp_config_lines(load_config("det"), load_config("cls"), load_config("rec"), system)
    assert "det_db_nested_thresh 0.5" in official and "det_db_box_thresh 0.6" in official
    every_box = load_config("det")
    del every_box["PostProcess"]["nested_thresh"]
    assert "det_db_nested_thresh 0.0" in cpp_config_lines(every_box, load_config("cls"), load_config("rec"), system)
