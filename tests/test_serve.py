"""paddle-pp serve over real HTTP: the server runs in a subprocess on an ephemeral port (tests/serve_server.py).

One server (1 worker, queue 4, an API key, CORS for one origin, small limits) answers most tests; the graceful
shutdown test starts its own. Images are rendered by the tests (tests/fixtures.py).
"""
from __future__ import annotations

import base64
import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import cv2
import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import fixtures  # noqa: E402
from fixtures import document  # noqa: E402
from serve_server import Server  # noqa: E402

KEY = "test-key-5d1f"
AUTH = {"X-API-Key": KEY}
ORIGIN = "http://allowed.example"
MAX_UPLOAD = 300_000
MAX_PIXELS = 4_000_000
READ_TIMEOUT = 2
QUEUE = 4
MAX_PAGES = 3
PDF_DPI = "100"      # small pages: the document tests stay quick (the 22 pt text is still 30 px high)
TWO_PAGES = fixtures.PDF_PAGE_LINES[:2]


def jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


@pytest.fixture(scope="module")
def doc():
    img, lines = document()
    return jpeg(img), lines


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    srv = Server(["--workers", "1", "--cpu_threads", "1", "--queue_size", str(QUEUE), "--api_key", KEY,
                  "--cors_origin", ORIGIN, "--max_upload_bytes", str(MAX_UPLOAD), "--max_json_bytes", "500000",
                  "--max_pixels", str(MAX_PIXELS), "--max_images", "2", "--max_pages", str(MAX_PAGES),
                  "--read_timeout", str(READ_TIMEOUT),
                  "--timeout", "60", "--retry_after", "1"],
                 models_dir, tmp_path_factory.mktemp("serve"))
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        yield c


def texts(body):
    return [line["text"] for page in body["pages"] for line in page["lines"]]


def squeezed(lines):
    return [t.replace(" ", "") for t in lines]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    """Generated PDFs (bytes): two pages of text, and four pages encrypted with the password 'secret'."""
    folder = tmp_path_factory.mktemp("pdfs")
    two = fixtures.text_pdf(folder / "two.pdf", pages=TWO_PAGES, rotate=(0, 0), turned=(False, False),
                            blank_after=False)
    locked = fixtures.text_pdf(folder / "locked.pdf", password="secret")
    return {"two": two.read_bytes(), "locked": locked.read_bytes()}


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]["message"]


# ---------------------------------------------------------------- endpoints

