"""postprocess/det_join.py: which boxes are pieces of a split line, how far the far pass shrinks, what it joins."""
import numpy as np
import pytest

from paddle_pp.postprocess import det_join


def box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def turned(b: np.ndarray, degrees: float) -> np.ndarray:
    """The box turned about its centre."""
    t = np.radians(degrees)
    rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = b.mean(axis=0)
    return ((b - centre) @ rotation.T + centre).astype(np.float32)


def test_box_geometry_of_a_turned_box():
    centre, unit, length, height = det_join.box_geometry(turned(box(0, 0, 200, 40), 30))
    assert np.allclose(centre, [100, 20]) and np.allclose(unit, [np.cos(np.radians(30)), np.sin(np.radians(30))])
    assert length == pytest.approx(200, abs=1e-3) and height == pytest.approx(40, abs=1e-3)


@pytest.mark.parametrize("second, neighbours", [
    (box(220, 0, 400, 40), True),      # 20 px apart: half of 40 is the most
    (box(180, 2, 400, 42), True),      # overlapping
    (box(221, 0, 400, 40), False),     # 21 px apart
    (box(210, 25, 400, 65), False),    # 25 px lower: more than half a height across the line
    (box(210, 0, 400, 61), False),     # 61 px high: more than 1.5 times 40
    (box(210, 0, 400, 60), True),      # 60 px: 1.5 times
])
def test_neighbours_on_one_line(second, neighbours):
    first = box(0, 0, 200, 40)
    assert det_join.are_neighbours(first, second) is neighbours
    assert det_join.are_neighbours(second, first) is neighbours


def test_neighbours_point_the_same_way():
    first, second = box(0, 0, 200, 40), box(210, 0, 410, 40)
    assert det_join.are_neighbours(first, turned(second, 9))
    assert not det_join.are_neighbours(first, turned(second, 12))
    # a turned line's pieces are neighbours along it
    assert det_join.are_neighbours(turned(first, 40), turned(second, 40)) is False   # each turned about its centre
    line = turned(box(0, 0, 410, 40), 40)
    left, right = line.copy(), line.copy()
    left[1], left[2] = line[0] + (line[1] - line[0]) * 0.48, line[3] + (line[2] - line[3]) * 0.48
    right[0], right[3] = line[0] + (line[1] - line[0]) * 0.52, line[3] + (line[2] - line[3]) * 0.52
    assert det_join.are_neighbours(left, right)


def test_split_line_boxes_are_large_neighbours():
    boxes = [box(0, 0, 200, 40), box(210, 0, 400, 40),       # a split title
             box(0, 100, 300, 120), box(310, 100, 500, 120),  # small print side by side: not large
             box(600, 0, 700, 40)]                            # large, alone
    heights = det_join.input_heights(boxes, 1.0)
    assert list(heights) == [40, 40, 20, 20, 40]
    assert det_join.split_line_boxes(boxes, heights, 28) == [0, 1]
    assert det_join.split_line_boxes(boxes, heights * 0.5, 28) == []   # 20 px at the input
    assert det_join.split_line_boxes(boxes, heights, 15) == [0, 1, 2, 3]


def test_far_long_side_brings_the_median_to_the_height():
    heights = np.array([40.0, 36.0, 60.0, 10.0])
    assert det_join.far_long_side(heights, [0, 1], 18, 960) == round(960 * 18 / 38)
    assert det_join.far_long_side(heights, [0, 1, 2], 18, 960) == 432
    assert det_join.far_long_side(heights, [0, 1], 40, 960) == 0        # it would not shrink
    assert det_join.far_long_side(heights, [0, 1], 1, 960) == det_join.MIN_FAR_SIDE


def test_a_far_box_joins_the_pieces_it_holds():
    title = [box(0, 0, 200, 40), box(190, 2, 400, 42)]
    other = [box(0, 100, 300, 130), box(500, 0, 600, 40)]
    boxes = np.array(title[:1] + other[:1] + title[1:] + other[1:])
    heights = det_join.input_heights(boxes, 1.0)
    far = np.array([box(-2, -1, 402, 43), box(0, 98, 300, 132)])      # the title whole; the line seen again
    joined = det_join.join_split_lines(boxes, far, heights, 28)
    assert np.array_equal(joined, np.array([other[0], other[1], far[0]]))


@pytest.mark.parametrize("far_box, why", [
    (box(-2, -1, 402, 80), "two lines' height"),
    (box(-2, -1, 620, 43), "a box that is no neighbour (120 px apart)"),
    (box(-2, -1, 150, 43), "one piece"),
])
def test_a_far_box_joins_nothing_else(far_box, why):
    boxes = np.array([box(0, 0, 200, 40), box(190, 2, 400, 42), box(520, 0, 600, 40)])
    heights = det_join.input_heights(boxes, 1.0)
    assert np.array_equal(det_join.join_split_lines(boxes, np.array([far_box]), heights, 28), boxes), why


def test_pieces_too_small_are_not_joined():
    boxes = np.array([box(0, 0, 200, 40), box(190, 2, 400, 42)])
    far = np.array([box(-2, -1, 402, 43)])
    assert len(det_join.join_split_lines(boxes, far, det_join.input_heights(boxes, 0.5), 28)) == 2
    assert len(det_join.join_split_lines(boxes, far, det_join.input_heights(boxes, 1.0), 28)) == 1
