"""Hostile inputs (issue 21, defects 2 and 11): pixel bombs, inputs of the wrong type, multi-page TIFFs, symlink
loops and unreadable folders, Ctrl-C during start-up, binary in error messages, a damaged model cache.
Every fixture is generated here; the pixel bomb is a ~100 KB PNG written row by row (never held decoded)."""
import io
import json
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, features

from paddle_pp.config import load_config
from paddle_pp.tools import utility
from paddle_pp.utils import files as files_module
from paddle_pp.utils.files import list_images
from paddle_pp.utils.image_io import (ImageReadError, ImageTooLargeError, ImageTypeError, decode_image,
                                      default_max_pixels, read_header, read_image, stored_dpi, to_bgr)

REPO = Path(__file__).resolve().parents[1]


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit gray PNG of width x height black pixels, compressed row by row: tiny on disk and in the
    test's memory, width*height*3 bytes once decoded to BGR."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def encoded(fmt: str, size=(300, 200), **save) -> bytes:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3)).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


# ------------------------------------------------------------------ defect 2: the pixel count from the header

def test_pixel_bomb_is_refused_from_its_header_in_little_memory(tmp_path):
    """30000x30000 (900 MP, 2.7 GB decoded): refused with a named error in a process limited to 1 GB."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(30000, 30000))
    assert bomb.stat().st_size < 1_000_000
    script = textwrap.dedent(f"""
        import resource, sys
        from paddle_pp.utils.image_io import ImageTooLargeError, read_image
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        try:
            read_image({str(bomb)!r})
        except ImageTooLargeError as exc:
            print("refused:", exc)
        except BaseException as exc:
            print("other:", type(exc).__name__, exc)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.startswith("refused:"), proc.stdout + proc.stderr
    assert f"{bomb}: 30000x30000 pixels (900.0 MP)" in proc.stdout
    assert f"limit of {default_max_pixels():,} pixels" in proc.stdout and "--max_pixels" in proc.stdout


@pytest.mark.parametrize("fmt, save", [("PNG", {}), ("JPEG", {}), ("BMP", {}), ("TIFF", {}), ("PPM", {}),
                                       ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80}),
                                       ("WEBP", {"lossless": True, "exif": b"Exif\x00\x00MM\x00*"})])
def test_every_format_is_sized_from_its_header(fmt, save):
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("PIL without WebP")
    data = encoded(fmt, **save)
    assert read_header(data)[:2] == (300, 200)
    with pytest.raises(ImageTooLargeError, match=r"x.img: 300x200 pixels is more than the limit of 59,999 pixels;"):
        decode_image(data, "x.img", max_pixels=59_999)
    assert decode_image(data, "x.img", max_pixels=60_000).shape == (200, 300, 3)
    assert decode_image(data, "x.img", max_pixels=0).shape == (200, 300, 3)  # 0 = no limit


def test_the_stored_dpi_of_a_large_image_is_read_from_its_header_without_warnings():
    """108 MP: under max_pixels, over PIL's decompression-bomb threshold (89 MP), whose warning (or, past 179 MP,
    error) PIL's Image.open would raise just to read the DPI."""
    bomb = bomb_png(12000, 9000)
    at_300_dpi = chunk(b"pHYs", struct.pack(">IIB", 11811, 11811, 1))  # pixels per metre
    data = bomb[:33] + at_300_dpi + bomb[33:]  # after the signature and IHDR
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_header(data) == (12000, 9000, 1)
        assert stored_dpi(data) == pytest.approx(300, abs=0.01)
    assert stored_dpi(bomb) is None                                   # no pHYs: no DPI
    assert stored_dpi(encoded("JPEG", dpi=(150, 150))) == 150
    assert stored_dpi(b"GIF89a" + b"\x00" * 20) is None and stored_dpi(b"") is None


