"""Synthesize screenshots: application pages rendered by a real browser (headless Chromium), light and dark.

    python dataset_tools/synth_screen.py --num 20 --out screens --seed 0
    paddle-pp data synth_screen --num 20 --out screens --seed 0 --size 1366x768 --theme dark
    paddle-pp data synth_screen --num 20 --out screens_hidpi --seed 0 --size 1440x900 --scale 2   # a Retina screen

Each page is an application window as people screenshot it: a sidebar of menu entries, a title, paragraphs, a
list of rows with a right-aligned value in a secondary colour, a form of labels and filled fields, buttons, links
and a status bar, in one of the machine's fonts at 11-16 CSS px, on a light or a dark theme (`--theme both`: every
other page), on a screen of `--scale` device pixels per CSS pixel (2: HiDPI, text twice as many pixels high). Chromium renders them as it renders any web page (hinting, anti-aliasing, ligatures), and each text's
box is the one the browser laid it out in (every text is one line), so the labels are exact. Texts are words of
the English corpus (corpus/en_words.txt) in sentence, title or lower case, some with a number or a mark.

Output: DIR/label.txt in the detection format (`images/0000_light.png<TAB>[{"transcription", "points"}]`), the
PNG screenshots, and DIR/montage.png. Needs Chromium and its driver (Debian: `apt-get install chromium
chromium-driver`) and Selenium (requirements.txt); `--chromium` and `--chromedriver` give other paths.
"""
from __future__ import annotations

import argparse
import html
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from paddle_pp.dataset_tools.text_corpus import CORPUS_DIR, read_corpus_lines
from paddle_pp.dataset_tools.tool_io import DataToolError, make_montage, tool_main, write_montage_png
from paddle_pp.utils.files import write_bytes_atomic, write_text_atomic
from paddle_pp.utils.label_files import format_det_label

THEMES = ("light", "dark", "both")
# (background, panel, text, secondary text, accent, rule) of each theme
PALETTES = {"light": ("#ffffff", "#f1f3f4", "#202124", "#5f6368", "#1a73e8", "#dadce0"),
            "dark": ("#1e1f22", "#2b2d31", "#e6e6e6", "#9aa0a6", "#8ab4f8", "#3c4043")}
# families tried in this order of preference when the machine has them (fc-list); CSS falls back to sans-serif
FONT_FAMILIES = ("DejaVu Sans", "Liberation Sans", "Liberation Serif", "Roboto", "Arimo", "Tinos", "Cousine",
                 "FreeSans", "FreeSerif", "Liberation Mono", "Noto Sans", "Open Sans", "Lato", "Ubuntu")
BODY_SIZES = (11, 12, 13, 14, 15, 16)     # CSS px at device scale 1


@dataclass(frozen=True)
class ScreenText:
    """A text of a page and the box the browser laid it out in (viewport pixels)."""
    text: str
    left: float
    top: float
    right: float
    bottom: float

    def points(self) -> List[List[int]]:
        """The box grown to whole pixels."""
        left, top = int(np.floor(self.left)), int(np.floor(self.top))
        right, bottom = int(np.ceil(self.right)), int(np.ceil(self.bottom))
        return [[left, top], [right, top], [right, bottom], [left, bottom]]


class PageWriter:
    """The HTML of one page: every text a single-line <span class="t"> whose box the browser reports."""

    def __init__(self, rng: random.Random, words: Sequence[str]) -> None:
        self.rng, self.words = rng, words

    def phrase(self, low: int, high: int) -> str:
        rng = self.rng
        text = " ".join(rng.choice(self.words) for _ in range(rng.randint(low, high)))
        case = rng.random()
        if case < 0.5:
            text = text[0].upper() + text[1:]
        elif case < 0.65:
            text = text.title()
        if rng.random() < 0.25:
            count = f" ({rng.randint(1, 99)})"
            amount = f" {rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
            date = f" {rng.randint(1, 28)}/{rng.randint(1, 12)}/20{rng.randint(10, 29)}"
            text += rng.choice([":", ".", "?", count, amount, date])
        return text

    def text(self, low: int, high: int, style: str = "") -> str:
        return f'<span class="t" style="{style}">{html.escape(self.phrase(low, high))}</span>'

    def page(self, theme: str, fonts: Sequence[str]) -> str:
        rng = self.rng
        background, panel, ink, secondary, accent, rule = PALETTES[theme]
        font, size = rng.choice(fonts), rng.choice(BODY_SIZES)
        nav = "".join(f'<div class="nav">{self.text(1, 2)}</div>' for _ in range(rng.randint(6, 12)))
        title = self.text(2, 5, f"font-size:{size + rng.choice((6, 8, 10))}px;font-weight:bold")
        paragraphs = "".join(f'<div class="p">{self.text(5, 11)}</div>' for _ in range(rng.randint(2, 6)))
        rows = "".join(f'<div class="row">{self.text(1, 4)}<span style="float:right">'
                       f'{self.text(1, 2, "color:" + secondary)}</span></div>' for _ in range(rng.randint(4, 10)))
        fields = "".join(f'<div class="field">{self.text(1, 2, "color:" + secondary)}<div class="input">'
                         f'{self.text(1, 3)}</div></div>' for _ in range(rng.randint(2, 4)))
        buttons = "".join(f"<button>{self.text(1, 2)}</button>" for _ in range(rng.randint(2, 4)))
        links = "".join(f'<div class="link">{self.text(1, 3, "color:" + accent)}</div>'
                        for _ in range(rng.randint(1, 4)))
        status = self.text(2, 6, f"font-size:{max(10, size - 2)}px;color:{secondary}")
        sidebar_width, list_width = rng.randint(180, 260), rng.randint(480, 680)
        return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:{background}; color:{ink}; font-family:'{font}', sans-serif; font-size:{size}px; }}
