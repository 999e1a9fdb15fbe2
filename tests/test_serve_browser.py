"""The web page in a real browser: Debian's chromium + chromium-driver (installed by .ci/run), driven by Selenium.

Opens /, uploads the demo receipt, waits for the boxes, checks the text list and the hover highlight, and takes a
screenshot whose path is printed (a CI artifact: $PADDLE_PP_ARTIFACTS, else the test's temporary directory).
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
    lines = [li.text.rsplit(None, 1)[0] for li in browser.find_elements(By.CSS_SELECTOR, "#lines li.line")]
    boxes = browser.find_elements(By.CSS_SELECTOR, "#boxes polygon")
    assert len(lines) == len(boxes) >= 8
    joined = " ".join(lines).replace(" ", "")
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
