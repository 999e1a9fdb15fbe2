"""utils/reading_order.py: PaddleOCR's sorted_boxes and the row order, on boxes laid out as pages lay them out."""
import math

import cv2
import numpy as np
import pytest

from paddle_pp import config_schema
from paddle_pp.utils.reading_order import READING_ORDERS, order_boxes, row_order, sorted_boxes


def rect(x, y, w, h):
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def tilted(cx, cy, w, h, degrees):
    """A box of a line tilted by `degrees` (clockwise in image coordinates), clockwise from its top-left."""
    pts = cv2.boxPoints(((cx, cy), (w, h), degrees))
    return np.roll(pts, -int(np.argmin(pts.sum(axis=1))), axis=0).astype(np.float32)


def names(boxes, order, labels):
    lookup = {b.tobytes(): label for b, label in zip(boxes, labels)}
    return [lookup[b.tobytes()] for b in order_boxes(boxes, order)]


def test_the_orders_are_the_schema_choices():
    assert set(READING_ORDERS) == set(config_schema.READING_ORDERS)
    with pytest.raises(ValueError, match="reading_order"):
        order_boxes([rect(0, 0, 10, 10)], "columns")


def test_rows_read_a_form_row_left_to_right_where_paddleocr_does_not():
    # checkbox labels: the box of a label with its checkbox starts higher than one without descenders; a hand-filled
    # form is not level. All four share a row; their tops are up to 14 px apart.
    labels = ["Full-time", "Part-time", "Contract", "Internship"]
    boxes = [rect(53, 42, 200, 40), rect(346, 56, 190, 30), rect(636, 43, 170, 38), rect(927, 48, 200, 34)]
    below = [rect(54, 190, 150, 34), rect(390, 189, 80, 34)]
    every = boxes + below
    assert names(every, "rows", labels + ["Employer", "Role"]) == labels + ["Employer", "Role"]
    # PaddleOCR's rule sorts by the top-left y (42, 43, 48, 56), then swaps neighbours less than 10 px apart once
    assert names(every, "paddleocr", labels + ["Employer", "Role"])[:4] == ["Full-time", "Contract", "Part-time",
                                                                            "Internship"]


def test_rows_do_not_depend_on_the_image_scale():
    rng = np.random.default_rng(0)
    page = [rect(float(x), float(40 * r + rng.normal(0, 5)), 60, 24) for r in range(8) for x in rng.permutation(5) * 90]
    for scale in (0.5, 1, 4, 10):
        assert row_order([b * scale for b in page]) == row_order(page)
    expected = sorted(range(len(page)), key=lambda i: (i // 5, page[i][0, 0]))   # row by row, left to right
    assert row_order(page) == expected


def test_a_tilted_line_stays_one_row():
    # Two lines of three words, tilted by 8 degrees, 40 px apart: each word's box spans more height than the line
    # pitch, so boxes of both lines overlap in y. Measured along each box's edges they do not.
    angle = 8.0
    slope = math.tan(math.radians(angle))
    words = []
    for line in range(2):
        for k in range(3):
            x = 100 + k * 220
            words.append(tilted(x, 100 + line * 40 + (x - 100) * slope, 200, 26, angle))
    axis_tops = [w[:, 1].min() for w in words]
    assert max(axis_tops[:3]) > min(axis_tops[3:])      # the axis-aligned extents of the two lines interleave
    assert row_order(words) == [0, 1, 2, 3, 4, 5]


def test_a_tall_title_takes_the_small_text_beside_it_into_its_row():
    title = rect(20, 20, 400, 80)
    beside = rect(450, 40, 120, 24)
    below = rect(20, 130, 300, 24)
    assert row_order([below, beside, title]) == [2, 1, 0]


def test_sideways_and_degenerate_boxes_are_ordered_without_error():
    sideways = rect(500, 10, 30, 300)        # a vertical line of text: its axis-aligned extent
    flat = rect(10, 50, 200, 0)              # a box of no height
    line = rect(10, 100, 200, 30)
    out = row_order([line, flat, sideways])
    assert sorted(out) == [0, 1, 2]
    assert out.index(1) < out.index(0)       # the flat box is above the line
    assert row_order([]) == [] and order_boxes(np.zeros((0, 4, 2), np.float32), "rows") == []
    assert row_order([line]) == [0]


def test_both_orders_keep_every_box():
    rng = np.random.default_rng(1)
    boxes = [tilted(float(rng.uniform(0, 900)), float(rng.uniform(0, 900)), float(rng.uniform(10, 300)),
                    float(rng.uniform(8, 40)), float(rng.normal(0, 10))) for _ in range(200)]
    for order in READING_ORDERS:
        out = order_boxes(boxes, order)
        assert sorted(b.tobytes() for b in out) == sorted(b.tobytes() for b in boxes)


def test_rows_do_not_depend_on_how_many_boxes_are_compared_at_once(monkeypatch):
    import paddle_pp.utils.reading_order as reading_order

    rng = np.random.default_rng(2)
    pages = [[tilted(float(rng.uniform(0, 900)), float(rng.choice(np.arange(20, 900, 30)) + rng.normal(0, 4)),
                     float(rng.uniform(10, 200)), float(rng.uniform(10, 30)), float(rng.normal(0, 5)))
              for _ in range(count)] for count in (3, 40, 300)]
    whole = [row_order(page) for page in pages]
    monkeypatch.setattr(reading_order, "_BLOCK", 7)
    assert [row_order(page) for page in pages] == whole


def test_a_page_photographed_at_an_angle_is_read_in_its_rows(monkeypatch):
    """Six rows of a label at the left and a value 600 px to its right, the page turned by 7 degrees: the value rises
    by 70 px, nearly two rows' pitch, against its label. The page's skew (the median slope of its long boxes)
    shears it level first; without that, the short values fall into other rows."""
    import paddle_pp.utils.reading_order as reading_order

    angle, pitch = 7.0, 40
    turn = cv2.getRotationMatrix2D((0, 0), angle, 1.0)         # as a photo turned anticlockwise: the right side rises
    page = []
    for row in range(6):
        for x, w in ((20, 300), (620, 60)):
            box = rect(x, 100 + row * pitch, w, 24)
            page.append(cv2.transform(box[None], turn)[0].astype(np.float32))
    assert reading_order.page_slope(np.array(page)) == pytest.approx(-math.tan(math.radians(angle)), abs=1e-3)
    assert row_order(page) == list(range(12))
    monkeypatch.setattr(reading_order, "page_slope", lambda quads: 0.0)
    assert row_order(page) != list(range(12))
