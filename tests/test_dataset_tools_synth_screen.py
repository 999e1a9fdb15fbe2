"""paddle_pp/dataset_tools/synth_screen.py: screenshots rendered by headless Chromium, labelled from its layout."""
import json
import shutil

import cv2
import numpy as np
import pytest

from paddle_pp.dataset_tools import synth_screen

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                   reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")
pytest.importorskip("selenium.webdriver")


def _labels(out):
    rows = [line.split("\t") for line in (out / "label.txt").read_text(encoding="utf-8").splitlines()]
    return {name: json.loads(labels) for name, labels in rows}


@pytest.fixture(scope="module")
def screens(tmp_path_factory):
    out = tmp_path_factory.mktemp("screens")
    code = synth_screen.main(["--num", "2", "--out", str(out), "--seed", "3", "--size", "800x600", "--no_progress"])
    assert code == 0
    return out


@needs_browser
def test_pages_are_light_and_dark_screenshots_of_the_size_asked(screens):
    labels = _labels(screens)
    assert list(labels) == ["images/0000_light.png", "images/0001_dark.png"]
    for name in labels:
        image = cv2.imread(str(screens / name))
        assert image.shape == (600, 800, 3)
    light, dark = (cv2.imread(str(screens / name), cv2.IMREAD_GRAYSCALE) for name in labels)
    assert np.median(light) > 200 and np.median(dark) < 60     # the themes' backgrounds
    assert (screens / "montage.png").is_file()


@needs_browser
def test_every_label_box_holds_its_text_and_lies_in_the_screenshot(screens):
    for name, labels in _labels(screens).items():
        gray = cv2.imread(str(screens / name), cv2.IMREAD_GRAYSCALE)
        background = float(np.median(gray))
        assert len(labels) >= 15, name
        for label in labels:
            assert label["transcription"].strip()
            (left, top), _, (right, bottom), _ = label["points"]
            assert 0 <= left < right <= 800 and 0 <= top < bottom <= 600, label
            box = gray[top:bottom, left:right].astype(float)
            # glyphs: pixels far from the page's background inside every box (text in a field or button sits on
            # a panel a little off the background, so the ink must stand out by more than that)
            assert np.abs(box - background).max() > 60, (name, label)


@needs_browser
def test_the_same_seed_gives_the_same_pages_and_an_existing_set_is_kept(screens, tmp_path, capsys):
    again = tmp_path / "again"
    assert synth_screen.main(["--num", "2", "--out", str(again), "--seed", "3", "--size", "800x600",
                              "--no_progress", "--montage", "0"]) == 0
    assert _labels(again) == _labels(screens)
    before = (again / "label.txt").read_bytes()
    assert synth_screen.main(["--num", "1", "--out", str(again), "--seed", "4", "--no_progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (again / "label.txt").read_bytes() == before


@needs_browser
def test_a_hidpi_screen_gives_the_same_page_at_twice_the_pixels(screens, tmp_path):
    hidpi = tmp_path / "hidpi"
    assert synth_screen.main(["--num", "1", "--out", str(hidpi), "--seed", "3", "--size", "800x600", "--scale", "2",
                              "--no_progress", "--montage", "0"]) == 0
    assert cv2.imread(str(hidpi / "images" / "0000_light.png")).shape == (1200, 1600, 3)
    (name, labels), = _labels(hidpi).items()
    plain = _labels(screens)[name]
    assert [label["transcription"] for label in labels] == [label["transcription"] for label in plain]
    # the same layout, every box twice as large (each grown to whole pixels: within 2 of twice the plain one)
    doubled = np.array([label["points"] for label in plain]) * 2
    assert np.abs(np.array([label["points"] for label in labels]) - doubled).max() <= 2


@needs_browser
def test_the_system_reads_the_screenshots(screens, models_dir):
    from paddle_pp import PPOCR

    ocr = PPOCR(lang="en")
    for name, labels in _labels(screens).items():
        read = {"".join(line["transcription"].split()) for line in ocr(str(screens / name))}
        wanted = ["".join(label["transcription"].split()) for label in labels]
        assert sum(text in read for text in wanted) >= 0.7 * len(wanted), name


def test_a_missing_browser_or_a_bad_size_is_a_clear_error(tmp_path, capsys):
    code = synth_screen.main(["--num", "1", "--out", str(tmp_path / "s"), "--chromium", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 2 and "chromium browser not found" in err and "apt-get install chromium" in err
    with pytest.raises(SystemExit):
        synth_screen.main(["--num", "1", "--out", str(tmp_path / "s"), "--size", "big"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "s" / "label.txt").exists()
