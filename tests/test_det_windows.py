"""postprocess/det_windows.py: the windows a long image is cut into, and how their boxes are joined."""
import numpy as np
import pytest

from paddle_pp.postprocess.det_windows import merge_window_boxes, window_spans


def _quad(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def _extents(boxes):
    return sorted((int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 0].max()), int(b[:, 1].max())) for b in boxes)


@pytest.mark.parametrize("length, window, overlap", [(9055, 4000, 220), (16000, 4376, 350), (4001, 4000, 100),
                                                     (12000, 4000, 120), (20000, 3000, 2900)])
def test_window_spans_cover_the_image_with_equal_overlapping_windows(length, window, overlap):
    spans = window_spans(length, window, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(end - start == window for start, end in spans)
    overlaps = [earlier[1] - later[0] for earlier, later in zip(spans, spans[1:])]
    assert min(overlaps) >= min(overlap, window // 2)          # at most half a window: never a wasted window
    assert max(overlaps) - min(overlaps) <= 1                  # spread evenly
    # no fewer windows would do
    assert (len(spans) - 2) * (window - min(overlap, window // 2)) + window < length


def test_an_image_within_one_window_is_one_span():
    assert window_spans(3000, 4000, 500) == [(0, 3000)]
    assert window_spans(4000, 4000, 500) == [(0, 4000)]


# three windows of a tall image 0..10000: [0, 4000), [3000, 7000), [6000, 10000); bands 3000-4000 and 6000-7000
SPANS = [(0, 4000), (3000, 7000), (6000, 10000)]
SHAPE = (10000, 600)


def test_lines_seen_whole_in_the_band_are_kept_once():
    line = _quad(20, 3400, 500, 3430)                 # inside the first band: both windows see it whole
    near = _quad(22, 3401, 498, 3431)                 # the later window's box of it, a pixel apart
    first = [_quad(20, 100, 500, 130), line]
    second = [near, _quad(20, 5000, 500, 5030)]
    merged = merge_window_boxes([np.stack(first), np.stack(second), np.zeros((0, 4, 2), np.float32)], SPANS, 0,
                                SHAPE)
    assert _extents(merged) == [(20, 100, 500, 130), (20, 3400, 500, 3430), (20, 5000, 500, 5030)]


def test_different_lines_in_the_band_are_all_kept():
    first = np.stack([_quad(20, 3400, 300, 3430)])
    second = np.stack([_quad(320, 3400, 580, 3430), _quad(20, 3400, 300, 3430)])   # another word of that row
    merged = merge_window_boxes([first, second, np.zeros((0, 4, 2), np.float32)], SPANS, 0, SHAPE)
    assert _extents(merged) == [(20, 3400, 300, 3430), (320, 3400, 580, 3430)]


def test_a_line_cut_by_a_window_is_taken_from_the_window_that_saw_it_whole():
    # across the first window's end (4000): that window has the top of it, ending at its cut, the later one all
    across_end = (_quad(20, 3985, 500, 3999), _quad(20, 3985, 500, 4015))
    # near that end, whole: the first window's box ends short of the cut by less than its height (DB's map fades
    # at a window's edge), so it counts as cut there; the later window sees it far from its own cuts
    near_end = (_quad(20, 3935, 500, 3975), _quad(20, 3935, 500, 3975))
    # across the later window's start (3000): the first window has all of it, the later one its bottom
    across_start = (_quad(20, 2990, 500, 3025), _quad(20, 3000, 500, 3025))
    first = np.stack([across_end[0], near_end[0], across_start[0]])
    second = np.stack([across_end[1], near_end[1], across_start[1]])
    merged = merge_window_boxes([first, second, np.zeros((0, 4, 2), np.float32)], SPANS, 0, SHAPE)
    assert _extents(merged) == [(20, 2990, 500, 3025), (20, 3935, 500, 3975), (20, 3985, 500, 4015)]


def test_a_line_seen_in_part_yields_to_the_window_that_saw_all_of_it():
    # text running along the cut (a vertical line): the first window found it in two pieces that end 40 px short of
    # its cut (4000), where DB's map faded: not within a height (28 px) of the cut, so seen "whole"; the later window
    # has all of it, a little past the first window's end. The later window's box stands, the pieces go.
    first = np.stack([_quad(100, 3718, 128, 3907), _quad(104, 3893, 126, 3960), _quad(40, 3500, 70, 3700)])
    second = np.stack([_quad(100, 3719, 128, 4003), _quad(40, 3500, 70, 3700)])
    merged = merge_window_boxes([first, second, np.zeros((0, 4, 2), np.float32)], SPANS, 0, SHAPE)
    assert _extents(merged) == [(40, 3500, 70, 3700), (100, 3719, 128, 4003)]
    # the same boxes given in another order: the same result
    merged = merge_window_boxes([first[::-1], second[::-1], np.zeros((0, 4, 2), np.float32)], SPANS, 0, SHAPE)
    assert _extents(merged) == [(40, 3500, 70, 3700), (100, 3719, 128, 4003)]


def test_a_line_longer_than_the_band_is_joined_across_windows():
    # a wide image (windows side by side, axis 1): one line from x 40 to 9500 crosses both bands; each window
    # has a piece of it, ending short of its cuts. A second line ends inside the first window.
    spans = [(0, 4000), (3000, 7000), (6000, 10000)]
    shape = (240, 10000)
    first = np.stack([_quad(40, 40, 3985, 70), _quad(40, 120, 2000, 150)])
    second = np.stack([_quad(3004, 41, 6990, 71)])
    third = np.stack([_quad(6003, 40, 9500, 70)])
    merged = merge_window_boxes([first, second, third], spans, 1, shape)
    assert _extents(merged) == [(40, 40, 9500, 70), (40, 120, 2000, 150)]   # the first piece's start, the last's end


def test_a_piece_with_no_partner_is_kept_and_nothing_found_is_nothing():
    spans, shape = [(0, 4000), (3000, 7000)], (240, 7000)
    # the later window found nothing of a line crossing its start: the first window's piece stands
    merged = merge_window_boxes([np.stack([_quad(1000, 40, 3990, 70)]), np.zeros((0, 4, 2), np.float32)], spans,
                                1, shape)
    assert _extents(merged) == [(1000, 40, 3990, 70)]
    empty = merge_window_boxes([np.zeros((0, 4, 2), np.float32)] * 2, spans, 1, shape)
    assert empty.shape == (0, 4, 2) and empty.dtype == np.float32
