"""Page orientation (use_doc_orientation_classify): the votes, the turn and its inverse, and the whole system on
pages turned every way."""
import numpy as np
import pytest

import fixtures
from paddle_pp.utils import page_orientation
from paddle_pp.utils.crop import get_rotate_crop_image
from paddle_pp.utils.page_orientation import OrientationVotes, count_votes, page_angle, points_before_turn, turn_image


def box(width, height, x=10.0, y=10.0):
    return np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], np.float32)


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_points_before_turn_undoes_turn_image_pixel_for_pixel(angle):
    img = np.random.default_rng(angle).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    turned = turn_image(img, angle)
    ys, xs = np.mgrid[0:turned.shape[0], 0:turned.shape[1]]
    points = np.stack([xs, ys], axis=-1).reshape(-1, 2)
    before = points_before_turn(points, angle, img.shape).astype(int)
    assert np.array_equal(turned[points[:, 1], points[:, 0]], img[before[:, 1], before[:, 0]])


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_points_after_turn_is_the_inverse(angle):
    shape = (37, 53, 3)
    points = np.random.default_rng(angle).uniform(0, 36, (10, 4, 2))
    turned_shape = turn_image(np.zeros(shape, np.uint8), angle).shape
    after = page_orientation.points_after_turn(points, angle, shape)
    assert np.allclose(points_before_turn(after, angle, shape), points)
    assert np.allclose(page_orientation.points_after_turn(points_before_turn(points, angle, shape), angle, shape),
                       points)
    assert after.max() <= max(turned_shape[:2])


def test_turn_image_is_counter_clockwise():
    img = np.zeros((2, 3), np.uint8)
    img[0, 2] = 1                                   # the top-right corner ...
    assert turn_image(img, 90)[0, 0] == 1           # ... is top-left after a quarter turn counter-clockwise
    assert turn_image(img, 270)[2, 1] == 1          # ... and bottom-right after three
    with pytest.raises(ValueError, match="one of"):
        turn_image(img, 45)


def test_boxes_vote_with_their_aspect_ratio_and_squarish_or_unsure_ones_abstain():
    boxes = [box(300, 30), box(30, 200), box(40, 35), box(500, 20)]
    votes = count_votes(boxes, [("0", 0.9), ("180", 1.0), ("0", 1.0), ("180", 0.6)])
    assert votes.wide == pytest.approx(10.0) and votes.tall == pytest.approx(200 / 30)
    assert votes.wide_upright == pytest.approx(9.0) and votes.wide_flipped == 0
    assert votes.tall_flipped == pytest.approx(200 / 30) and votes.tall_upright == 0


@pytest.mark.parametrize("votes, angle", [
    (OrientationVotes(wide=40, wide_upright=38), 0),
    (OrientationVotes(wide=40, wide_flipped=30, wide_upright=5), 180),
    (OrientationVotes(tall=40, wide=3, tall_upright=30, tall_flipped=2), 90),     # tall crops read upright once
    (OrientationVotes(tall=40, wide=3, tall_flipped=30, tall_upright=2), 270),    # turned counter-clockwise
    (OrientationVotes(tall=40, wide=30, tall_upright=40), 0),                     # no side wins by the margin
    (OrientationVotes(tall=8, tall_upright=8), 0),                                 # too little text to decide
    (OrientationVotes(wide=40, wide_flipped=20, wide_upright=15), 0),             # no direction wins
    (OrientationVotes(), 0),
])
def test_page_angle_turns_only_on_clear_votes(votes, angle):
    assert page_angle(votes) == angle


def test_clearly_upright_is_not_the_same_as_undecided():
    assert page_orientation.is_clearly_upright(OrientationVotes(wide=40, wide_upright=38))
    assert not page_orientation.is_clearly_upright(OrientationVotes(wide=4, wide_upright=4))


paddle = pytest.importorskip("paddle")
from paddle_pp import PPOCR  # noqa: E402


@pytest.fixture(scope="module")
def ocr(models_dir):
    return PPOCR(use_doc_orientation_classify=True)


