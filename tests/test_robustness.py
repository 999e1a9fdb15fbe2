"""Bad and unusual input: decoding (paddle_pp.utils.image_io), listing, atomic writes, and the system on
degenerate images. Every fixture is made here."""
import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

import fixtures
from paddle_pp.utils.files import display_name, list_images, write_text_atomic
from paddle_pp.utils.image_io import (ImageReadError, decode_image, jpeg_is_truncated, read_image, sniff_format,
                                      to_bgr)


def asymmetric(h=60, w=100):
    """An image whose orientation is unambiguous: a dark block in the top-left corner, a gradient."""
    img = np.tile(np.linspace(60, 250, w, dtype=np.uint8)[None, :, None], (h, 1, 3)).copy()
    img[: h // 3, : w // 4] = 0
    return img


def jpeg_bytes(img, **kw):
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95] + kw.get("params", []))
    assert ok
    return buf.tobytes()


def png_bytes(img):
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


# ------------------------------------------------------------------ decoding

def test_grayscale_png_becomes_bgr(tmp_path):
    gray = asymmetric()[:, :, 0]
    path = tmp_path / "gray.png"
    path.write_bytes(png_bytes(gray))
    img = read_image(path)
    assert img.shape == gray.shape + (3,) and img.dtype == np.uint8
    assert (img == gray[:, :, None]).all()


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_becomes_8bit(tmp_path, channels):
    base = np.linspace(0, 65535, 100 * 60).reshape(60, 100).astype(np.uint16)
    data = base if channels == 1 else np.dstack([base] * 3)
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(data))
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == (60, 100, 3)
    assert np.abs(img[:, :, 0].astype(int) - (base.astype(int) >> 8)).max() <= 1


def test_rgba_png_is_composited_over_white(tmp_path):
    rgba = np.zeros((40, 80, 4), np.uint8)  # transparent black everywhere ...
    rgba[10:30, 10:40] = (0, 0, 0, 255)  # ... an opaque black block ...
    rgba[10:30, 50:70] = (0, 0, 255, 128)  # ... and a half-transparent red one (BGRA)
    path = tmp_path / "rgba.png"
    path.write_bytes(png_bytes(rgba))
    img = read_image(path)
    assert img.shape == (40, 80, 3)
    assert (img[0, 0] == 255).all()  # transparent -> white, not black
    assert (img[20, 20] == 0).all()  # opaque pixels unchanged
    assert abs(int(img[20, 60, 2]) - 255) <= 1 and abs(int(img[20, 60, 0]) - 127) <= 1
    # The same through PIL (an RGBA PNG written by another library), and gray+alpha.
    Image.fromarray(rgba[:, :, [2, 1, 0, 3]], "RGBA").save(tmp_path / "pil.png")
    assert np.abs(read_image(tmp_path / "pil.png").astype(int) - img.astype(int)).max() <= 1
    Image.fromarray(np.dstack([rgba[:, :, 0], rgba[:, :, 3]]), "LA").save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png")[0, 0] == 255).all()
    # An array input gets the same treatment.
    assert np.array_equal(to_bgr(rgba), img)


