"""Images the tests render themselves (no third-party data in the repo)."""
from __future__ import annotations

import os
from typing import List, Tuple

import cv2
import numpy as np

from paddle_pp.utils.text_render import cjk_font_path, latin_font_path, render_line, render_lines

DOC_LINES = [("Order 2026-0142", 34), ("Fresh Milk 1L   13.80", 28), ("TOTAL 27.30", 30),
             ("Thank you for shopping", 26)]
REC_WORDS = ["Hello", "TOTAL 27.30", "Invoice No: INV-2026-0142", "The quick brown fox jumps over the lazy dog 1234567890"]


class GivenBoxes:
    """A detector (pipeline.TextDetector's calls) that finds the boxes it was given, in one pass."""

    def __init__(self, *boxes):
        self.boxes = [np.asarray(box, np.float32) for box in boxes]

    def __call__(self, img: np.ndarray) -> List[np.ndarray]:
        return [box.copy() for box in self.boxes]

    def detect(self, img: np.ndarray, found_nothing: bool = False) -> Tuple[List[np.ndarray], bool]:
        return ([] if found_nothing else self(img)), False


def document(size: Tuple[int, int] = (640, 420)) -> Tuple[np.ndarray, List[str]]:
    img, _ = render_lines(DOC_LINES, size=size)
    return img, [t for t, _ in DOC_LINES]


def white_text_on_transparency(img: np.ndarray) -> np.ndarray:
    """BGRA: white ink whose opacity is the darkness of `img` (a logo's text on a transparent PNG). Over white, as
    decoders show it by default, nothing is left to read; over black it reads as a negative of `img`."""
    out = np.full(img.shape[:2] + (4,), 255, np.uint8)
    out[:, :, 3] = 255 - cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return out


FORM_ROWS = [["Full-time", "Part-time", "Contract", "Internship"],      # checkboxes in front of each label
             ["Employer", "Role", "From", "To"],                         # a table: header cells in bold
             ["Acme Corp.", "Data Analyst", "03/2015", "08/2019"]]


def form(size: Tuple[int, int] = (1240, 420)) -> np.ndarray:
    """A form's rows as users scan them: labels after checkboxes, a ruled table whose cells differ in height
    (capitals, descenders, a bold header). The boxes of one row start up to ~15 px apart in y, past the 10 px of
    PaddleOCR's sorted_boxes; read in rows, each row gives FORM_ROWS' words left to right."""
    from PIL import Image, ImageDraw, ImageFont

    regular = latin_font_path()
    bold = regular.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    for i, label in enumerate(FORM_ROWS[0]):
        x, y = 60 + i * 290, 50 + (i % 2) * 9           # hand-filled forms are not level
        draw.rectangle((x, y, x + 34, y + 34), outline="black", width=3)
        draw.text((x + 48, y + 2), label, font=ImageFont.truetype(regular, 30), fill="black")
    columns = [40, 380, 700, 950, 1200]
    for r, row in enumerate(FORM_ROWS[1:]):
        y = 170 + r * 90
        for c, text in enumerate(row):
            draw.rectangle((columns[c], y, columns[c + 1], y + 90), outline="black", width=2)
            font = ImageFont.truetype(bold if r == 0 else regular, 30 if c % 2 else 26)
            draw.text((columns[c] + 14, y + 18 + 6 * (c % 2)), text, font=font, fill="black")
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)


COLUMN_TITLE = "Annual Report of the Harbour Board"
COLUMN_TEXT = [["The harbour handled more cargo", "this year than in any year", "before, and the new quay",
                "opened in the spring."],
               ["Work on the second berth", "begins next month and will", "take about two years to",
                "complete in full."]]
COLUMN_FOOTER = "Printed by the Harbour Board Press"