.t {{ white-space:nowrap; }}
.nav {{ padding:7px 16px; }} .p {{ margin:6px 0; }} .link {{ margin:4px 0; }}
.row {{ padding:8px 12px; border-bottom:1px solid {rule}; }}
.field {{ margin:10px 0; }} .input {{ margin-top:4px; padding:6px 8px; width:320px; border:1px solid {rule};
  border-radius:4px; background:{panel}; }}
button {{ margin:8px 8px 8px 0; padding:6px 14px; font:inherit; color:{ink}; background:{panel};
  border:1px solid {rule}; border-radius:4px; }}
.status {{ position:fixed; bottom:0; left:0; right:0; padding:4px 12px; background:{panel};
  border-top:1px solid {rule}; }}
</style></head><body>
<div style="display:flex">
<div style="width:{sidebar_width}px;background:{panel};min-height:100vh;padding-top:10px">{nav}</div>
<div style="padding:20px 30px;flex:1">{title}<div style="margin:12px 0;max-width:900px">{paragraphs}</div>
<div style="display:flex;gap:40px"><div style="width:{list_width}px">{rows}</div><div>{fields}</div></div>
<div>{buttons}</div>{links}</div></div><div class="status">{status}</div></body></html>"""


# The boxes of the page's texts, as the browser laid them out, and whether each is seen: not under another element
# (the status bar stays at the bottom of the window, over whatever the page has there)
BOXES_SCRIPT = """return Array.from(document.querySelectorAll('span.t')).map(e => {
  const r = e.getBoundingClientRect();
  const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return [e.textContent, r.left, r.top, r.right, r.bottom, top !== null && (top === e || e.contains(top))]; })"""


def machine_fonts() -> List[str]:
    """FONT_FAMILIES the machine has (fontconfig), or sans-serif when it has none of them or no fc-list."""
    try:
        listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    return [family for family in FONT_FAMILIES if family in families] or ["sans-serif"]


def find_executable(given: Optional[str], names: Sequence[str], what: str) -> str:
    for name in ([given] if given else list(names)):
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    tried = given or " / ".join(names)
    raise DataToolError(f"{what} not found ({tried}): install it (Debian: apt-get install chromium chromium-driver) "
                        f"or give its path with --{what.split()[0].lower()}")


def start_browser(chromium: str, chromedriver: str, profile: Path) -> Any:
    try:
        from selenium import webdriver
    except ImportError:
        raise DataToolError("Selenium is needed to drive the browser: pip install selenium "
                            "(requirements.txt has it)") from None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=options)


def screenshot(driver: Any, page: str, html_file: Path, size: Tuple[int, int],
               scale: float = 1.0) -> Tuple[np.ndarray, List[ScreenText]]:
    """The page laid out in a window of exactly `size` (width, height) CSS pixels and rendered at device scale
    `scale` (2: a HiDPI screen): the BGR screenshot, `scale` times as large, and its texts (in its pixels) that lie
    wholly inside it and are not covered by another element."""
    css_width, css_height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": css_width, "height": css_height, "deviceScaleFactor": scale, "mobile": False})
    width, height = int(round(css_width * scale)), int(round(css_height * scale))
    html_file.write_text(page, encoding="utf-8")
    driver.get(html_file.resolve().as_uri())
    png = np.frombuffer(driver.get_screenshot_as_png(), np.uint8)
    image = cv2.imdecode(png, cv2.IMREAD_COLOR)
    if image is None or image.shape[:2] != (height, width):
        got = None if image is None else f"{image.shape[1]}x{image.shape[0]}"
        raise DataToolError(f"the browser gave a {got} screenshot for a {width}x{height} page")
    texts = [ScreenText(text, *(v * scale for v in box)) for text, *box, seen in driver.execute_script(BOXES_SCRIPT)
             if seen]
    inside = [t for t in texts if t.text.strip() and t.left >= 0 and t.top >= 0 and t.right <= width
              and t.bottom <= height and t.right > t.left and t.bottom > t.top]
    return image, inside


def page_themes(theme: str, num: int) -> List[str]:
    return [("light", "dark")[i % 2] if theme == "both" else theme for i in range(num)]


def parse_size(text: str) -> Tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise argparse.ArgumentTypeError(f"{text}: width 320-7680 and height 240-4320 pixels")
    return width, height


def parse_scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1.0 <= scale <= 4.0:
        raise argparse.ArgumentTypeError(f"{text}: a device scale from 1 to 4")
    return scale


def generate(out: Path, num: int, seed: int, size: Tuple[int, int], theme: str, chromium: str, chromedriver: str,
             overwrite: bool = False, progress: bool = True, montage: int = 4, scale: float = 1.0) -> Dict[str, Any]:
    """Render `num` pages into out/images and write out/label.txt (atomically, after the last image)."""
    label_file = out / "label.txt"
    if label_file.exists() and not overwrite:
        raise DataToolError(f"{label_file} exists: give --overwrite or another --out")
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    words = [w for w in read_corpus_lines(CORPUS_DIR / "en_words.txt") if w.isalpha()]
    writer, fonts = PageWriter(rng, words), machine_fonts()
    lines, shown, texts = [], [], 0
    with tempfile.TemporaryDirectory(prefix="synth_screen_") as tmp:
        driver = start_browser(chromium, chromedriver, Path(tmp) / "profile")
        try:
            for index, page_theme in enumerate(tqdm(page_themes(theme, num), desc="screens", unit="page",
                                                    disable=not progress)):
                image, boxes = screenshot(driver, writer.page(page_theme, fonts), Path(tmp) / "page.html", size,
                                          scale)
                name = f"images/{index:04d}_{page_theme}.png"
                write_bytes_atomic(out / name, cv2.imencode(".png", image)[1].tobytes())
                labels = [{"transcription": box.text, "points": box.points()} for box in boxes]
                lines.append(f"{name}\t{format_det_label(labels)}")
                texts += len(boxes)
                if len(shown) < montage:
                    shown.append(drawn(image, boxes))
        finally:
            driver.quit()
    write_text_atomic(label_file, "\n".join(lines) + "\n")
    if shown:
        write_montage_png(out / "montage.png", make_montage(shown, columns=2, cell_width=640, cell_height=360))
    return {"pages": num, "texts": texts, "fonts": fonts}


def drawn(image: np.ndarray, boxes: Sequence[ScreenText]) -> np.ndarray:
    """The screenshot with its labelled boxes outlined (the montage)."""
    out = image.copy()
    for box in boxes:
        cv2.polylines(out, [np.array(box.points(), np.int32)], True, (0, 160, 0), 1)
    return out


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=parse_size, default=(1920, 1080),
                        help="the window, WIDTHxHEIGHT in CSS pixels (1920x1080)")
    parser.add_argument("--scale", type=parse_scale, default=1.0,
                        help="device pixels per CSS pixel: 2 for a HiDPI (Retina) screen, whose screenshots are twice "
                             "as large (default 1)")
    parser.add_argument("--theme", choices=THEMES, default="both", help="both: light and dark pages in turn")
    parser.add_argument("--chromium", help="the browser (default: chromium, chromium-browser or google-chrome)")
    parser.add_argument("--chromedriver", help="its WebDriver (default: chromedriver)")
    parser.add_argument("--montage", type=int, default=4, help="screenshots in DIR/montage.png (0: none)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no_progress", action="store_true")
    args = parser.parse_args(argv)
    if args.num <= 0:
        raise DataToolError("--num must be positive")
    chromium = find_executable(args.chromium, ("chromium", "chromium-browser", "google-chrome"), "chromium browser")
    chromedriver = find_executable(args.chromedriver, ("chromedriver",), "chromedriver")
    stats = generate(args.out, args.num, args.seed, args.size, args.theme, chromium, chromedriver, args.overwrite,
                     not args.no_progress, args.montage, args.scale)
    print(f"{stats['pages']} screenshots, {stats['texts']} texts ({', '.join(stats['fonts'])}) -> "
          f"{args.out}/label.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