def test_ocr_multipart_gives_pages_with_lines(client, doc):
    data, lines = doc
    r = client.post("/ocr", files={"file": ("receipt.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"pages", "timing_ms"}
    (page,) = body["pages"]
    assert (page["page"], page["id"], page["width"], page["height"]) == (1, "receipt.jpg", 640, 420)
    assert "TOTAL27.30" in [t.replace(" ", "") for t in texts(body)]
    for line in page["lines"]:
        assert set(line) == {"text", "score", "points"} and 0 <= line["score"] <= 1
        assert np.asarray(line["points"]).shape == (4, 2)
    assert body["timing_ms"]["total"] >= body["timing_ms"]["ocr"] > 0


def test_ocr_json_base64_raw_body_and_txt_agree(client, doc):
    data, _ = doc
    multipart = texts(client.post("/ocr", files={"file": ("a.jpg", data)}).json())
    as_json = client.post("/ocr", json={"image": base64.b64encode(data).decode()})
    raw = client.post("/ocr", content=data, headers={"Content-Type": "image/jpeg"})
    assert texts(as_json.json()) == texts(raw.json()) == multipart and len(multipart) >= 3
    txt = client.post("/ocr?format=txt", content=data, headers={"Content-Type": "image/jpeg"})
    assert txt.headers["content-type"].startswith("text/plain") and txt.text.splitlines() == multipart
    accept = client.post("/ocr", content=data, headers={"Content-Type": "image/jpeg", "Accept": "text/plain"})
    assert accept.text == txt.text


def test_per_request_options_change_the_result_and_are_not_kept(client, doc):
    data, _ = doc
    base = texts(client.post("/ocr", files={"file": ("a.jpg", data)}).json())
    strict = client.post("/ocr?drop_score=1&use_angle_cls=false", files={"file": ("a.jpg", data)})
    assert strict.status_code == 200 and texts(strict.json()) == []
    assert texts(client.post("/ocr", files={"file": ("a.jpg", data)}).json()) == base  # the worker was restored


def test_a_sideways_page_is_turned_upright_on_request(client, doc):
    """Both read as cut (rec_unsure_blur=0): the two JPEGs' pixels differ, and of the turned page's unsure first
    line (`Order2026-0142`, 0.943) the blurred second read makes `Qrder2026-0142` (0.971)."""
    data, _ = doc
    upright = client.post("/ocr?rec_unsure_blur=0", files={"file": ("a.jpg", data)}).json()
    img, _ = document()
    sideways = jpeg(np.ascontiguousarray(np.rot90(img, -1)))
    turned = client.post("/ocr?use_doc_orientation_classify=true&rec_unsure_blur=0",
                         files={"file": ("s.jpg", sideways)}).json()
    assert turned["pages"][0]["angle"] == 90
    assert squeezed(texts(turned)) == squeezed(texts(upright))
    as_given = client.post("/ocr", files={"file": ("s.jpg", sideways)}).json()["pages"][0]
    assert "angle" not in as_given        # the option was the request's only


def test_include_image_gives_the_page_as_jpeg(client, doc):
    data, _ = doc
    page = client.post("/ocr?include_image=true", files={"file": ("a.jpg", data)}).json()["pages"][0]
    prefix = "data:image/jpeg;base64,"
    assert page["image"].startswith(prefix)
    img = cv2.imdecode(np.frombuffer(base64.b64decode(page["image"][len(prefix):]), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (page["height"], page["width"])


def test_image_options_read_light_text_and_answer_the_page_as_sent(client):
    """PaddleOCR's image options as query options: white text on a transparent PNG is read over black
    (alphacolor), a negative is read inverted (invert, then binarize); the page image answered is the upload as
    decoded, not the adjusted one; a bad value is a 422 naming the option."""
    img, lines = document()
    png = cv2.imencode(".png", fixtures.white_text_on_transparency(img))[1].tobytes()
    send = lambda query: client.post("/ocr" + query, files={"file": ("logo.png", png)})  # noqa: E731
    assert texts(send("").json()) == []                                      # white on white: nothing
    read = send("?alphacolor=0,0,0&invert=true&binarize=true&include_image=true")
    assert read.status_code == 200, read.text
    assert squeezed(lines)[0] in squeezed(texts(read.json()))
    page = read.json()["pages"][0]["image"]
    shown = cv2.imdecode(np.frombuffer(base64.b64decode(page.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert shown[5, 5].max() < 50                                             # the black ground, not inverted
    assert texts(send("").json()) == []                                      # the options were the request's
    message = assert_error(send("?alphacolor=0,0"), 422, "bad_option")
    assert "alphacolor" in message


def test_hubserving_request_as_paddleocr_documents_it(server, doc):
    """PaddleOCR's tools/test_hubserving.py: requests.post(url, headers={"Content-type": "application/json"},
    data=json.dumps({"images": [cv2_to_base64(img)]})), then r.json()["results"][0]."""
    data, _ = doc
    payload = json.dumps({"images": [base64.b64encode(data).decode("utf8")]})
    r = httpx.post(server.url + "/predict/ocr_system", headers={"Content-type": "application/json", **AUTH},
                   content=payload, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "000" and body["msg"] == ""
    results = body["results"][0]
    assert len(results) >= 3
    for item in results:
        assert set(item) == {"text", "confidence", "text_region"}
        assert np.asarray(item["text_region"]).shape == (4, 2)
    bad = httpx.post(server.url + "/predict/ocr_system", headers={"Content-type": "application/json", **AUTH},
                     content=json.dumps({"images": ["not base64!"]}), timeout=60)
    assert bad.status_code == 400 and bad.json()["status"] == "400" and bad.json()["results"] == []
    assert bad.json()["error"]["code"] == "bad_base64"


# ---------------------------------------------------------------- documents: PDF and TIFF pages, formats

def test_pdf_upload_gives_its_pages_with_word_boxes(client, pdfs):
    r = client.post(f"/ocr?pdf_dpi={PDF_DPI}&return_word_box=true", files={"file": ("two.pdf", pdfs["two"])})
    assert r.status_code == 200, r.text
    pages = r.json()["pages"]
    assert [(p["page"], p["id"]) for p in pages] == [(1, "two.pdf#page=1"), (2, "two.pdf#page=2")]
    assert (pages[0]["width"], pages[0]["height"]) == (584, 417)      # 420x300 points at 100 dpi
    for page, expected in zip(pages, TWO_PAGES):
        assert squeezed(line["text"] for line in page["lines"]) == squeezed(expected)
    for line in pages[0]["lines"]:
        assert line["words"] and " ".join(w["text"] for w in line["words"]) == line["text"]
        for word in line["words"]:
            assert set(word) == {"text", "score", "points"} and np.asarray(word["points"]).shape == (4, 2)
    assert squeezed(texts(client.post(f"/ocr?pdf_dpi={PDF_DPI}", files={"file": ("two.pdf", pdfs["two"])}).json())) \
        == squeezed(TWO_PAGES[0] + TWO_PAGES[1]) and "words" not in str(client.post(  # not asked: no words
            f"/ocr?pdf_dpi={PDF_DPI}&pages=1", files={"file": ("two.pdf", pdfs["two"])}).json())


def test_pages_selection_with_a_missing_page_fails_that_page_alone(client, pdfs):
    b64 = base64.b64encode(pdfs["two"]).decode()
    r = client.post(f"/ocr?pdf_dpi={PDF_DPI}&pages=2,5&include_image=true", json={"image": b64, "name": "two.pdf"})
    assert r.status_code == 200, r.text
    second, missing = r.json()["pages"]
    assert second["page"] == 2 and squeezed(line["text"] for line in second["lines"]) == squeezed(TWO_PAGES[1])
    assert second["image"].startswith("data:image/jpeg;base64,")     # what the web page draws each page on
    assert missing["page"] == 5 and "lines" not in missing and missing["error"]["code"] == "page_not_found"
    assert "two.pdf#page=5" in missing["error"]["message"]
    only_missing = client.post("/ocr?pages=7", files={"file": ("two.pdf", pdfs["two"])})
    assert_error(only_missing, 422, "page_not_found")                 # no page left: the request fails


def test_encrypted_pdf_needs_its_password_in_the_body_and_the_page_limit(client, pdfs):
    files = {"file": ("locked.pdf", pdfs["locked"])}
    message = assert_error(client.post("/ocr", files=files), 422, "pdf_password_required")
    assert "pdf_password" in message
    assert_error(client.post("/ocr", files=files, data={"pdf_password": "nope"}), 422, "pdf_password_wrong")
    message = assert_error(client.post("/ocr", files=files, data={"pdf_password": "secret"}), 413, "too_many_pages")
    assert f"at most {MAX_PAGES}" in message and "--max_pages" in message and "pages=" in message  # 4 pages > 3
    b64 = base64.b64encode(pdfs["locked"]).decode()
    opened = client.post(f"/ocr?pages=1&pdf_dpi={PDF_DPI}", json={"image": b64, "pdf_password": "secret"})
    assert opened.status_code == 200 and "TOTAL27.30" in squeezed(texts(opened.json()))


def test_multipage_tiff_upload(client, tmp_path):
    img, _ = document()
    with_blank = [np.full_like(img, 255), img]
    path = fixtures.multipage_tiff(tmp_path / "fax.tif", with_blank)
    r = client.post("/ocr?pages=2", content=path.read_bytes(), headers={"Content-Type": "image/tiff"})
    assert r.status_code == 200, r.text
    (page,) = r.json()["pages"]
    assert page["page"] == 2 and page["id"] == "upload#page=2" and "TOTAL27.30" in squeezed(texts(r.json()))


def test_gif_upload_is_read_as_its_first_frame(client):
    from PIL import Image

    img, _ = document()
    frames = [Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])), Image.new("RGB", img.shape[1::-1], "white")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    r = client.post("/ocr", content=buf.getvalue(), headers={"Content-Type": "image/gif"})
    assert r.status_code == 200, r.text
    assert "TOTAL27.30" in squeezed(texts(r.json()))
    # a per-request DB option the server takes (nested boxes: none on this page, so the same lines)
    nested = client.post("/ocr?det_db_nested_thresh=0.5", content=buf.getvalue(), headers={"Content-Type": "image/gif"})
    assert nested.status_code == 200 and texts(nested.json()) == texts(r.json())
    assert client.post("/ocr?det_db_nested_thresh=1.5", content=buf.getvalue(),
                       headers={"Content-Type": "image/gif"}).status_code == 422


def test_the_detector_resize_is_a_request_option(client):
    page = jpeg(document()[0])
    default = client.post("/ocr", content=page, headers={"Content-Type": "image/jpeg"})
    read = client.post("/ocr?det_limit_type=min&det_limit_side_len=736", content=page,
                       headers={"Content-Type": "image/jpeg"})
    assert read.status_code == 200 and "TOTAL27.30" in squeezed(texts(read.json()))
    # the long side capped at 64 px: the page is too small to read anything
    capped = client.post("/ocr?det_limit_type=min&det_limit_side_len=736&det_max_side_limit=64", content=page,
                         headers={"Content-Type": "image/jpeg"})
    assert capped.status_code == 200 and "TOTAL27.30" not in squeezed(texts(capped.json()))
    bad = client.post("/ocr?det_max_side_limit=16", content=page, headers={"Content-Type": "image/jpeg"})
    assert bad.status_code == 422 and "det_max_side_limit" in bad.text
    again = client.post("/ocr", content=page, headers={"Content-Type": "image/jpeg"})   # restored after the job
    assert again.json()["pages"] == default.json()["pages"]


def test_widening_crops_that_end_on_ink_is_a_request_option(client):
    """rec_widen_inked_ends: the labels whose boxes end on their trailing mark are read with it by default, without
    it at 0 (PaddleOCR's crops); a negative width is a 422 naming the option; the worker is restored after."""
    page = cv2.imencode(".png", fixtures.punctuated_labels_page())[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"})

    default, as_cut = texts(post().json()), texts(post("?rec_widen_inked_ends=0").json())
    assert {"ROUNDING:", "Change:"} <= set(default) and {"ROUNDING", "Change"} <= set(as_cut)
    assert len(default) == len(as_cut) == len(fixtures.PUNCTUATED_LABELS)
    assert "rec_widen_inked_ends" in assert_error(post("?rec_widen_inked_ends=-1"), 422, "bad_option")
    assert texts(post().json()) == default


def test_reading_dense_lines_again_is_a_request_option(client):
    """rec_dense_pitch: by default a dense line read unsurely is read again wider and the surer read kept, so no
    line scores lower than read once (rec_dense_pitch=0, PaddleOCR's single read) and one of the small print's
    scores higher; a negative pitch is a 422 naming the option; the worker is restored after."""
    page = cv2.imencode(".png", fixtures.dense_print_page())[1].tobytes()

    def scores(query=""):
        body = client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"}).json()
        return [line["score"] for page in body["pages"] for line in page["lines"]]

    default, once = scores(), scores("?rec_dense_pitch=0")
    assert len(default) == len(once) == len(fixtures.DENSE_PHRASES)
    assert all(d >= o for d, o in zip(default, once)) and any(d > o for d, o in zip(default, once))
    assert "rec_dense_pitch" in assert_error(client.post("/ocr?rec_dense_pitch=-1", content=page,
                                                         headers={"Content-Type": "image/png"}), 422, "bad_option")
    assert scores() == default


def test_reading_unsure_lines_again_is_a_request_option(client):
    """rec_unsure_blur: by default a line read unsurely is read again from its crop blurred and the surer read kept
    (where no shorter), so of the poorly scanned words some read otherwise and none less surely than read once
    (rec_unsure_blur=0); a value out of range is a 422 naming the option; the worker is restored after."""
    page = cv2.imencode(".png", fixtures.poorly_scanned_words())[1].tobytes()

    def lines(query=""):
        body = client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"}).json()
        return [(line["text"], line["score"]) for page in body["pages"] for line in page["lines"]]

    default, once = lines(), lines("?rec_unsure_blur=0")
    assert len(default) == len(once) == len(fixtures.POOR_SCAN_WORDS)
    assert all(d[1] >= o[1] for d, o in zip(default, once)) and any(d[0] != o[0] for d, o in zip(default, once))
    assert lines("?rec_unsure_below=0.5") == once           # every line read surer than that
    for query, option in (("rec_unsure_blur=-1", "rec_unsure_blur"), ("rec_unsure_below=0", "rec_unsure_below")):
        assert option in assert_error(client.post(f"/ocr?{query}", content=page, headers={"Content-Type": "image/png"}),
                                      422, "bad_option")
    assert lines() == default


def test_looking_again_where_nothing_is_found_is_a_request_option(client):
    """det_small_text_empty_zoom: a page whose tiny print the first pass misses is read after a second, closer
    pass by default, and gives no lines at 0; a negative zoom is a 422 naming the option; the worker is restored
    after."""
    page = cv2.imencode(".png", fixtures.tiny_print_page())[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"})

    default = texts(post().json())
    assert len(default) == len(fixtures.DOC_LINES) and texts(post("?det_small_text_empty_zoom=0").json()) == []
    assert "det_small_text_empty_zoom" in assert_error(post("?det_small_text_empty_zoom=-1"), 422, "bad_option")
    assert texts(post().json()) == default


def test_looking_again_where_nothing_is_read_is_a_request_option(client):
    """det_small_text_empty_unread: a page whose first pass finds only a scribble, which is not read, is read as
    one in which nothing was found by default, and gives no lines with false; a value that is not a boolean is a 422
    naming the option; the worker is restored after."""
    page = cv2.imencode(".png", fixtures.scribbled_tiny_print_page())[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"})

    default = texts(post().json())
    assert squeezed(default) == squeezed(text for text, _ in fixtures.DOC_LINES)
    assert texts(post("?det_small_text_empty_unread=false").json()) == []
    assert "det_small_text_empty_unread" in assert_error(post("?det_small_text_empty_unread=maybe"), 422,
                                                         "bad_option")
    assert texts(post().json()) == default


def test_the_second_pass_score_is_a_request_option(client):
    """det_small_text_score_mode: the photographed page's six lines (as a JPEG, within the test server's upload
    limit), found by the closer look, are read by default; scored by their rectangles (fast) fewer are found;
    another value is a 422 naming the option; the worker is restored after."""
    page = cv2.imencode(".jpg", fixtures.photographed_page(), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/jpeg"})

    default = texts(post().json())
    assert len(default) == len(fixtures.MINUTES)
    assert len(texts(post("?det_small_text_score_mode=fast").json())) < len(fixtures.MINUTES)
    assert "det_small_text_score_mode" in assert_error(post("?det_small_text_score_mode=exact"), 422, "bad_option")
    assert texts(post().json()) == default


def test_joining_split_lines_is_a_request_option(client):
    """det_large_text_above, det_large_text_height: the slide's title, split at a space by the first pass, is read
    whole by default and in two pieces with det_large_text_above=0; a negative value or a height of 0 is a 422
    naming the option; the worker is restored after."""
    slide = cv2.imencode(".png", fixtures.slide())[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=slide, headers={"Content-Type": "image/png"})

    default = texts(post().json())
    assert default == [fixtures.SLIDE_TITLE] + fixtures.SLIDE_POINTS
    assert len(texts(post("?det_large_text_above=0").json())) == len(default) + 1
    assert "det_large_text_above" in assert_error(post("?det_large_text_above=-1"), 422, "bad_option")
    assert "det_large_text_height" in assert_error(post("?det_large_text_height=0"), 422, "bad_option")
    assert texts(post().json()) == default


def test_the_zoomed_pass_in_grey_is_a_request_option(client):
    """det_small_text_grey: the highlighted page's lines are read whole by default (its zoomed pass sees it in
    grey) and in pieces with det_small_text_grey=false; a value that is no boolean is a 422 naming the option; the
    worker is restored after."""
    page = cv2.imencode(".png", fixtures.highlighted_page())[1].tobytes()     # its JPEG pixels, as they are

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"})

    default = texts(post().json())
    assert default == fixtures.HIGHLIGHTED_LINES
    assert len(texts(post("?det_small_text_grey=false").json())) > 2 * len(default)
    assert "det_small_text_grey" in assert_error(post("?det_small_text_grey=sometimes"), 422, "bad_option")
    assert texts(post().json()) == default


def test_cutting_bullets_off_is_a_request_option(client):
    """rec_drop_bullets: the list's points are read without their bullets by default and with them (`o `) with
    rec_drop_bullets=false; a value that is no boolean is a 422 naming the option; the worker is restored after."""
    page = cv2.imencode(".png", fixtures.bulleted_points())[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/png"})

    default = texts(post().json())
    assert default == fixtures.BULLETED_POINTS
    assert texts(post("?rec_drop_bullets=false").json())[0] == "o " + fixtures.BULLETED_POINTS[0]
    assert "rec_drop_bullets" in assert_error(post("?rec_drop_bullets=sometimes"), 422, "bad_option")
    assert texts(post().json()) == default


def test_zooming_a_photo_past_its_size_is_a_request_option(client):
    """det_small_text_rendered_share, det_small_text_past_aspect: the small print of a photographed page is detected
    again past the page's size by default, and at its size with a share of 0 or an aspect its lines do not reach
    (other boxes, read alike); a share above 1 or a negative aspect is a 422 naming the option; the worker is
    restored after."""
    page = cv2.imencode(".jpg", fixtures.photographed_small_print(), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    def post(query=""):
        return client.post(f"/ocr{query}", content=page, headers={"Content-Type": "image/jpeg"})

    def boxes(response):
        return [line["points"] for page in response.json()["pages"] for line in page["lines"]]

    default = post()
    assert squeezed(texts(default.json())) == squeezed(text for text, _ in fixtures.DOC_LINES)
    own_size = boxes(post("?det_small_text_rendered_share=0"))
    assert own_size != boxes(default) and boxes(post("?det_small_text_past_aspect=100")) == own_size
    for option, value in (("det_small_text_rendered_share", 1.5), ("det_small_text_past_aspect", -1)):
        assert option in assert_error(post(f"?{option}={value}"), 422, "bad_option")
    assert boxes(post()) == boxes(default)


def test_reading_light_text_inverted_is_a_request_option(client):
    """light_text_share: a dark page is read as its light twin by default, as it is with light_text_share=1; a
    share above 1 is a 422 naming the option."""
    doc, _ = document()

    def lines(img, query=""):
        png = cv2.imencode(".png", img)[1].tobytes()       # lossless: the inverted page is exactly the light one
        body = client.post(f"/ocr{query}", content=png, headers={"Content-Type": "image/png"}).json()
        return [(line["text"], line["score"]) for page in body["pages"] for line in page["lines"]]

    dark = np.ascontiguousarray(255 - doc)
    assert lines(dark) == lines(doc)
    assert lines(dark, "?light_text_share=1") != lines(doc)
    assert "light_text_share" in assert_error(client.post("/ocr?light_text_share=2", content=jpeg(doc),
                                                          headers={"Content-Type": "image/jpeg"}), 422, "bad_option")


def test_reading_order_is_a_request_option(client):
    form = jpeg(fixtures.form())
    rows = client.post("/ocr", content=form, headers={"Content-Type": "image/jpeg"})
    paddleocr = client.post("/ocr?reading_order=paddleocr", content=form, headers={"Content-Type": "image/jpeg"})
    assert rows.status_code == paddleocr.status_code == 200, (rows.text, paddleocr.text)
    assert sorted(texts(rows.json())) == sorted(texts(paddleocr.json()))    # the same lines, in another order
    assert texts(rows.json()) != texts(paddleocr.json())
    lefts = [line["points"][0][0] for line in rows.json()["pages"][0]["lines"][:4]]    # the checkbox row
    assert lefts == sorted(lefts)
    message = assert_error(client.post("/ocr?reading_order=diagonal", content=form,
                                       headers={"Content-Type": "image/jpeg"}), 422, "bad_option")
    assert "reading_order" in message
    page = jpeg(fixtures.two_column_page()[0])
    columns = client.post("/ocr?reading_order=columns", content=page, headers={"Content-Type": "image/jpeg"})
    starts = [t.replace(" ", "")[:5] for t in texts(columns.json())]
    assert starts[:6] == ["Annua", "Theha", "thisy", "befor", "opene", "Worko"]   # the left column whole, then the right


def test_as_paddleocr_is_a_request_option(client):
    """as_paddleocr=true: that request answers as PaddleOCR does with these models, as PPOCR(as_paddleocr=True)
    does: its boxes and order, and the texts of its padded recognition batches (a poor scan's crops read otherwise
    alone); the request's other options still apply, and the next request gets the server's defaults again."""
    from paddle_pp import PPOCR
    from paddle_pp.serving.options import AS_PADDLEOCR_OPTIONS, OCR_OPTIONS

    assert set(AS_PADDLEOCR_OPTIONS) <= set(OCR_OPTIONS)
    scan = jpeg(fixtures.poor_scan(fixtures.two_column_page()[0]))
    img = cv2.imdecode(np.frombuffer(scan, np.uint8), cv2.IMREAD_COLOR)
    post = lambda query: client.post("/ocr" + query, content=scan, headers={"Content-Type": "image/jpeg"})  # noqa
    lines = lambda body: [(line["text"], line["points"]) for line in body["pages"][0]["lines"]]  # noqa: E731
    expected = lambda ocr: [(r["transcription"], r["points"]) for r in ocr(img)]  # noqa: E731
    defaults = post("")
    preset = post("?as_paddleocr=true")
    assert defaults.status_code == preset.status_code == 200, (defaults.text, preset.text)
    assert lines(preset.json()) == expected(PPOCR(as_paddleocr=True)) != lines(defaults.json())
    assert lines(post("?as_paddleocr=true&reading_order=rows").json()) == expected(
        PPOCR(as_paddleocr=True, reading_order="rows"))
    assert lines(post("?as_paddleocr=false").json()) == lines(post("").json()) == lines(defaults.json())
    message = assert_error(post("?as_paddleocr=maybe"), 422, "bad_option")
    assert "as_paddleocr" in message


def test_txt_hocr_and_searchable_pdf_formats(client, pdfs):
    files = {"file": ("two.pdf", pdfs["two"])}
    txt = client.post(f"/ocr?pdf_dpi={PDF_DPI}&format=txt", files=files)
    assert txt.headers["content-type"] == "text/plain; charset=utf-8"
    assert [squeezed(page.splitlines()) for page in txt.text.split("\f")] == [squeezed(p) for p in TWO_PAGES]

    hocr = client.post(f"/ocr?pdf_dpi={PDF_DPI}", files=files, headers={"Accept": "application/xhtml+xml"})
    assert hocr.headers["content-type"].startswith("application/xhtml+xml")
    root = ET.fromstring(hocr.content)
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    pages = root.findall(".//x:div[@class='ocr_page']", ns)
    assert len(pages) == 2 and "bbox 0 0 584 417" in pages[0].get("title")
    words = [w.text for w in pages[1].findall(".//x:span[@class='ocrx_word']", ns)]
    assert words == " ".join(TWO_PAGES[1]).split()         # hOCR turns word boxes on: one element per word
    assert client.post(f"/ocr?pdf_dpi={PDF_DPI}&pages=1&format=hocr", files=files).headers[
        "content-type"].startswith("text/html")

    searchable = client.post(f"/ocr?pdf_dpi={PDF_DPI}&pages=2", files=files, headers={"Accept": "application/pdf"})
    assert searchable.status_code == 200 and searchable.headers["content-type"] == "application/pdf"
    assert searchable.content.startswith(b"%PDF") and "two.ocr.pdf" in searchable.headers["content-disposition"]
    pypdfium2 = pytest.importorskip("pypdfium2")
    pdf = pypdfium2.PdfDocument(searchable.content)
    assert len(pdf) == 1
    page = pdf[0]
    assert [round(v) for v in page.get_size()] == [420, 300]  # the page at its size in points
    assert " ".join(page.get_textpage().get_text_range().split()) == " ".join(TWO_PAGES[1])


def test_hubserving_takes_images_only(client, pdfs):
    r = client.post("/predict/ocr_system", json={"images": [base64.b64encode(pdfs["two"]).decode()]})
    assert r.status_code == 415 and r.json()["status"] == "415" and r.json()["error"]["code"] == "unsupported_format"
    assert "POST /ocr" in r.json()["error"]["message"]


def test_health_ready_metrics_and_web_page(server, client):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}     # no key needed
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["workers"] == 1 and ready["queue_size"] == QUEUE
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")   # everything from the app itself
    for name in ("app.js", "app.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and "https://" not in asset.text
    client.post("/ocr?det_db_thresh=2", content=b"x", headers={"Content-Type": "image/png"})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'paddle_pp_requests_total{route="/ocr",status="200"}' in text
    assert 'paddle_pp_failures_total{cause="bad_option"}' in text
    assert 'paddle_pp_request_duration_seconds_bucket{le="0.5",route="/ocr"}' in text
    assert "paddle_pp_queue_depth 0.0" in text and "paddle_pp_workers 1.0" in text


# ---------------------------------------------------------------- access

def test_api_key_on_every_route_but_health(server, doc):
    for path in ("/", "/metrics", "/static/app.js"):
        r = httpx.get(server.url + path)
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Basic")
    assert_error(httpx.post(server.url + "/ocr", content=doc[0], headers={"Content-Type": "image/jpeg",
                                                                          "X-API-Key": "wrong"}), 401, "unauthorized")
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        assert httpx.get(server.url + "/metrics", headers=headers).status_code == 200
    assert httpx.get(server.url + "/", auth=("anyone", KEY)).status_code == 200   # a browser's Basic prompt
    assert httpx.get(server.url + "/", auth=("anyone", "nope")).status_code == 401


def test_cors_only_for_the_given_origin(server):
    def preflight(origin):
        return httpx.options(server.url + "/ocr", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                           "Access-Control-Request-Headers": "x-api-key"})
    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = preflight("http://evil.example")
    assert "access-control-allow-origin" not in other.headers
    simple = httpx.get(server.url + "/healthz", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN


# ---------------------------------------------------------------- hostile and malformed requests

def pixel_bomb() -> bytes:
    """A white PNG over the server's pixel limit: a few kB on the wire."""
    return cv2.imencode(".png", np.full((2100, 2000), 255, np.uint8))[1].tobytes()


def heic() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 16


CASES = [  # (name, request keyword arguments, query, status, code)
    ("unknown option", {"content": b"x", "headers": {"Content-Type": "image/png"}}, "?colour=red", 400, "bad_option"),
    ("repeated option", {"content": b"x", "headers": {"Content-Type": "image/png"}}, "?drop_score=0.1&drop_score=0.2",
     400, "bad_option"),
    ("bad JSON", {"content": b'{"image": ', "headers": {"Content-Type": "application/json"}}, "", 400, "bad_json"),
    ("JSON without image", {"json": {"img": "x"}}, "", 400, "bad_request"),
    ("bad base64", {"json": {"image": "@@@"}}, "", 400, "bad_base64"),
    ("a path instead of base64", {"json": {"image": "/etc/passwd"}}, "", 400, "bad_base64"),
    ("a URL instead of base64", {"json": {"image": "http://169.254.169.254/latest/meta-data/"}}, "", 400,
     "bad_base64"),
    ("multipart without a file", {"files": {"note": (None, b"hi")}}, "", 400, "no_file"),
    ("upload over the limit", {"content": b"\xff" * (MAX_UPLOAD + 70_000), "headers": {"Content-Type": "image/jpeg"}},
     "", 413, "too_large"),
    ("pixel bomb", {"content": pixel_bomb(), "headers": {"Content-Type": "image/png"}}, "", 413, "too_many_pixels"),
    ("too many hub images", None, "", 413, "too_many_images"),
    ("text/plain body", {"content": b"hello", "headers": {"Content-Type": "text/plain"}}, "", 415,
     "unsupported_media_type"),
    ("no content type", {"content": b"hello"}, "", 415, "unsupported_media_type"),
    ("HEIC", {"content": heic(), "headers": {"Content-Type": "image/heic"}}, "", 415, "unsupported_format"),
    ("corrupt PDF", {"content": b"%PDF-1.4\n%%EOF", "headers": {"Content-Type": "application/pdf"}}, "", 422,
     "unreadable_document"),
    ("empty PDF", "empty_pdf", "", 422, "unreadable_document"),   # pdfium refuses a PDF of no pages outright
    ("PDF page over the pixel limit", "huge_pdf", "", 413, "too_many_pixels"),
    ("pdf_password in the URL", {"content": b"x", "headers": {"Content-Type": "application/pdf"}},
     "?pdf_password=secret", 400, "bad_option"),
    ("pdf_dpi out of range", {"content": b"x", "headers": {"Content-Type": "application/pdf"}}, "?pdf_dpi=5000",
     422, "bad_option"),
    ("bad page list", {"content": b"x", "headers": {"Content-Type": "application/pdf"}}, "?pages=3-1", 422,
     "bad_option"),
    ("not an image", {"content": b"not an image at all", "headers": {"Content-Type": "image/jpeg"}}, "", 422,
     "unreadable_image"),
    ("truncated JPEG", "truncated", "", 422, "unreadable_image"),
    ("option out of range", {"content": b"x", "headers": {"Content-Type": "image/png"}}, "?det_db_thresh=1.5", 422,
     "bad_option"),
    ("wrong option type", {"content": b"x", "headers": {"Content-Type": "image/png"}}, "?det_limit_side_len=big", 422,
     "bad_option"),
    ("bad format", {"content": b"x", "headers": {"Content-Type": "image/png"}}, "?format=docx", 422, "bad_option"),
]


@pytest.mark.parametrize("name,kwargs,query,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_requests_get_json_errors(client, doc, name, kwargs, query, status, code):
    if kwargs is None:
        b64 = base64.b64encode(doc[0]).decode()
        r = client.post("/predict/ocr_system", json={"images": [b64] * 3})
        assert r.status_code == 413 and r.json()["error"]["code"] == code
        return
    if kwargs == "truncated":
        kwargs = {"content": doc[0][: len(doc[0]) // 2], "headers": {"Content-Type": "image/jpeg"}}
    if kwargs in ("empty_pdf", "huge_pdf"):
        kwargs = {"files": {"file": ("x.pdf", blank_pdf(kwargs == "huge_pdf"), "application/pdf")}}
    message = assert_error(client.post("/ocr" + query, **kwargs), status, code)
    assert message and "\n" not in message


def blank_pdf(huge: bool) -> bytes:
    """No page at all, or one page of 200x200 inches (20000x20000 pixels at 100 dpi: over --max_pixels)."""
    import io

    import pikepdf

    pdf, out = pikepdf.new(), io.BytesIO()
    if huge:
        pdf.add_blank_page(page_size=(14400, 14400))
    pdf.save(out)
    return out.getvalue()


def test_chunked_upload_over_the_limit_is_cut(client):
    def chunks():
        for _ in range(40):
            yield b"\x00" * 10_000
    assert_error(client.post("/ocr", content=chunks(), headers={"Content-Type": "image/jpeg"}), 413, "too_large")


def test_unknown_route_method_and_path_tricks(client):
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/ocr"), 405, "method_not_allowed")
    for path in ("/static/..%2f..%2fetc%2fpasswd", "/static/%2e%2e/app.py", "/static/index.html"):
        assert_error(client.get(path), 404, "not_found")


def test_timeout_is_504(client, doc):
    message = assert_error(client.post("/ocr?timeout=0.0001", files={"file": ("a.jpg", doc[0])}), 504, "timeout")
    assert "0.0001" in message
    deadline = time.monotonic() + 30  # the job that timed out still runs: let it end before the next test
    while client.get("/readyz").json()["busy"] and time.monotonic() < deadline:
        time.sleep(0.05)


def stalled_upload(url: str) -> socket.socket:
    """A client that sends headers and a little of a 100 kB body, then stalls (slowloris)."""
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    sock.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nX-API-Key: " + KEY.encode() +
                 b"\r\nContent-Length: 100000\r\n\r\n" + b"\xff\xd8" * 10)
    return sock


def test_full_queue_is_503_at_once_and_stalled_uploads_are_cut(server, client, doc):
    """Stalled uploads hold every place (1 worker + queue of 4): the next request gets 503 with Retry-After at
    once and /readyz fails; each stalled client gets 408 after --read_timeout and the places come back."""
    sockets = [stalled_upload(server.url) for _ in range(1 + QUEUE)]
    try:
        deadline = time.monotonic() + 10
        while httpx.get(server.url + "/readyz").status_code != 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "queue_full"
        r = client.post("/ocr", files={"file": ("a.jpg", doc[0])})
        assert_error(r, 503, "queue_full")
        assert r.headers["retry-after"] == "1"
        for sock in sockets:
            reply = b""
            while b"}}" not in reply:   # headers and the JSON body may come in separate reads
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            reply = reply.decode("latin-1")
            assert reply.startswith("HTTP/1.1 408") and "upload_too_slow" in reply
    finally:
        for sock in sockets:
            sock.close()
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.post("/ocr", files={"file": ("a.jpg", doc[0])}).status_code == 200


def test_16_concurrent_clients_all_answered(server, doc):
    """16 clients at once against 1 worker and a queue of 4: each gets the right text, after retrying on 503
    (queue full, with Retry-After) a bounded number of times."""
    data, _ = doc
    expected = texts(httpx.post(server.url + "/ocr", files={"file": ("a.jpg", data)}, headers=AUTH, timeout=60).json())
    start = threading.Barrier(16)
    answers, rejected = [None] * 16, []

    def client_loop(i):
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
            start.wait()
            for _ in range(30):
                r = c.post("/ocr", files={"file": (f"{i}.jpg", data)})
                if r.status_code != 503:
                    answers[i] = r
                    return
                rejected.append((r.json()["error"]["code"], r.headers.get("retry-after")))
                time.sleep(float(r.headers["retry-after"]))

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(r is not None and r.status_code == 200 for r in answers)
    assert all(texts(r.json()) == expected for r in answers)
    assert all(reason == ("queue_full", "1") for reason in rejected)   # 503 only for a full queue


# ---------------------------------------------------------------- shutdown and command line

def test_graceful_shutdown_finishes_in_flight_and_refuses_new(models_dir, tmp_path):
    srv = Server(["--workers", "1", "--cpu_threads", "1", "--drain_seconds", "1"], models_dir, tmp_path)
    try:
        big, _ = document(size=(1800, 1200))
        result = {}
        worker = threading.Thread(target=lambda: result.update(r=httpx.post(
            srv.url + "/ocr?det_limit_side_len=1800&det_limit_type=max", files={"file": ("big.jpg", jpeg(big))},
            timeout=60)))
        worker.start()
        deadline = time.monotonic() + 30
        while httpx.get(srv.url + "/readyz").json().get("busy") != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        late = httpx.post(srv.url + "/ocr", content=b"x", headers={"Content-Type": "image/png"}, timeout=10)
        assert_error(late, 503, "shutting_down")
        assert httpx.get(srv.url + "/readyz").status_code == 503
        worker.join(60)
        assert result["r"].status_code == 200 and "TOTAL27.30" in [t.replace(" ", "") for t in texts(result["r"].json())]
        assert srv.process.wait(30) == 0
        assert "paddle-pp serve: stopped" in srv.out.read_text()
    finally:
        srv.stop()


def test_serve_help_has_the_ocr_options_and_not_file_flags():
    out = subprocess.run([sys.executable, "-m", "paddle_pp.cli", "serve", "-h"], capture_output=True, text=True,
                         timeout=60).stdout
    for flag in ("--lang", "--engine", "--det_db_thresh", "--rec_batch_num", "--max_pixels", "--api_key",
                 "--queue_size", "--workers", "--cors_origin"):
        assert flag in out
    assert "--image_dir" not in out and "--visualize" not in out
    assert "--det BOOL" not in out and "--rec BOOL" not in out and "--use_mp" not in out  # one ocr run's shape
    assert "--invert" not in out and "--alphacolor" not in out     # a request's own (query options)


def test_serve_without_the_extra_says_how_to_install_it():
    code = ("import sys; sys.modules['uvicorn'] = None; from paddle_pp.cli import main; sys.exit(main(['serve']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "pip install 'paddle-pp[serve]'" in run.stderr


def test_default_workers_fill_the_cores():
    from paddle_pp.serving.workers import default_workers

    assert default_workers(2, None, None) == (1, 2)
    assert default_workers(16, 0, None) == (4, 4)
    assert default_workers(8, 2, None) == (4, 2)
    assert default_workers(8, None, 8) == (8, 1)
    assert default_workers(8, 3, 5) == (5, 3)      # both given: as given


def test_server_flags_leave_out_paddleocrs_file_and_page_flags(capsys):
    from paddle_pp.serving.cli import build_parser

    args = build_parser().parse_args(["--use_onnx", "false", "--use_gpu", "false"])
    assert args.engine == "paddle"  # PaddleOCR's engine flags apply to a server too
    for per_request_or_local in (["--page_num", "2"], ["--save_crop_res", "true"], ["--draw_img_save_dir", "d"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(per_request_or_local)
        assert "unrecognized arguments" in capsys.readouterr().err


def test_a_server_started_as_paddleocr_gives_paddleocrs_results(models_dir):
    from paddle_pp.serving.cli import build_parser, build_predictors

    predictor, = build_predictors(build_parser().parse_args(["--as_paddleocr", "true"]), workers=1, threads=1)
    assert predictor.as_paddleocr and predictor.system.reading_order == "paddleocr"
    assert predictor.system.recognizer.max_pad_ratio is None and predictor.system.detector.border_below == 0
    from paddle_pp.serving.options import OptionError, applied

    with pytest.raises(OptionError, match="runs as PaddleOCR"):      # its defaults are not known per request
        with applied(predictor, {"as_paddleocr": False}):
            pass
    with applied(predictor, {"as_paddleocr": True, "reading_order": "rows"}):
        assert predictor.system.reading_order == "rows"
    assert predictor.system.reading_order == "paddleocr"


def test_classifier_options_need_the_classifier_and_are_restored():
    """use_angle_cls / use_doc_orientation_classify per request: set on the worker's system for one job and
    restored; asking for either on a server started without the direction classifier is a bad request."""
    from types import SimpleNamespace

    from paddle_pp.serving.options import OptionError, applied

    system = SimpleNamespace(classifier=object(), use_angle_cls=True, use_doc_orientation_classify=False)
    ocr = SimpleNamespace(system=system)
    with applied(ocr, {"use_angle_cls": False, "use_doc_orientation_classify": True}):
        assert (system.use_angle_cls, system.use_doc_orientation_classify) == (False, True)
    assert (system.use_angle_cls, system.use_doc_orientation_classify) == (True, False)
    system.classifier = None
    for name in ("use_angle_cls", "use_doc_orientation_classify"):
        with pytest.raises(OptionError, match=f"{name}=true: the server was started without the direction"):
            with applied(ocr, {name: True}):
                pass