def test_arrays_pil_images_and_bytes_meet_the_same_limit():
    array = np.zeros((100, 200, 3), np.uint8)
    with pytest.raises(ImageTooLargeError, match=r"array input of shape \(100, 200, 3\): 200x100 pixels"):
        to_bgr(array, max_pixels=19_999)
    assert to_bgr(array, max_pixels=20_000).shape == (100, 200, 3)
    with pytest.raises(ImageTooLargeError, match="PIL image"):
        to_bgr(Image.new("RGB", (200, 100)), max_pixels=100)
    with pytest.raises(ImageTooLargeError, match="<bytes>: 300x200"):
        to_bgr(encoded("PNG"), max_pixels=100)
    with pytest.raises(ValueError, match="max_pixels"):
        to_bgr(array, max_pixels=-1)


def test_one_default_for_cli_and_api(tmp_path, capsys):
    assert default_max_pixels() == load_config("system")["System"]["max_pixels"] > 100_000_000
    for tool in ("det", "cls", "rec", "system"):
        argv = ["--image_dir", "x"]
        assert utility.build_parser(tool).parse_args(argv).max_pixels is None  # None = the system default
        assert utility.build_parser(tool).parse_args(argv + ["--max_pixels", "0"]).max_pixels == 0
        with pytest.raises(SystemExit) as exit_:
            utility.build_parser(tool).parse_args(argv + ["--max_pixels", "-5"])
        assert exit_.value.code == 2
    from paddle_pp import PPOCR

    with pytest.raises(ValueError, match="max_pixels"):
        PPOCR(max_pixels=-1)  # checked before any model is loaded


def test_cli_fails_the_large_image_alone(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "small.png"), np.zeros((10, 10, 3), np.uint8))
    cv2.imwrite(str(images / "large.png"), np.zeros((100, 100, 3), np.uint8))
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out"),
                                                   "--max_pixels", "1000"])
    process = lambda model, items: [utility.Outcome({"r.txt": item.name}) for item in items]  # noqa: E731
    assert utility.run(args, lambda: "model", process, ["r.txt"]) == 1
    assert (tmp_path / "out" / "r.txt").read_text() == "small.png\n"
    err = capsys.readouterr().err
    assert (f"{images / 'large.png'}: 100x100 pixels is more than the limit of 1,000 pixels; raise max_pixels "
            "(--max_pixels; 0 = no limit) to read it" in err)


# ------------------------------------------------------------------ defect 11: other inputs of the API

def test_none_numbers_and_lists_are_a_clear_type_error():
    for bad in (None, 3, [1, 2]):
        with pytest.raises(ImageTypeError, match="not an image .expected a file path, a numpy array, a PIL image"):
            to_bgr(bad)
    assert issubclass(ImageTypeError, TypeError) and issubclass(ImageTypeError, ImageReadError)


def test_encoded_bytes_and_pil_images_are_read_like_files(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (40, 60, 3)).astype(np.uint8)
    png = encoded("PNG", size=(60, 40))
    from_file = decode_image(png)
    assert (to_bgr(png) == from_file).all() and (to_bgr(bytearray(png)) == from_file).all()
    assert (to_bgr(Image.fromarray(rgb)) == rgb[:, :, ::-1]).all()
    gray = Image.fromarray(rgb[:, :, 0])
    assert (to_bgr(gray) == rgb[:, :, :1]).all()
    rgba = np.dstack([rgb, np.zeros((40, 60), np.uint8)])  # fully transparent: white, as a PNG file is
    assert (to_bgr(Image.fromarray(rgba)) == 255).all()
    deep = Image.fromarray(rgb[:, :, 0].astype(np.uint16) << 8)
    assert deep.mode == "I;16"
    assert (to_bgr(deep)[:, :, 0] == rgb[:, :, 0]).all()
    path = tmp_path / "p.png"
    Image.fromarray(rgb).convert("P").save(path)
    with Image.open(path) as lazy:
        assert (to_bgr(lazy) == read_image(path)).all()
    with pytest.raises(ImageReadError, match="<bytes>: not a decodable image"):
        to_bgr(b"not an image at all")


