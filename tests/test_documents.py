"""Documents (issue 23): PDF and multi-page TIFF pages in, word boxes, txt / hOCR / JSON / searchable PDF out."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

import fixtures

pypdfium2 = pytest.importorskip("pypdfium2")
pytest.importorskip("pikepdf")

from paddle_pp.config_schema import OUTPUT_FORMATS  # noqa: E402
from paddle_pp.documents import (DocumentReadError, EmptyDocumentError, PageNotFoundError, PageResult,  # noqa: E402
                                 PDFPasswordError, iter_pages, select_pages)
from paddle_pp.output import FORMATS, render  # noqa: E402
from paddle_pp.postprocess.ctc_decode import AlignedChar  # noqa: E402
from paddle_pp.postprocess.word_boxes import split_words, word_spans  # noqa: E402
from paddle_pp.utils.crop import crop_to_image, get_rotate_crop_image  # noqa: E402
from paddle_pp.utils.image_io import ImageTooLargeError  # noqa: E402

ROOT = fixtures.__file__.rsplit("/tests/", 1)[0]
XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory):
    return fixtures.text_pdf(tmp_path_factory.mktemp("docs") / "three.pdf")


# ------------------------------------------------------------------ reading pages (no models)

def test_page_selection():
    assert select_pages("1-3,7", 10) == [1, 2, 3, 7]
    assert select_pages("4-", 6) == [4, 5, 6]
    assert select_pages("2,2,1", 3) == [2, 1]
    assert select_pages(None, 3) == [1, 2, 3]
    for bad in ("0", "3-1", "a", "1,,2", ""):
        with pytest.raises(ValueError, match="pages must be"):
            select_pages(bad, 5)


def test_pdf_pages_are_rendered_one_by_one_with_their_rotation(pdf_path):
    pages = list(iter_pages(pdf_path, "three.pdf", pdf_dpi=144))
    assert [p.name for p in pages] == [f"three.pdf#page={n}" for n in (1, 2, 3, 4)]
    assert all(p.error is None and p.dpi == 144 and p.count == 4 for p in pages)
    # 420x300 points at 144 dpi = 840x600 pixels; /Rotate 90 turns page 2
    assert pages[0].image.shape == (600, 840, 3) and pages[1].image.shape == (840, 600, 3)
    assert [p.has_text for p in pages] == [True, True, True, False]
    assert pages[3].image.min() == 255 and pages[0].image.min() < 100  # blank page, page with ink


def test_pdf_page_selection_and_missing_pages(pdf_path):
    pages = list(iter_pages(pdf_path, "three.pdf", pdf_dpi=72, pages="3,9"))
    assert [p.number for p in pages] == [3, 9]
    assert pages[0].image is not None
    assert isinstance(pages[1].error, PageNotFoundError) and "three.pdf#page=9" in str(pages[1].error)


def test_encrypted_pdf_needs_its_password(tmp_path):
    path = fixtures.text_pdf(tmp_path / "locked.pdf", password="secret")
    [page] = list(iter_pages(path, "locked.pdf"))
    assert isinstance(page.error, PDFPasswordError) and page.number is None
    assert str(page.error).startswith("locked.pdf: ") and "--pdf_password" in str(page.error)
    [wrong] = list(iter_pages(path, "locked.pdf", pdf_password="nope"))
    assert isinstance(wrong.error, PDFPasswordError) and "wrong password" in str(wrong.error)
    opened = list(iter_pages(path, "locked.pdf", pdf_password="secret", pdf_dpi=72))
    assert len(opened) == 4 and all(p.error is None for p in opened)


def test_corrupt_and_empty_pdfs_are_named_errors(tmp_path):
    import pikepdf

    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n garbage")
    [bad] = list(iter_pages(tmp_path / "bad.pdf", "bad.pdf"))
    assert isinstance(bad.error, DocumentReadError) and str(bad.error).startswith("bad.pdf: not a readable PDF")
    pikepdf.new().save(str(tmp_path / "empty.pdf"))
    [empty] = list(iter_pages(tmp_path / "empty.pdf", "empty.pdf"))
    assert isinstance(empty.error, (EmptyDocumentError, DocumentReadError)) and empty.image is None


def test_page_over_the_pixel_limit_fails_alone(tmp_path):
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.add_blank_page(page_size=(14400, 14400))  # the largest page PDF allows: 200x200 inches
    pdf.add_blank_page(page_size=(200, 200))
    pdf.save(str(tmp_path / "huge.pdf"))
    pages = list(iter_pages(tmp_path / "huge.pdf", "huge.pdf", pdf_dpi=200))
    assert [p.error is None for p in pages] == [True, False, True]
    assert isinstance(pages[1].error, ImageTooLargeError) and "huge.pdf#page=2" in str(pages[1].error)
    assert "--pdf_dpi" in str(pages[1].error)


def test_multipage_tiff_pages(tmp_path):
    img, _ = fixtures.document()
    path = fixtures.multipage_tiff(tmp_path / "fax.tif", [img, img[::-1].copy(), img])
    pages = list(iter_pages(path, "fax.tif", pages="2-"))
    assert [p.name for p in pages] == ["fax.tif#page=2", "fax.tif#page=3"]
    assert np.array_equal(pages[0].image, img[::-1]) and pages[0].dpi == 200
    [single] = list(iter_pages(cv2.imencode(".png", img)[1].tobytes()))
    assert single.number is None and single.name == "<bytes>" and np.array_equal(single.image, img)


# ------------------------------------------------------------------ word boxes (geometry, no models)

@pytest.mark.parametrize("box", [
    [[10, 20], [210, 30], [205, 70], [5, 60]],      # a tilted line
    [[300, 10], [340, 12], [330, 260], [290, 258]],  # a tall one: turned 90 degrees before recognition
])
@pytest.mark.parametrize("flipped", [False, True])
def test_crop_points_map_back_onto_the_box(box, flipped):
    img = np.zeros((400, 400, 3), np.uint8)
    box = np.float32(box)
    crop = get_rotate_crop_image(img, box)
    h, w = crop.shape[:2]
    corners = np.float64([[0, 0], [w, 0], [w, h], [0, h]])
    back = crop_to_image(box, corners, flipped)
    expected = np.roll(box, 2, axis=0) if flipped else box  # a turned crop starts at the box's other corner
    if h * 1.0 / w < 1 and np.linalg.norm(box[0] - box[1]) < np.linalg.norm(box[0] - box[3]):
        expected = np.roll(expected, -1, axis=0)  # sideways: the crop's top-left was the box's top-right
    assert np.abs(back - expected).max() < 1.0


def _aligned(text, starts):
    return [AlignedChar(ch, t, t, 0.9) for ch, t in zip(text, starts)]


def test_words_are_split_at_spaces_and_cjk_characters():
    chars = _aligned("ab cd", [1, 3, 5, 7, 9]) + _aligned("营业", [12, 14])
    assert ["".join(c.char for c in w) for w in split_words(chars)] == ["ab", "cd", "营", "业"]
    spans = word_spans(chars, step_width=4.0, line_width=70.0)
    assert [s.text for s in spans] == ["ab", "cd", "营", "业"]
    lefts = [s.left for s in spans]
    assert lefts == sorted(lefts) and all(0 <= s.left < s.right <= 70 for s in spans)
    for a, b in zip(spans, spans[1:]):
        assert a.right <= b.left  # no overlap: half a pitch either side of the end characters


# ------------------------------------------------------------------ writers (no models)

def _page(number, lines, width=400, height=300):
    return PageResult("doc.pdf", number, lines, None, width, height, 200.0)


LINE = {"transcription": "Fresh Milk", "points": [[10, 10], [110, 10], [110, 30], [10, 30]], "score": 0.93,
        "words": [{"transcription": "Fresh", "points": [[10, 10], [55, 10], [55, 30], [10, 30]], "score": 0.9},
                  {"transcription": "Milk", "points": [[65, 10], [110, 10], [110, 30], [65, 30]], "score": 0.96}]}


def test_formats_are_the_schema_s():
    assert tuple(FORMATS) == tuple(OUTPUT_FORMATS)


def _line(text, x, y, w=100, h=20):
    return {"transcription": text, "points": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], "score": 0.9}


def test_txt_pages_are_separated_by_form_feeds():
    pages = [(_page(1, [LINE, _line("TOTAL", 10, 40)]), None), (_page(2, []), None), (_page(3, [LINE]), None)]
    assert render("txt", pages).decode() == "Fresh Milk\nTOTAL\n\f\fFresh Milk\n"


def test_txt_puts_a_row_on_one_line_with_tabs_between_its_lines():
    receipt = [_line("Fresh Milk 1L", 10, 10, 200), _line("13.80", 300, 14, 60),       # one row, not level
               _line("TOTAL", 10, 50, 80, 26), _line("27.30", 300, 48, 60, 24),
               _line("Thank\tyou", 10, 100, 200)]                                     # a tab inside a line
    assert render("txt", [(_page(1, receipt), None)]).decode() == "Fresh Milk 1L\t13.80\nTOTAL\t27.30\nThank you\n"
    # in PaddleOCR's order the lines of a row need not follow each other: only consecutive ones share a text line
    shuffled = [receipt[1], receipt[2], receipt[0], receipt[3]]
    assert render("txt", [(_page(1, shuffled), None)]).decode() == "13.80\nTOTAL\nFresh Milk 1L\n27.30\n"


def test_hocr_is_valid_xml_with_the_hocr_structure():
    failed = PageResult("doc.pdf", 2, [], DocumentReadError("doc.pdf#page=2: broken"), 0, 0, None)
    data = render("hocr", [(_page(1, [LINE, {k: v for k, v in LINE.items() if k != "words"}]), None),
                           (failed, None)], "doc.pdf")
    root = ET.fromstring(data)  # well-formed XHTML
    capabilities = root.find(f"{XHTML}head/{XHTML}meta[@name='ocr-capabilities']").get("content").split()
    assert {"ocr_page", "ocr_line", "ocrx_word"} <= set(capabilities)
    pages = [e for e in root.iter() if e.get("class") == "ocr_page"]
    assert len(pages) == 2 and "bbox 0 0 400 300" in pages[0].get("title") and "ppageno 1" in pages[1].get("title")
    lines = [e for e in pages[0] if e.get("class") == "ocr_line"]
    assert len(lines) == 2
    words = [e for e in lines[0] if e.get("class") == "ocrx_word"]
    assert [w.text for w in words] == ["Fresh", "Milk"]
    assert words[1].get("title") == "bbox 65 10 110 30; x_wconf 96"
    assert [w.text for w in lines[1]] == ["Fresh Milk"]  # no word boxes: the line is its one word
    for element in root.iter():
        if element.get("class") in ("ocr_line", "ocrx_word"):
            props = dict(p.strip().split(" ", 1) for p in element.get("title").split(";"))
            x0, y0, x1, y1 = map(int, props["bbox"].split())
            assert x0 <= x1 and y0 <= y1 and 0 <= int(props["x_wconf"]) <= 100


def test_pdf_writer_without_any_readable_page_fails_but_others_are_written(tmp_path):
    from paddle_pp.output import write_all, writer_class

    failed = PageResult("doc.pdf", 1, [], DocumentReadError("doc.pdf#page=1: broken"))
    writers = {tmp_path / "doc.pdf": writer_class("pdf")("doc.pdf"), tmp_path / "doc.txt": writer_class("txt")("doc.pdf")}
    for writer in writers.values():
        writer.add(failed, None)
    problems = write_all(writers)
    assert len(problems) == 1 and "doc.pdf" in problems[0]
    assert (tmp_path / "doc.txt").read_bytes() == b"" and not (tmp_path / "doc.pdf").exists()
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary left behind


# ------------------------------------------------------------------ with the models

@pytest.fixture(scope="module")
def ocr(models_dir):
    pytest.importorskip("paddle")
    from paddle_pp import PPOCR

    return PPOCR(return_word_box=True)


@pytest.fixture(scope="module")
def pdf_results(ocr, pdf_path):
    results = []
    for page in iter_pages(pdf_path, "three.pdf"):
        results.append((PageResult.of(page, ocr.ocr_image(page.image)), page.image))
    return results


def squash(text):
    return "".join(text.split())


def _inside(points, quad, tolerance=3.0):
    contour = np.float32(quad).reshape(-1, 1, 2)
    return all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tolerance for x, y in points)


def test_word_boxes_lie_inside_their_line_in_reading_order(pdf_results):
    expected = [fixtures.PDF_PAGE_LINES[0], fixtures.PDF_PAGE_LINES[1], fixtures.PDF_PAGE_LINES[2], []]
    for (result, _), lines in zip(pdf_results, expected):
        found = {squash(line["transcription"]) for line in result.lines}
        assert {squash(t) for t in lines} & found or not lines, (result.name, found)
        for line in result.lines:
            words = line["words"]
            assert squash("".join(w["transcription"] for w in words)) == squash(line["transcription"])
            # reading order: each word starts further along the line's reading direction than the one before
            first = np.float64(words[0]["points"])
            direction = first[1] - first[0]
            starts = [float(np.dot(np.float64(w["points"])[0], direction)) for w in words]
            assert starts == sorted(starts), (result.name, line["transcription"])
            for word in words:
                assert _inside(word["points"], line["points"]), (result.name, word)
    # the upside-down page reads its words from the image's right to left; the rotated one top to bottom
    turned = pdf_results[2][0].lines[0]["words"]
    assert turned[0]["points"][0][0] > turned[-1]["points"][0][0]
    sideways = pdf_results[1][0].lines[0]["words"]
    assert sideways[0]["points"][0][1] < sideways[-1]["points"][0][1]


def test_api_gives_one_result_per_page_and_streams_errors(ocr, pdf_path, tmp_path):
    per_page = ocr(str(pdf_path), pages="1,4")
    assert len(per_page) == 2 and per_page[1] == []
    assert "TOTAL" in squash(" ".join(r["transcription"] for r in per_page[0]))
    assert len(ocr(pdf_path.read_bytes(), pages="4")) == 1
    locked = fixtures.text_pdf(tmp_path / "locked.pdf", password="pw")
    with pytest.raises(PDFPasswordError):
        ocr(str(locked))
    streamed = list(ocr.pages(str(locked), pdf_password="pw", pages="1,7"))
    assert streamed[0].error is None and streamed[0].lines
    assert isinstance(streamed[1].error, PageNotFoundError)
    with pytest.raises(ValueError, match="pages must be"):
        ocr(str(pdf_path), pages="0")


def _extracted_words(textpage, page_height_pt, scale):
    """(text, [x0, y0, x1, y1] in image pixels) of each space-separated run of characters pdfium extracts."""
    words, current, boxes = [], "", []
    for index in range(textpage.count_chars()):
        char = textpage.get_text_range(index, 1)
        if char.isspace():
            if current:
                words.append((current, boxes))
            current, boxes = "", []
            continue
        left, bottom, right, top = textpage.get_charbox(index, loose=True)
        current += char
        boxes.append((left / scale, (page_height_pt - top) / scale, right / scale, (page_height_pt - bottom) / scale))
    if current:
        words.append((current, boxes))
    return [(text, [min(b[0] for b in bx), min(b[1] for b in bx), max(b[2] for b in bx), max(b[3] for b in bx)])
            for text, bx in words]


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_searchable_pdf_text_and_word_boxes_come_back(pdf_results, tmp_path):
    from paddle_pp.output import bbox

    path = tmp_path / "searchable.pdf"
    path.write_bytes(render("pdf", pdf_results, "three.pdf"))
    document = pypdfium2.PdfDocument(str(path))
    assert len(document) == 4
    for index, (result, image) in enumerate(pdf_results):
        page = document[index]
        width_pt, height_pt = page.get_size()
        scale = 72.0 / result.dpi
        assert abs(width_pt - image.shape[1] * scale) < 0.01 and abs(height_pt - image.shape[0] * scale) < 0.01
        textpage = page.get_textpage()
        ours = [w for line in result.lines for w in line["words"]]
        extracted = _extracted_words(textpage, height_pt, scale)
        if index != 2:  # the extracted text is ours, line by line and word by word
            assert " ".join(textpage.get_text_range().split()) == " ".join(
                " ".join(w["transcription"] for w in line["words"]) for line in result.lines)
        else:  # upside-down text: pdfium extracts a line's words left to right on the page, so compare as sets
            assert sorted(t for t, _ in extracted) == sorted(w["transcription"] for w in ours)
        for word in ours:
            box = bbox(word["points"])
            match = [b for t, b in extracted if t == word["transcription"]]
            assert match and max(_iou(box, b) for b in match) > 0.5, (result.name, word["transcription"])


def test_cli_reads_documents_and_writes_every_format(models_dir, pdf_path, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "three.pdf").write_bytes(pdf_path.read_bytes())
    fixtures.text_pdf(inputs / "locked.pdf", password="pw")
    img, _ = fixtures.document()
    fixtures.multipage_tiff(inputs / "fax.tif", [img, img])
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "paddle_pp.cli", "ocr", "--image_dir", str(inputs), "--output",
                           str(out), "--output_format", "json,txt,hocr,pdf", "--pages", "1-2"],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr  # the encrypted PDF failed; the rest went on
    assert "locked.pdf: PDF is encrypted" in proc.stderr and "Traceback" not in proc.stderr
    rows = (out / "system_results.txt").read_text(encoding="utf-8").splitlines()
    names = [r.split("\t")[0] for r in rows]
    assert names == ["fax.tif#page=1", "fax.tif#page=2", "three.pdf#page=1", "three.pdf#page=2"]
    results = json.loads(rows[2].split("\t")[1])
    assert results and "words" in results[0]  # hocr and pdf need word boxes: asked for by themselves
    assert (out / "txt" / "three.pdf.txt").read_text(encoding="utf-8").count("\f") == 1
    ET.fromstring((out / "hocr" / "fax.tif.hocr").read_bytes())
    assert len(pypdfium2.PdfDocument(str(out / "pdf" / "three.pdf.pdf"))) == 2
    assert not (out / "pdf" / "locked.pdf.pdf").exists()
    # the summary names every place results went, the per-input folders too
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.endswith(", ".join([str(out / "system_results.txt")] + [str(out / f) + os.sep
                                                                          for f in ("txt", "hocr", "pdf")])), summary


def test_a_scan_inside_a_pdf_at_its_own_resolution_is_the_same_image(tmp_path):
    """Issue 23, item 4 at the pixel level: a JPEG wrapped as it is (bench_documents.scans_to_pdf) and rendered
    back at its DPI gives the very pixels OpenCV decodes from the file; at another DPI, a resampled image."""
    from paddle_pp.tools.bench_documents import same_lines, scans_to_pdf

    img = fixtures.photo_like((700, 900))
    paths = []
    for i, size in enumerate([(700, 900), (936, 1676)]):
        path = tmp_path / f"scan{i}.jpg"
        cv2.imwrite(str(path), cv2.resize(img, size))
        paths.append(path)
    pdf = scans_to_pdf(paths, tmp_path / "scans.pdf", 288)
    pages = list(iter_pages(pdf, pdf_dpi=288))
    for page, path in zip(pages, paths):
        assert np.array_equal(page.image, cv2.imread(str(path)))
    [half] = list(iter_pages(pdf, pdf_dpi=144, pages="2"))
    assert half.image.shape == (838, 468, 3)
    line = {"transcription": "TOTAL 27.30", "points": [[10, 10], [110, 10], [110, 30], [10, 30]]}
    moved = {"transcription": "TOTAL27.30", "points": [[5, 5], [55, 5], [55, 15], [5, 15]]}
    assert same_lines([line], [moved], 2.0) == (1, 1)  # boxes scaled back, spaces ignored
    assert same_lines([line], [dict(moved, transcription="TOTAL 27.80")], 2.0) == (0, 1)


def test_document_flags_are_checked_by_the_schema(capsys):
    from paddle_pp.tools import utility

    parser = utility.build_parser("system")
    args = parser.parse_args(["--output_format", "txt, PDF,txt", "--pages", "2-", "--pdf_dpi", "300"])
    assert args.output_format == ["txt", "pdf"] and args.pages == "2-" and args.pdf_dpi == 300
    for flags in (["--output_format", "pdf,nope"], ["--pages", "0-2"], ["--pdf_dpi", "5"]):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(flags)
        assert stop.value.code == 2
    assert "--pdf_dpi: must be a number in [18, 1200], got 5" in capsys.readouterr().err
