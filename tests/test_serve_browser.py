"""The web page in a real browser: Debian's chromium + chromium-driver (installed by .ci/run), driven by Selenium.

Opens /, uploads the demo receipt, waits for the boxes, checks the text list and the hover highlight, and takes a
screenshot whose path is printed (a CI artifact: $PADDLE_PP_ARTIFACTS, else the test's temporary directory);
uploads a generated 2-page PDF with word boxes asked for and pages through it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("uvicorn")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import fixtures  # noqa: E402
import numpy as np  # noqa: E402
from paddle_pp.resources import DEMO_IMAGES_DIR  # noqa: E402
from serve_server import Server  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs chromium and chromium-driver (apt-get install chromium chromium-driver)")
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    srv = Server(["--workers", "1"], models_dir, tmp_path_factory.mktemp("serve_browser"))
    yield srv
    srv.stop()


@pytest.fixture()
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def test_web_page_uploads_the_receipt_and_shows_boxes_and_text(server, browser, tmp_path):
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(DEMO_IMAGES_DIR / "receipt_en.jpg"))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#boxes polygon"))
    lines = shown_lines(browser)          # the texts without their scores (the score is not after a space)
    boxes = browser.find_elements(By.CSS_SELECTOR, "#boxes polygon")
    assert len(lines) == len(boxes) >= 8
    joined = "".join(lines)
    for word in ("GROCERYMART", "Invoice", "FreshMilk", "TOTAL"):
        assert word in joined
    assert "receipt_en.jpg" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "page-image").get_attribute("naturalWidth") == "720"

    # hovering a line highlights its box, and only that one
    ActionChains(browser).move_to_element(browser.find_elements(By.CSS_SELECTOR, "#lines li.line")[2]).perform()
    active = browser.find_elements(By.CSS_SELECTOR, "#boxes polygon.active")
    assert [p.get_attribute("data-line") for p in active] == ["2"]
    assert browser.find_element(By.ID, "copy").is_enabled() and browser.find_element(By.ID, "download").is_enabled()
    assert not browser.find_element(By.ID, "pager").is_displayed()   # one page: no pager

    artifacts = Path(os.environ.get("PADDLE_PP_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "serve_web_page.png"
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def test_web_page_shows_a_server_error(server, browser, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    status = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#status.error"))
    assert status.text.startswith("Error 422") and "not a decodable image" in status.text


def shown_lines(browser, spaces=False):
    """The listed lines' texts, without spaces unless asked (each item's first text node: its score follows in a
    span)."""
    texts = browser.execute_script(
        "return [...document.querySelectorAll('#lines li.line')].map((li) => li.firstChild.textContent);")
    return texts if spaces else [text.replace(" ", "") for text in texts]


def test_web_page_pages_through_a_pdf_with_word_boxes(server, browser, tmp_path):
    two_pages = fixtures.PDF_PAGE_LINES[:2]
    pdf = fixtures.text_pdf(tmp_path / "two.pdf", pages=two_pages, rotate=(0, 0), turned=(False, False),
                            blank_after=False)
    browser.get(server.url + "/")
    browser.find_element(By.ID, "words").click()
    browser.find_element(By.ID, "file").send_keys(str(pdf))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#boxes polygon"))
    assert browser.find_element(By.ID, "pager").is_displayed()
    assert browser.find_element(By.ID, "page-label").text == "page 1 of 2"
    assert shown_lines(browser) == [line.replace(" ", "") for line in two_pages[0]]
    image = browser.find_element(By.ID, "page-image")
    assert image.get_attribute("naturalWidth") == "1167"     # 420 points at the server's 200 dpi
    first_src = image.get_attribute("src")
    lines = browser.find_elements(By.CSS_SELECTOR, "#boxes polygon:not(.word)")
    words = browser.find_elements(By.CSS_SELECTOR, "#boxes polygon.word")
    assert len(lines) == 3 and len(words) == sum(len(text.split()) for text in shown_lines(browser, spaces=True))
    assert words[0].value_of_css_property("stroke-width") == "1px"

    browser.find_element(By.ID, "next").click()
    wait.until(lambda d: d.find_element(By.ID, "page-label").text == "page 2 of 2")
    assert shown_lines(browser) == [line.replace(" ", "") for line in two_pages[1]]
    assert image.get_attribute("src") != first_src and image.get_attribute("naturalWidth") == "1167"
    assert not browser.find_element(By.ID, "next").is_enabled() and browser.find_element(By.ID, "prev").is_enabled()
    artifacts = Path(os.environ.get("PADDLE_PP_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "serve_web_page_pdf.png"
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def test_web_page_turn_pages_option_reads_a_sideways_page_upright(server, browser, tmp_path):
    import cv2

    img, lines = fixtures.document()
    page = tmp_path / "sideways.png"
    cv2.imwrite(str(page), np.rot90(img, -1))
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(page))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: "sideways.png: 1 page" in d.find_element(By.ID, "status").text)
    expected = [line.replace(" ", "") for line in lines]
    assert shown_lines(browser) != expected                    # read as sent: the last line first
    browser.find_element(By.ID, "turn-pages").click()           # the same file again, turned upright first
    wait.until(lambda d: shown_lines(d) == expected)
    assert browser.find_element(By.ID, "page-image").get_attribute("naturalWidth") == str(img.shape[0])


def test_web_page_light_text_option_reads_white_text_on_a_transparent_png(server, browser, tmp_path):
    import cv2

    img, lines = fixtures.document()
    page = tmp_path / "logo.png"
    cv2.imwrite(str(page), fixtures.white_text_on_transparency(img))
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(page))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: "logo.png: 1 page, 0 lines" in d.find_element(By.ID, "status").text)  # white on white
    browser.find_element(By.ID, "light-text").click()           # the same file again, over black and inverted
    wait.until(lambda d: shown_lines(d) == [line.replace(" ", "") for line in lines])


def test_web_page_columns_option_lists_a_two_column_page_column_by_column(server, browser, tmp_path):
    import cv2

    img, lines = fixtures.two_column_page()
    page = tmp_path / "article.png"
    cv2.imwrite(str(page), img)
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(page))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: "article.png: 1 page" in d.find_element(By.ID, "status").text)
    starts = lambda d: [line[:5] for line in shown_lines(d)]  # noqa: E731
    expected = [line.replace(" ", "")[:5] for line in lines]
    assert starts(browser)[:3] == [expected[0], expected[1], expected[5]]     # rows: across the gutter
    browser.find_element(By.ID, "columns").click()              # the same file again, read column by column
    wait.until(lambda d: starts(d) == expected)


def test_web_page_as_paddleocr_option_shows_paddleocrs_results(server, browser, tmp_path):
    """A word cropped tight to its ink: the defaults read it (inside a border); as PaddleOCR, nothing is found."""
    import cv2

    page = tmp_path / "word.png"
    cv2.imwrite(str(page), fixtures.tight_crops()[1])           # TOTAL 27.30
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(page))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: shown_lines(d) == ["TOTAL27.30"])
    browser.find_element(By.ID, "as-paddleocr").click()         # the same file again, as PaddleOCR reads it
    wait.until(lambda d: "word.png: 1 page, 0 lines" in d.find_element(By.ID, "status").text)


def test_web_page_small_text_option_reads_small_print(server, browser, tmp_path):
    import cv2

    page = tmp_path / "small_print.png"
    cv2.imwrite(str(page), fixtures.headline_over_small_print())
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(page))
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: "small_print.png: 1 page" in d.find_element(By.ID, "status").text)
    assert "TOTAL27.30" not in shown_lines(browser)          # shrunk to 960 px, only the headline is found
    browser.find_element(By.ID, "small-text").click()         # the same file again, at its own size
    wait.until(lambda d: "TOTAL27.30" in shown_lines(d))
    assert "Order2026-0142" in shown_lines(browser)
    assert browser.find_element(By.ID, "page-image").get_attribute("naturalWidth") == "3200"