def two_column_page(size: Tuple[int, int] = (1240, 560)) -> Tuple[np.ndarray, List[str]]:
    """A title across the page, two columns of running text whose lines share baselines, a footer across: the
    lines in reading order are the title, the left column, the right column, the footer. Read in rows, each pair
    of lines at one height is read across the gutter."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    draw.text((60, 30), COLUMN_TITLE, font=ImageFont.truetype(latin_font_path(), 40), fill="black")
    font = ImageFont.truetype(latin_font_path(), 28)
    for c, column in enumerate(COLUMN_TEXT):
        for r, line in enumerate(column):
            draw.text((60 + c * 600, 130 + r * 56), line, font=font, fill="black")
    draw.text((60, 400), COLUMN_FOOTER, font=font, fill="black")
    lines = [COLUMN_TITLE] + [line for column in COLUMN_TEXT for line in column] + [COLUMN_FOOTER]
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR), lines


def nested_cut_boxes(levels: int) -> List[np.ndarray]:
    """Boxes ([4, 2] float32, in reading order) whose column order nests `levels` cuts deep, each inside the last: a
    line across the part's top (a band), a column of lines down its left side (a column), then the same in what is
    left, to the right and below."""
    bottom, width = 20.0 * levels + 200, 210.0 * levels + 1000
    rects = []
    for k in range(levels):
        x0, y0 = 210.0 * k, 20.0 * k
        rects.append((x0, y0, width - x0, 10))
        rects += [(x0, y, 200, 20) for y in np.arange(y0 + 20, bottom, 24)]
    return [np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32) for x, y, w, h in rects]


def small_print_page(size: Tuple[int, int] = (3200, 2400)) -> np.ndarray:
    """A large white page with `document()` at half size in one corner: its lines are about 10 px high, and the
    default detector resize (max 960) shrinks them to 3 px, too small to find; at full size they are read (and,
    nothing found at 960, by the detector's second pass at 2880)."""
    img, _ = document()
    small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    page = np.full((size[1], size[0], 3), 255, np.uint8)
    page[100:100 + small.shape[0], 100:100 + small.shape[1]] = small
    return page


def headline_over_small_print() -> np.ndarray:
    """`small_print_page()` with a large headline (`RECEIPT`, about 110 px high): the first pass finds only the
    headline, large enough, so there is no second pass and the small print is lost unless the page is detected at
    its own size."""
    page = small_print_page()
    headline = render_line("RECEIPT", font_size=160, height=220)
    page[700:700 + headline.shape[0], 1200:1200 + headline.shape[1]] = headline
    return page


def document_on_page(scale: float, size: Tuple[int, int] = (1600, 1200)) -> np.ndarray:
    """`document()` scaled by `scale` at the top left of a larger white page."""
    img, _ = document()
    if scale < 1:
        scaled = cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    else:
        scaled = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    page = np.full((size[1], size[0], 3), 255, np.uint8)
    page[80:80 + scaled.shape[0], 80:80 + scaled.shape[1]] = scaled
    return page


def half_size_document(size: Tuple[int, int] = (1600, 1200)) -> np.ndarray:
    """`document()` at half size on a larger white page: its lines, about 20 px high, are shrunk to about 12 px by
    the default detector resize (max 960), small enough for the detector's second, zoomed pass (the most zoom)."""
    return document_on_page(0.5, size)


def with_sensor_noise(img: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    """The image as a camera gives it: Gaussian noise (seeded) leaves almost no two neighbouring pixels equal."""
    noise = np.random.default_rng(0).normal(0, sigma, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def photographed_small_print() -> np.ndarray:
    """`half_size_document()` with a camera's noise: its 12 px lines (at 960) are zoomed past the page's own size,
    as a photo's are (det.yml's small_text_rendered_share), where the rendered page stops at its size."""
    return with_sensor_noise(half_size_document())


def tiny_print_page() -> np.ndarray:
    """`document()` at 0.3 times on a 1600 px page: its lines, about 8 px high, are shrunk to 5 px by the default
    detector resize (max 960), where nothing at all is found; twice that input (1920, past the page's own size)
    finds and reads them."""
    return document_on_page(0.3)


def scribbled_tiny_print_page() -> np.ndarray:
    """`tiny_print_page()` with a scribble (a signature's wave, about 90 px high) under its print: the default
    resize (max 960) finds the scribble as a line, large enough not to zoom, and the recognizer reads it as nothing
    (a score under drop_score); the print is found only enlarged, as on the page without it."""
    page = tiny_print_page()
    xs = np.arange(900, 1500)
    ys = (900 + 40 * np.sin(xs / 12.0)).astype(np.int32)
    cv2.polylines(page, [np.stack([xs, ys], 1).reshape(-1, 1, 2)], False, (0, 0, 0), 8)
    return page


MINUTES = ["The committee met on Tuesday to review the budget for the coming year",
           "and the repairs to the hall. Members agreed that the roof should be mended",
           "first and that the old windows can wait until spring. A letter from the",
           "council was read and accepted. The next meeting will be held on the first",
           "Monday of the month at seven in the evening, as before. Minutes were taken",
           "by the secretary and signed by the chair; copies are kept in the library."]


def photographed_page(size: Tuple[int, int] = (1600, 1200)) -> np.ndarray:
    """A page of six long lines of small print, photographed: at 0.3 times its size, tilted back (perspective),
    lit from one side, slightly blurred, with a camera's noise, on a grey table. Its lines, about 10 px high and
    ragged along their top (ascenders), half fill their rectangles: the zoomed second pass traces all six, and
    scored by its rectangle (DB's fast score mode, det.yml's small_text_score_mode) two of them fall under
    box_thresh."""
    font_size = 40
    page, _ = render_lines([(line, font_size) for line in MINUTES], size=(42 * font_size, 524), line_gap=24,
                           background=245)
    h, w = page.shape[:2]
    width, height = size
    x0, y0, s, k = 0.08 * width, 0.2 * height, 0.3, 0.06
    corners = np.float32([[x0 + w * s * k, y0], [x0 + w * s * (1 - k), y0 + 0.02 * height], [x0 + w * s, y0 + h * s],
                          [x0, y0 + h * s]])
    warp = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    photo = cv2.warpPerspective(page, warp, size, flags=cv2.INTER_AREA, borderValue=(110, 110, 110))
    light = np.linspace(1.0, 0.7, width, dtype=np.float32)[None, :, None]
    blurred = cv2.GaussianBlur(photo.astype(np.float32) * light, (0, 0), 0.6)
    return with_sensor_noise(blurred, sigma=3.0)


SLIDE_TITLE = "Quarterly Results Review"
SLIDE_POINTS = ["Cargo handled rose by a third", "The new quay opens in May"]


def slide(size: Tuple[int, int] = (1280, 720)) -> np.ndarray:
    """A presentation slide: a bold title 64 px high over two points in regular type, 30 px. At the detector's
    resize (max 960) the title's letters are about 40 px high and DB splits it into two overlapping pieces
    (`Quarterly Results`, `s Review`); shrunk to 18 px high it sees the line whole (det.yml's large_text_above
    and large_text_height)."""
    bold = os.path.join(os.path.dirname(latin_font_path()), "DejaVuSans-Bold.ttf")
    title, _ = render_lines([(SLIDE_TITLE, 64)], size=(size[0], 200), margin=80, font_path=bold)
    points, _ = render_lines([(point, 30) for point in SLIDE_POINTS], size=(size[0], size[1] - 200), margin=80,
                             line_gap=40)
    return np.vstack([title, points])


BULLETED_POINTS = ["The harbour handled more cargo", "The new quay opens in May", "Fees stay as they are"]


def bulleted_points(size: Tuple[int, int] = (1600, 500)) -> np.ndarray:
    """Three points of a list in a monospaced face, 34 px, each after a round bullet 10 px wide, 40 px before it.
    The detector takes the first two bullets into their lines' boxes, and read as they are they come out as `o `
    (the recognizers have no bullet)."""
    mono = os.path.join(os.path.dirname(latin_font_path()), "DejaVuSansMono.ttf")
    img, boxes = render_lines([(point, 34) for point in BULLETED_POINTS], size=size, margin=80, line_gap=30,
                              font_path=mono)
    for (_, top), _, _, (_, bottom) in boxes:
        cv2.circle(img, (45, int((top + bottom) // 2)), 5, (20, 20, 20), -1, cv2.LINE_AA)
    return img


HIGHLIGHTED_LINES = ["The harbour handled more cargo this year", "Fees stay as they are until the spring",
                     "The new quay opens in May", "Members agreed that the roof should be mended first",
                     "Copies are kept in the library", "The next meeting is on the first Monday"]
# a highlighter's colours (BGR), multiplied into the page as ink on paper is
HIGHLIGHTS = [(80, 240, 255), (120, 255, 170), (220, 180, 255), (255, 220, 130)]


def highlighted_page(size: Tuple[int, int] = (1000, 640), quality: int = 92) -> np.ndarray:
    """A rendered page of six 20 px lines, each marked with a highlighter, saved as JPEG: its text is found about
    20 px high and, the page not flat enough to be rendered print, zoomed past its size to 32 px, where the
    detector splits the lines on their coloured grounds at the spaces and inside words (`The` | `e new quay opens
    in May`) unless it sees the page in grey (det.yml's small_text_grey)."""
    img, boxes = render_lines([(line, 20) for line in HIGHLIGHTED_LINES], size=size, margin=60, line_gap=56,
                              background=255)
    page = img.astype(np.float32)
    for k, ((left, top), _, (right, bottom), _) in enumerate(boxes):
        band = page[top - 6:bottom + 5, left - 3:right + 3]
        band *= np.float32(HIGHLIGHTS[k % len(HIGHLIGHTS)]) / 255.0
    _, data = cv2.imencode(".jpg", np.clip(page + 0.5, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


POOR_SCAN_WORDS = ["TOTAL 27.30", "EXIT", "Parking", "Welcome", "Invoice 0142", "CASH", "315 KM", "MOBILE", "Station",
                   "Restaurant", "Exchange", "Hello"]


def poorly_scanned_words() -> np.ndarray:
    """Twelve short 14 px lines, scanned poorly (`poor_scan` at 0.6, JPEG quality 20): some read unsurely as cut
    (`Veicome`, `Irvoice 0142`) and right from the crop blurred (rec.yml's unsure_blur)."""
    page, _ = render_lines([(word, 14) for word in POOR_SCAN_WORDS], size=(320, 60 + 28 * len(POOR_SCAN_WORDS)),
                           line_gap=14)
    return poor_scan(page, scale=0.6, quality=20)


def nearly_large_document() -> np.ndarray:
    """`document()` at 1.55 times on a 1600 px page: the default resize (max 960) finds its lines 24 px high
    (median), under small_text_below (28) but near small_text_height (32): zoomed 32 / 24 times, not the most."""
    return document_on_page(1.55)


LONG_LINE = "Printed by the Harbour Board Press and sold at the office of the board in the old town hall"


def long_line_page(size: Tuple[int, int] = (1500, 110)) -> np.ndarray:
    """One line about 40 times as wide as high: the direction classifier sees its crop squeezed, unless in pieces."""
    img, _ = render_lines([(LONG_LINE, 28)], size=size)
    return img


SHORT_WORD = "drop:"


def short_word_page(size: Tuple[int, int] = (320, 120)) -> np.ndarray:
    """One upright short word the official direction classifier calls turned (above cls_thresh) when it sees it
    alone; seen turned by 180 degrees too, it is kept upright (cls.yml's turned_view)."""
    img, _ = render_lines([(SHORT_WORD, 28)], size=size)
    return img


# Labels ending in punctuation, one per line at 28 px: the official detector's boxes of "ROUNDING:" and "STREET,"
# end on the mark, which the official recognizer drops from the crop as cut (rec.yml's widen_inked_ends reads it).
DENSE_PHRASES = ["Office supplies will be billed", "Fill all cells in the small tiff file", "Allow little balloons",
                 "Coffee and toffee still sell well", "Follow all the illustrated tips", "Skill bill mill till"]


def dense_print_page(font_size: int = 11) -> np.ndarray:
    """Small proportional print full of double letters ('ll', 'ff'): lines the recognizer reads again wider
    (rec.yml's dense_pitch)."""
    img, _ = render_lines([(p, font_size) for p in DENSE_PHRASES], size=(420, 60 + len(DENSE_PHRASES) * 26),
                          margin=20, line_gap=12)
    return img


PUNCTUATED_LABELS = ["TOTAL:", "ROUNDING:", "STREET,", "GLASGOW.", "REF:", "TEL:", "Change:", "NO.", "drive,",
                     "SERVICE:", "H/P:", "unit:"]


def punctuated_labels_page() -> np.ndarray:
    img, _ = render_lines([(label, 28) for label in PUNCTUATED_LABELS], size=(400, 60 + 56 * len(PUNCTUATED_LABELS)))
    return img


def photo_like(size: Tuple[int, int] = (960, 544)) -> np.ndarray:
    """A tilted page on a textured background: a detector input with more than flat regions."""
    img, _ = render_lines(DOC_LINES + [("Kuala Lumpur 50450", 28)], size=size)
    h, w = img.shape[:2]
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 5, 1.0), (w, h), borderValue=(90, 120, 150))
    return with_sensor_noise(rot)


def poor_scan(img: np.ndarray, scale: float = 0.5, quality: int = 30) -> np.ndarray:
    """A page as a poor scan gives it: shrunk and enlarged again, with noise, saved as a JPEG of this quality (the
    recognizer's texts of such crops depend on how its batches pad them)."""
    h, w = img.shape[:2]
    blurred = cv2.resize(cv2.resize(img, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA), (w, h))
    noisy = np.clip(blurred + np.random.default_rng(0).normal(0, 12, blurred.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def text_lines() -> List[np.ndarray]:
    lines = [render_line(t) for t in REC_WORDS]
    font = cjk_font_path()
    if font:
        lines.append(render_line("营业时间 9:00", font_path=font))
    return lines


TIGHT_WORDS = ["Hello", "TOTAL 27.30", "EXIT", "315 KM", "CASH", "0123",
               "The quick brown fox jumps over the lazy dog 1234567890"]


def tight_crops(words: List[str] = TIGHT_WORDS) -> List[np.ndarray]:
    """Rendered words and lines cut to their ink and a pixel more, as word-recognition sets crop them."""
    crops = []
    for word in words:
        img = render_line(word)
        ink = np.argwhere(img.min(axis=2) < 128)
        (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
        crops.append(img[max(y0 - 1, 0):y1 + 2, max(x0 - 1, 0):x1 + 2])
    return crops


def to_rec_batch(lines: List[np.ndarray], width: int) -> np.ndarray:
    """Lines resized to height 32 (keeping ratio up to `width`), normalised and right-padded to `width`."""
    batch = np.zeros((len(lines), 3, 32, width), dtype=np.float32)
    for i, img in enumerate(lines):
        w = min(width, int(np.ceil(32 * img.shape[1] / img.shape[0])))
        resized = cv2.resize(img, (w, 32)).astype(np.float32).transpose(2, 0, 1)
        batch[i, :, :, :w] = (resized / 255.0 - 0.5) / 0.5
    return batch


def to_cls_batch(lines: List[np.ndarray]) -> np.ndarray:
    batch = np.zeros((len(lines), 3, 48, 192), dtype=np.float32)
    for i, img in enumerate(lines):
        w = min(192, int(np.ceil(48 * img.shape[1] / img.shape[0])))
        resized = cv2.resize(img, (w, 48)).astype(np.float32).transpose(2, 0, 1)
        batch[i, :, :, :w] = (resized / 255.0 - 0.5) / 0.5
    return batch


def to_det_input(img: np.ndarray, height: int, width: int) -> np.ndarray:
    resized = cv2.resize(img, (width, height)).astype(np.float32) / 255.0
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    return ((resized - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)


# ------------------------------------------------------------------ documents (issue 23)

PDF_PAGE_LINES = [["Invoice 2026-0142", "Fresh Milk 13.80", "TOTAL 27.30"],
                  ["Rotated page", "Delivery note 77"],
                  ["Upside down", "Kuala Lumpur 50450"]]


def text_pdf(path, pages=PDF_PAGE_LINES, rotate=(0, 90, 0), turned=(False, False, True), blank_after=True,
             password=None, size=(420, 300)):
    """A PDF whose pages hold real text (Helvetica, which every renderer has), drawn with a font: page 2 has
    /Rotate 90, page 3 its content turned 180 degrees, then a blank page; encrypted when `password` is given."""
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    width, height = size
    for lines, rotation, upside_down in zip(pages, rotate, turned):
        ops = ["q"]
        if upside_down:
            ops.append(f"-1 0 0 -1 {width} {height} cm")
        ops.append("BT /F1 22 Tf")
        for i, line in enumerate(lines):
            ops.append(f"1 0 0 1 30 {height - 50 - 50 * i} Tm ({line}) Tj")
        ops.append("ET Q")
        page = pdf.add_blank_page(page_size=(width, height))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream("\n".join(ops).encode())
        if rotation:
            page.obj.Rotate = rotation
    if blank_after:
        pdf.add_blank_page(page_size=(width, height))
    encryption = pikepdf.Encryption(user=password, owner=password + "-owner") if password else False
    pdf.save(str(path), encryption=encryption)
    return path


def multipage_tiff(path, images):
    """A TIFF with one page per BGR image (Pillow's save_all)."""
    from PIL import Image

    frames = [Image.fromarray(img[:, :, ::-1]) for img in images]
    frames[0].save(str(path), save_all=True, append_images=frames[1:], dpi=(200, 200), compression="tiff_lzw")
    return path