@pytest.fixture(scope="module")
def plain(models_dir):
    return PPOCR()


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_turned_page_reads_as_the_upright_one_with_points_in_the_image_as_given(ocr, plain, angle):
    """A page turned clockwise by `angle` is turned back and read exactly as the upright page is read by the
    system without the option: the same lines in the same order, the same scores, and each point the upright
    point carried back into the turned image."""
    upright, _ = fixtures.document()
    expected = plain.system(upright)
    given = np.ascontiguousarray(np.rot90(upright, -angle // 90))   # clockwise: the system must turn it back
    read = ocr.system(given)
    assert read.angle == angle
    assert [r.transcription for r in read] == [r.transcription for r in expected]
    assert [r.score for r in read] == [r.score for r in expected]
    for got, want in zip(read, expected):
        assert got.points == points_before_turn(want.points, angle, given.shape).astype(int).tolist()


@pytest.mark.parametrize("angle", [90, 270])
def test_detection_only_gives_the_upright_pages_boxes_carried_back(ocr, plain, angle):
    """ocr(rec=False) with the option: the upright page's boxes in its reading order, in the image as given."""
    upright, _ = fixtures.document()
    expected = plain.ocr(upright, rec=False)[0]
    given = np.ascontiguousarray(np.rot90(upright, -angle // 90))
    boxes, turned = ocr.system.page_boxes(given)
    assert turned == angle and len(boxes) == len(expected)
    assert ocr.ocr(given, rec=False)[0] == [box.tolist() for box in boxes]
    for got, want in zip(boxes, expected):
        np.testing.assert_allclose(got, points_before_turn(want, angle, given.shape), atol=1e-3)
    assert plain.system.page_boxes(given)[1] == 0  # without the option: the page as given
    boxes, turned = ocr.system.page_boxes(upright)  # an upright page: the boxes as without the option
    assert turned == 0 and np.array_equal(np.asarray(boxes), np.asarray(plain.system.ordered_boxes(upright)))


def test_an_upright_page_reads_as_without_the_option(ocr, plain):
    for img in (fixtures.document()[0], fixtures.form()):
        read = ocr.system(img)
        assert read.angle == 0
        assert read == plain.system(img)


def test_word_boxes_are_carried_back_too(models_dir):
    upright, _ = fixtures.document()
    given = np.ascontiguousarray(np.rot90(upright, 1))              # counter-clockwise: turned back by 270
    expected = PPOCR(return_word_box=True).system(upright)
    read = PPOCR(return_word_box=True, use_doc_orientation_classify=True).system(given)
    assert read.angle == 270 and len(read) == len(expected)
    for got, want in zip(read, expected):
        assert [w.transcription for w in got.words] == [w.transcription for w in want.words]
        for got_word, want_word in zip(got.words, want.words):
            assert got_word.points == points_before_turn(want_word.points, 270, given.shape).astype(int).tolist()


def test_a_page_without_text_stays_as_it_is(ocr):
    read = ocr.system(np.full((300, 400, 3), 255, np.uint8))
    assert read == [] and read.angle == 0


def test_small_print_the_shrunk_page_loses_is_counted_at_full_size(ocr):
    """fixtures.small_print_page()'s 10 px lines vanish at the default resize when the second pass zooms at most 1.5
    times: the page's votes are counted again on what the detector finds at the image's own size, and the page is
    turned. (The default zoom, up to 3 times, finds them in the second pass already.)"""
    page = np.ascontiguousarray(np.rot90(fixtures.small_print_page(), -1))
    less_zoom = PPOCR(use_doc_orientation_classify=True, det_small_text_zoom=1.5)
    shrunk = less_zoom.system.detector(page)
    crops = [get_rotate_crop_image(page, b) for b in shrunk]
    assert page_angle(count_votes(shrunk, less_zoom.system.classifier(crops)[1] if crops else [])) == 0
    detector = less_zoom.system.detector
    assert len(detector(page, detector.full_size(page), "max")) >= len(fixtures.DOC_LINES)
    assert less_zoom.system(page).angle == 90
    assert ocr.system(page).angle == 90


def test_pages_report_their_angle_and_the_option_needs_the_classifier(ocr, plain, models_dir, tmp_path):
    import cv2

    upright, _ = fixtures.document()
    path = tmp_path / "sideways.png"
    cv2.imwrite(str(path), np.rot90(upright, -1))
    (page,) = list(ocr.pages(str(path)))
    assert page.angle == 90 and page.to_dict()["angle"] == 90
    assert ocr.ocr_results(np.rot90(upright, -1)).angle == 90
    assert "angle" not in list(plain.pages(str(path)))[0].to_dict()
    without_lines_cls = PPOCR(use_angle_cls=False, use_doc_orientation_classify=True)
    assert without_lines_cls.system.classifier is not None and not without_lines_cls.system.use_angle_cls
    assert without_lines_cls.system(np.rot90(upright, 2)).angle == 180
    with pytest.raises(ValueError, match="use_doc_orientation_classify"):
        PPOCR(use_doc_orientation_classify="maybe")


def test_eval_orientation_turns_each_image_four_ways(models_dir, tmp_path, capsys):
    import cv2

    from paddle_pp.tools import eval_orientation

    cv2.imwrite(str(tmp_path / "doc.png"), fixtures.document()[0])
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((200, 300, 3), 255, np.uint8))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert eval_orientation.main(["--image_dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "images: 2 (1 unreadable)" in out
    assert "upright images turned: 0 of 2" in out
    assert "turned images: right 3, left as they are 3, wrong 0, of 6" in out   # the blank page says nothing
    assert "blank.png: turned 90, decided 0" in out
    labels = tmp_path / "labels.txt"
    labels.write_text("nowhere.jpg\t[]\n")
    assert eval_orientation.main(["--label_file", str(labels), "--data_dir", str(tmp_path)]) == 1
    assert "nowhere.jpg" in capsys.readouterr().err


def test_the_text_of_a_turned_page_has_the_rows_of_the_upright_page(ocr, tmp_path):
    """txt output (and batch's `text`) groups lines into rows: on a page turned upright, the upright page's rows,
    though the points are in the page as given."""
    import cv2

    from paddle_pp.output.txt import page_text

    cv2.imwrite(str(tmp_path / "upright.png"), fixtures.form())
    cv2.imwrite(str(tmp_path / "sideways.png"), np.rot90(fixtures.form(), 1))
    (upright,) = ocr.pages(str(tmp_path / "upright.png"))
    (sideways,) = ocr.pages(str(tmp_path / "sideways.png"))
    assert sideways.angle == 270
    assert page_text(sideways) == page_text(upright)
    assert len(page_text(upright).splitlines()) == len(fixtures.FORM_ROWS)