def test_multi_page_tiff_is_read_as_page_one_with_a_notice(tmp_path, caplog):
    pages = [Image.fromarray(np.full((20, 30, 3), value, np.uint8)) for value in (10, 120, 240)]
    path = tmp_path / "scan.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with caplog.at_level(logging.WARNING, logger="paddle_pp.input"):
        img = read_image(path)
    assert (img == 10).all()
    assert [r.getMessage() for r in caplog.records] == [f"{path}: TIFF with 3 pages: only page 1 is read"]
    caplog.clear()
    pages[0].save(tmp_path / "one.tif")
    with caplog.at_level(logging.WARNING, logger="paddle_pp.input"):
        read_image(tmp_path / "one.tif")
    assert caplog.records == []


def test_gif_is_read_as_its_first_frame_as_paddleocr_does(tmp_path, caplog):
    """PaddleOCR reads a GIF's first frame; so do we (PIL: OpenCV has no GIF reader), with a notice when it is
    animated, transparency over white, and a GIF in a folder is listed like any image."""
    first = np.zeros((20, 30, 3), np.uint8)
    first[5:15, 4:26] = (255, 0, 0)                                        # red (RGB)
    frames = [Image.fromarray(first), Image.fromarray(255 - first)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="paddle_pp.input"):
        img = read_image(path)
    assert np.array_equal(img, first[:, :, ::-1])
    assert [r.getMessage() for r in caplog.records] == [f"{path}: animated GIF: only frame 1 is read"]
    caplog.clear()
    still = Image.fromarray(first).convert("P")
    still.info["transparency"] = int(np.asarray(still)[0, 0])             # the black background is transparent
    still.save(tmp_path / "still.gif", transparency=still.info["transparency"])
    with caplog.at_level(logging.WARNING, logger="paddle_pp.input"):
        img = read_image(tmp_path / "still.gif")
    assert caplog.records == []
    assert (img[0, 0] == 255).all() and tuple(img[10, 10]) == (0, 0, 255)
    assert list_images(tmp_path)[0] == [path, tmp_path / "still.gif"]
    with pytest.raises(ImageTooLargeError, match="still.gif: 30x20 pixels"):
        read_image(tmp_path / "still.gif", max_pixels=599)
    data = path.read_bytes()
    with pytest.raises(ImageReadError, match=r"cut.gif: not a decodable image \(corrupt or truncated GIF data"):
        decode_image(data[:len(data) // 4], "cut.gif")


# ------------------------------------------------------------------ defect 11: listing

def test_symlink_loops_dangling_links_and_unreadable_folders_are_reported(tmp_path, monkeypatch):
    root = tmp_path / "in"
    for rel in ("a/x.png", "a/sub/z.png", "real/y.png", "locked/q.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    (root / "a" / "linked").symlink_to(root / "real")  # a symlinked folder: followed
    (root / "a" / "sub" / "up").symlink_to(root / "a")  # a loop back to an ancestor
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "gone.png").symlink_to(root / "nowhere.png")  # dangling
    real_scandir = os.scandir

    def scandir(path):  # as for a folder without read permission (the tests may run as root)
        if Path(path) == root / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(files_module.os, "scandir", scandir)
    reports = []
    found, _ = list_images(root, reports.append)
    assert [p.relative_to(root).as_posix() for p in found] == ["a/linked/y.png", "a/sub/z.png", "a/x.png",
                                                              "real/y.png"]
    assert sorted(reports) == sorted([
        f"{root / 'a' / 'sub' / 'up'}: skipped (symlink loop back to {root / 'a'})",
        f"{root / 'self'}: skipped (symlink loop)",
        f"{root / 'gone.png'}: skipped (dangling symlink to {root / 'nowhere.png'})",
        f"{root / 'locked'}: folder skipped (cannot list it: Permission denied)",
    ])


def test_the_tools_print_what_they_skip(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (images / "loop").symlink_to(images)
    (images / "b.png").symlink_to(images / "missing.png")
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out")])
    process = lambda model, items: [utility.Outcome({"r.txt": item.name}) for item in items]  # noqa: E731
    assert utility.run(args, lambda: "model", process, ["r.txt"]) == 0
    err = capsys.readouterr().err
    assert f"{images / 'loop'}: skipped (symlink loop back to {images})" in err
    assert f"{images / 'b.png'}: skipped (dangling symlink to {images / 'missing.png'})" in err


# ------------------------------------------------------------------ defect 11: start-up and error messages

def test_ctrl_c_while_the_models_load_is_one_line(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4, 3), np.uint8))
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out")])

    def build():
        raise KeyboardInterrupt

    try:
        status = utility.run(args, build, lambda model, items: [], ["r.txt"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while loading escaped run() (a traceback for the user)")
    assert status == 130
    assert "interrupted while loading the models" in capsys.readouterr().err


def test_ctrl_c_during_start_up_of_a_real_process(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4, 3), np.uint8))
    script = textwrap.dedent(f"""
        import sys, time
        from paddle_pp.tools import utility
        args = utility.build_parser("det").parse_args(["--image_dir", {str(images)!r}, "--output", {str(tmp_path / "out")!r}])
        def build():
            print("loading", flush=True)
            time.sleep(60)
        sys.exit(utility.run(args, build, lambda model, items: [], ["r.txt"]))
    """)
    # A shell runs background jobs with SIGINT ignored, and a child that starts so never gets KeyboardInterrupt:
    # give the process the default disposition a terminal user's program has.
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "loading"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    assert "interrupted while loading the models" in err


def test_binary_in_an_error_message_is_escaped_and_bounded(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4, 3), np.uint8))
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out")])
    raw = bytes(range(256)).decode("latin-1") * 40  # what a message quoting a weights file's bytes can hold

    def build():
        raise ValueError(f"cannot parse {raw}")

    assert utility.run(args, build, lambda model, items: [], ["r.txt"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot load the models: ValueError: cannot parse") and "\\x1b" in err
    assert err.isprintable() and len(err) < 700 and " characters)" in err  # says how long the message was


# ------------------------------------------------------------------ defect 11: the model cache

@pytest.fixture
def cls_cache(models_dir, tmp_path):
    """A private copy of the cached official cls model (imported and exported by the session's cache)."""
    from paddle_pp.ocr import build_stage

    build_stage("cls", cache_dir=models_dir)  # the session cache holds the exported model
    cache = tmp_path / "cache"
    shutil.copytree(Path(models_dir) / "cls", cache / "cls")
    return cache


def test_damage_older_than_the_digests_names_the_command(cls_cache):
    pytest.importorskip("onnxruntime")
    from paddle_pp.ocr import build_stage
    from paddle_pp.weights import ModelCacheError

    manifest = cls_cache / "cls" / "manifest.json"
    record = json.loads(manifest.read_text())
    record.pop("files", None)  # a cache written before digests were recorded
    manifest.write_text(json.dumps(record))
    (cls_cache / "cls" / "model.onnx").write_bytes(os.urandom(5000))
    with pytest.raises(ModelCacheError) as error:
        build_stage("cls", cache_dir=cls_cache)
    message = str(error.value)
    assert message.isprintable()
    assert message.endswith(f"repair it with `python -m paddle_pp.weights cls --force --cache_dir {cls_cache}`")


def test_a_damaged_cached_file_is_found_by_digest_and_imported_again(cls_cache, capsys):
    pytest.importorskip("onnxruntime")
    from paddle_pp.ocr import build_stage
    from paddle_pp.weights import cache_problems

    build_stage("cls", cache_dir=cls_cache)  # records the digests of what it uses
    assert cache_problems(cls_cache / "cls") == []
    onnx_file = cls_cache / "cls" / "model.onnx"
    good = onnx_file.read_bytes()
    onnx_file.write_bytes(good[: len(good) // 2])  # a copy cut short
    assert cache_problems(cls_cache / "cls") == [
        "model.onnx is damaged (its content differs from the digest recorded when it was written)"]
    capsys.readouterr()
    stage = build_stage("cls", cache_dir=cls_cache)
    assert f"model cache: {cls_cache / 'cls'}: model.onnx is damaged" in capsys.readouterr().err
    assert cache_problems(cls_cache / "cls") == [] and onnx_file.stat().st_size > len(good) // 2
    crop = np.full((48, 192, 3), 255, np.uint8)
    _, labels = stage([crop])
    assert len(labels) == 1 and labels[0][0] in ("0", "180")