@pytest.mark.parametrize("orientation,turn", [(1, 0), (3, 2), (6, 1), (8, -1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turn):
    upright = asymmetric()
    # Store the pixels turned (np.rot90: k quarter turns counter-clockwise) as a camera does, with the tag
    # that turns them back: 6 = "rotate 90 degrees clockwise to display", 8 = counter-clockwise, 3 = 180.
    stored = np.ascontiguousarray(np.rot90(upright, turn))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"exif{orientation}.jpg"
    Image.fromarray(stored[:, :, ::-1]).save(path, quality=95, exif=exif.tobytes())
    img = read_image(path)
    assert img.shape == upright.shape
    assert np.abs(img.astype(int) - upright.astype(int)).mean() < 4


def test_truncated_jpeg_is_an_error_at_every_cut(tmp_path):
    data = jpeg_bytes(fixtures.document((320, 200))[0])
    assert not jpeg_is_truncated(data)
    for cut in list(range(0, 700, 37)) + list(range(700, len(data) - 1, max(1, len(data) // 40))) + [len(data) - 1]:
        with pytest.raises(ImageReadError) as err:
            decode_image(data[:cut], "cut.jpg")
        message = str(err.value)
        assert message.startswith("cut.jpg: ") and "\n" not in message
    # A cut in the scan data is named as such (no partial, gray-filled decode).
    with pytest.raises(ImageReadError, match="truncated JPEG"):
        decode_image(data[: len(data) // 2], "half.jpg")
    # Trailing bytes after the end-of-image marker are fine; so is a progressive JPEG.
    assert decode_image(data + b"\x00" * 16).shape[:2] == (200, 320)
    progressive = jpeg_bytes(asymmetric(), params=[cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert not jpeg_is_truncated(progressive) and decode_image(progressive).shape == (60, 100, 3)


def test_truncated_png_is_an_error(tmp_path):
    data = png_bytes(np.random.default_rng(0).integers(0, 255, (100, 100, 3)).astype(np.uint8))
    for cut in (8, 30, len(data) // 2, len(data) - 5):
        with pytest.raises(ImageReadError, match="cut.png: "):
            decode_image(data[:cut], "cut.png")


@pytest.mark.parametrize("content,problem", [
    (b"", "empty file"),
    (b"just some text, not a picture\n", "not a decodable image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 10, "cut.jpg: "),
    (b"GIF89a" + b"\x00" * 20, "corrupt or truncated GIF data"),
    (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "HEIC/AVIF is not supported"),
    (b"%PDF-1.7\n" + b"\x00" * 20, "PDF is not supported"),
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 5 + b"IEND", "not a decodable image"),
])
def test_bad_files_raise_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "cut.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as err:
        read_image(path)
    assert problem in str(err.value) and str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_missing_file_and_directory_raise_image_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="cannot read file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="cannot read file"):
        read_image(tmp_path)



def test_a_url_is_named_as_one_not_as_a_missing_file(models_dir):
    """PaddleOCR fetches URLs; paddle-pp downloads nothing at run time and says so, by the URL as given."""
    from paddle_pp import PPOCR
    from paddle_pp.utils.files import list_images

    url = "https://example.com/receipt.jpg"
    with pytest.raises(ImageReadError, match=r"^https://example.com/receipt.jpg: a URL: .*downloads nothing"):
        read_image(url)
    with pytest.raises(FileNotFoundError, match=r"\?size=2: a URL"):
        list_images(url + "?size=2")                              # not taken for a glob
    page, = PPOCR().pages(url)
    assert "a URL" in str(page.error)


def test_sniff_format():
    assert sniff_format(jpeg_bytes(asymmetric())) == "jpeg"
    assert sniff_format(png_bytes(asymmetric())) == "png"
    buf = io.BytesIO()
    Image.fromarray(asymmetric()).save(buf, format="BMP")
    assert sniff_format(buf.getvalue()) == "bmp"
    assert sniff_format(b"hello") is None


def test_array_inputs():
    img = asymmetric()
    assert to_bgr(img[:, :, :1]).shape == img.shape
    assert to_bgr((img.astype(np.uint16) << 8)).dtype == np.uint8
    with pytest.raises(ImageReadError, match="empty image"):
        to_bgr(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageReadError, match="float"):
        to_bgr(np.zeros((5, 5, 3), np.float32))


# ------------------------------------------------------------------ listing and writing

def test_list_images_directory_glob_and_file(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    for rel in ("z.jpg", "a.PNG", "b/c/d.jpeg", "b/notes.txt", "b/e.bmp"):
        (tmp_path / rel).write_bytes(b"x")
    files, root = list_images(tmp_path)
    assert [display_name(p, root) for p in files] == ["a.PNG", "b/c/d.jpeg", "b/e.bmp", "z.jpg"]
    files, root = list_images(str(tmp_path / "**" / "*.jp*g"))
    assert root == tmp_path and [display_name(p, root) for p in files] == ["b/c/d.jpeg", "z.jpg"]
    files, root = list_images(tmp_path / "b" / "notes.txt")  # a single file is taken as given
    assert [display_name(p, root) for p in files] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert list_images(tmp_path / "empty")[0] == []
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")


def test_write_text_atomic_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "out" / "r.txt"
    write_text_atomic(target, "one\n")
    write_text_atomic(target, "one\ntwo\n")
    assert target.read_text() == "one\ntwo\n"
    assert os.listdir(target.parent) == ["r.txt"]


# ------------------------------------------------------------------ the system on degenerate images

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def ocr(models_dir):
    from paddle_pp import PPOCR

    return PPOCR()


@pytest.mark.parametrize("shape", [(1, 1, 3), (10, 10000, 3), (10000, 10, 3), (2, 3, 3), (50, 50, 3)])
def test_degenerate_shapes_give_empty_results(ocr, shape):
    img = np.random.default_rng(0).integers(0, 255, shape).astype(np.uint8)
    assert ocr(img) == []


def test_blank_gray_image_gives_no_results(ocr):
    assert ocr(np.full((120, 200), 200, np.uint8)) == []


def test_degenerate_boxes_are_skipped_not_fatal(ocr):
    from paddle_pp.pipeline import TextSystem

    img, lines = fixtures.document()
    real = ocr.system.detector(img)
    flat = np.array([[[5, 5], [5, 5], [5, 5], [5, 5]]], np.float32)  # a zero-area box: no crop
    system = TextSystem(fixtures.GivenBoxes(*flat, *real), ocr.system.recognizer, ocr.system.classifier,
                        ocr.drop_score)
    results = system(img)
    assert len(results) == len(ocr(img)) and results[0].points != flat[0].astype(int).tolist()


def test_wide_text_line_is_read(ocr):
    line = fixtures.text_lines()[3]  # a long sentence, ~40 px high
    img = cv2.copyMakeBorder(line, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    got = " ".join(r["transcription"] for r in ocr(img)).replace(" ", "")
    assert "quickbrownfox" in got


def test_transparency_goes_over_the_background_asked_for():
    """PaddleOCR's alpha_color: a PNG's (and an array's, a PIL image's) transparent pixels over any colour."""
    from PIL import Image

    from paddle_pp.utils.image_io import bgr_of_rgb, to_bgr

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)                        # opaque BGR pixel; the others fully transparent
    png = cv2.imencode(".png", rgba)[1].tobytes()
    red = bgr_of_rgb((255, 0, 0))
    assert red == (0, 0, 255)
    for source in (png, rgba, Image.fromarray(rgba[:, :, [2, 1, 0, 3]], "RGBA")):
        assert to_bgr(source)[1, 1].tolist() == [255, 255, 255]           # white by default
        out = to_bgr(source, background=red)
        assert out[1, 1].tolist() == [0, 0, 255] and out[0, 0].tolist() == [10, 20, 30]
    for bad in ((0, 0), (0, 0, 256), (0.5, 0, 0)):
        with pytest.raises(ValueError, match="alpha_color must be three integers"):
            bgr_of_rgb(bad)


def test_adjust_for_ocr_inverts_then_binarizes():
    from paddle_pp.utils.image_io import adjust_for_ocr

    img = np.full((4, 4, 3), 200, np.uint8)
    img[1:3, 1:3] = 40
    assert adjust_for_ocr(img) is img
    assert adjust_for_ocr(img, invert=True)[0, 0].tolist() == [55, 55, 55]
    binary = adjust_for_ocr(img, binarize=True)
    assert set(np.unique(binary).tolist()) == {0, 255} and binary[1, 1].tolist() == [0, 0, 0]
    assert adjust_for_ocr(img, invert=True, binarize=True)[1, 1].tolist() == [255, 255, 255]   # inverted first
