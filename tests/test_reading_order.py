"""utils/reading_order.py: PaddleOCR's sorted_boxes and the row order, on boxes laid out as pages lay them out."""
import math

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp import config_schema
from paddle_pp.utils.reading_order import READING_ORDERS, column_order, order_boxes, row_order, sorted_boxes


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
        order_boxes([rect(0, 0, 10, 10)], "diagonal")


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
    pages.append(column_page(columns=3, rows=40))
    whole = [(row_order(page), column_order(page)) for page in pages]
    monkeypatch.setattr(reading_order, "_BLOCK", 7)
    assert [(row_order(page), column_order(page)) for page in pages] == whole


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


# ---------------------------------------------------------------- columns

def column_page(columns=2, rows=5, pitch=34, height=26, width=900, gutter=40, title=True, footer=True, skew=0.0):
    """Boxes of a page set in columns, in reading order: a title across, each column's lines top to bottom (every
    fourth one short: a paragraph's last line), a footer across; tilted by `skew` (dy/dx) about the origin."""
    step = width / columns
    boxes = [rect(50, 20, width, 40)] if title else []
    for c in range(columns):
        for r in range(rows):
            boxes.append(rect(50 + c * step, 100 + r * pitch, (step - gutter) * (0.4 if r % 4 == 3 else 1), height))
    if footer:
        boxes.append(rect(50, 120 + rows * pitch, width, height))
    for box in boxes:
        box[:, 1] += skew * box[:, 0]
    return boxes


def shuffled(boxes, seed=0):
    order = np.random.default_rng(seed).permutation(len(boxes))
    return [boxes[i] for i in order], order


def read(boxes, order):
    """The reading order of shuffled boxes as indices of the unshuffled page."""
    page, shuffle = shuffled(boxes)
    return [int(shuffle[i]) for i in (column_order(page) if order == "columns" else row_order(page))]


@pytest.mark.parametrize("columns", [2, 3])
def test_columns_read_each_column_whole_between_a_title_and_a_footer(columns):
    page = column_page(columns=columns)
    assert read(page, "columns") == list(range(len(page)))
    across = read(page, "rows")
    assert across[:3] == [0, 1, 6]                        # rows: the first line of each column, side by side


def test_columns_keep_their_order_on_a_skewed_page_and_at_any_scale():
    page = column_page(skew=0.05)                          # a photo of the page, 3 degrees off level
    assert read(page, "columns") == list(range(len(page)))
    for scale in (0.3, 3.0):
        assert read([b * scale for b in page], "columns") == list(range(len(page)))


def test_a_double_spaced_column_and_a_title_near_one_column_stay_apart():
    # lines 1.3 heights apart (double spacing) are still one column; a title 32 px above the left column and 35 px
    # above the right one is the next line up of both, so it is chained to neither
    page = column_page(pitch=60, height=26)
    page[0] = rect(50, 28, 700, 40)
    page[1 + 5:1 + 10] = [b + np.float32([0, 3]) for b in page[1 + 5:1 + 10]]
    assert read(page, "columns") == list(range(len(page)))


def test_a_line_split_in_two_inside_a_column_is_read_left_to_right():
    page = column_page()
    left, right = page[3].copy(), page[3].copy()            # the third line of the left column, in two boxes
    left[1:3, 0] = left[0, 0] + 150
    right[[0, 3], 0] = right[0, 0] + 200
    page = page[:3] + [left, right] + page[4:]
    assert read(page, "columns") == list(range(len(page)))


def test_receipts_tables_and_scattered_words_are_read_in_rows():
    """A column is cut off only where every column holds running text (COLUMN_ASPECT): a receipt's item names and
    prices, a table's cells and a photo's words keep the rows order."""
    receipt = []
    for r in range(8):
        receipt += [rect(40, 100 + r * 34, 300, 26), rect(520, 100 + r * 34, 80, 26)]    # item, price
    assert read(receipt, "columns") == read(receipt, "rows") == list(range(len(receipt)))
    table = [rect(40 + c * 200, 60 + r * 40, 120, 28) for r in range(5) for c in range(4)]
    assert read(table, "columns") == read(table, "rows")
    rng = np.random.default_rng(4)
    words = [rect(float(rng.uniform(0, 900)), float(rng.uniform(0, 900)), float(rng.uniform(30, 150)), 30)
             for _ in range(40)]
    assert read(words, "columns") == read(words, "rows")


def test_columns_of_running_text_beside_a_receipt_like_block_are_cut_only_where_it_is_text():
    """Two columns of text above a price list: the text is read column by column, the list row by row."""
    page = column_page(footer=False)
    prices = []
    for r in range(3):
        prices += [rect(50, 320 + r * 34, 300, 26), rect(800, 320 + r * 34, 80, 26)]
    page = page + prices
    assert read(page, "columns") == list(range(len(page)))


def test_columns_of_nothing_and_of_one_box():
    assert column_order([]) == []
    assert column_order([rect(0, 0, 100, 20)]) == [0]
    assert order_boxes([], "columns") == []


def test_columns_nested_deeper_than_the_recursion_limit():
    """Cuts nested level after level (fixtures.nested_cut_boxes). The cut keeps a stack of its own, so a nesting
    deeper than Python's recursion limit (lowered here) is read, in order."""
    import inspect
    import sys

    levels = 60
    boxes = fixtures.nested_cut_boxes(levels)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + levels)   # room for the call, not for one frame a level
    try:
        order = column_order(boxes)
    finally:
        sys.setrecursionlimit(limit)
    assert order == list(range(len(boxes)))
