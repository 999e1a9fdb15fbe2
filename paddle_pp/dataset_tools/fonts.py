"""Font discovery and glyph coverage, so that no sample is ever drawn with tofu boxes.

Coverage comes from each font's cmap (fontTools, which matplotlib already depends on). A font that
maps a character to no glyph is never used for a text containing it: callers either pick another font
or skip the text. Fonts that would draw placeholder boxes for everything (LastResort) or that use
private symbol encodings (TeX cm*, STIX size/non-unicode variants) are excluded from discovery.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")
# Placeholder-box fonts and fonts with symbol encodings would draw wrong glyphs for plain letters.
# Symbol fonts (URW's D050000L = Dingbats and StandardSymbolsPS, Symbol, Wingdings) map ASCII code points to
# pictograms or Greek: "Total" would be drawn as "Τοταλ" under a label that says Total.
EXCLUDED_FONT_NAME = re.compile(r"^(LastResort|STIXNonUni|STIXSiz|cm(b|ex|mi|r|ss|sy|ti|tt)10|DejaVuSansDisplay|"
                                r"DejaVuSerifDisplay|DejaVuMath|D050000L|StandardSymbols|Symbol|Wingding|Webdings|"
                                r"\w*Dingbats)", re.IGNORECASE)
LATIN_PROBE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CJK_PROBE = "的一是不了人我在有他这中大来上国个到说们"


@dataclass(frozen=True)
class FontInfo:
    """One usable face: its file, index inside a .ttc, and the set of code points it has glyphs for."""
    path: str
    index: int
    name: str
    codepoints: FrozenSet[int] = field(repr=False)

    def covers(self, text: str) -> bool:
        """True when every non-whitespace character has a real glyph in this face."""
        return {ord(char) for char in text if not char.isspace()} <= self.codepoints

    @property
    def is_cjk(self) -> bool:
        return all(ord(char) in self.codepoints for char in CJK_PROBE)

    @property
    def is_latin(self) -> bool:
        return all(ord(char) in self.codepoints for char in LATIN_PROBE)


def _glyph_codepoints(font) -> FrozenSet[int]:
    """Code points whose cmap entry points to a glyph other than .notdef that has an outline.

    An empty outline for a visible character would render nothing (an invisible tofu). For TrueType
    outlines, emptiness is read from the 'loca' offsets (no glyph decompiling, so a 30k-glyph CJK face
    takes milliseconds, not seconds).
    """
    cmap = font.getBestCmap() or {}
    empty_glyph_ids = set()
    if "loca" in font:
        offsets = list(font["loca"])
        empty_glyph_ids = {i for i in range(len(offsets) - 1) if offsets[i + 1] == offsets[i]}
    codepoints = set()
    for code, name in cmap.items():
        if name == ".notdef":
            continue
        if not chr(code).isspace() and empty_glyph_ids and font.getGlyphID(name) in empty_glyph_ids:
            continue
        codepoints.add(code)
    return frozenset(codepoints)


@lru_cache(maxsize=None)
def load_font_info(path: str) -> List[FontInfo]:
    """All faces of one font file with their coverage; unreadable files give an empty list."""
    from fontTools.ttLib import TTCollection, TTFont

    try:
        font_file = TTCollection(path, lazy=True) if path.lower().endswith(".ttc") else TTFont(path, lazy=True)
    except Exception:  # a broken font file must not stop discovery of the others
        return []
    faces = list(font_file.fonts) if isinstance(font_file, TTCollection) else [font_file]
    infos = []
    try:
        for index, face in enumerate(faces):
            try:
                codepoints = _glyph_codepoints(face)
                name = face["name"].getDebugName(4) or Path(path).stem
            except Exception:
                continue
            infos.append(FontInfo(path=path, index=index, name=name, codepoints=codepoints))
    finally:
        font_file.close()  # lazy loading keeps the file open until closed
    return infos


def matplotlib_font_dir() -> Optional[Path]:
    try:
        import matplotlib
    except ImportError:
        return None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return path if path.is_dir() else None


def font_files(directories: Iterable[os.PathLike]) -> List[str]:
    """Font files under the directories (recursively), de-duplicated by file name, sorted for determinism."""
    seen: Dict[str, str] = {}
    for directory in directories:
        directory = Path(os.path.expanduser(str(directory)))
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            if path.suffix.lower() in FONT_SUFFIXES and not EXCLUDED_FONT_NAME.match(path.name):
                seen.setdefault(path.name.lower(), str(path))
    return [seen[name] for name in sorted(seen)]


def discover_fonts(font_dirs: Optional[Sequence[os.PathLike]] = None) -> List[FontInfo]:
    """Faces from the given directories, or from the system and matplotlib when none are given."""
    if font_dirs:
        directories = list(font_dirs)
    else:
        directories = list(SYSTEM_FONT_DIRS)
        mpl_dir = matplotlib_font_dir()
        if mpl_dir:
            directories.append(mpl_dir)
    infos: List[FontInfo] = []
    for path in font_files(directories):
        infos.extend(load_font_info(path))
    return infos


def fonts_for_language(fonts: Sequence[FontInfo], lang: str) -> List[FontInfo]:
    """Latin-capable faces for 'en'; CJK-capable faces for 'ch'."""
    if lang == "ch":
        return [font for font in fonts if font.is_cjk]
    return [font for font in fonts if font.is_latin]


def fonts_covering(fonts: Sequence[FontInfo], text: str) -> List[FontInfo]:
    """Faces with a real glyph for every non-space character of `text`."""
    needed = {ord(char) for char in text if not char.isspace()}
    return [font for font in fonts if needed <= font.codepoints]


def union_coverage(fonts: Sequence[FontInfo]) -> FrozenSet[int]:
    covered = set()
    for font in fonts:
        covered |= font.codepoints
    return frozenset(covered)


@lru_cache(maxsize=512)
def pil_font(path: str, index: int, size: int):
    """PIL FreeType face, cached per process (loading a face costs about a millisecond)."""
    from PIL import ImageFont
    return ImageFont.truetype(path, size=size, index=index)


def caption_font(text: str, size: int):
    """A face that covers `text` for montage captions; falls back to PIL's default bitmap font."""
    for font in discover_fonts():
        if font.covers(text):
            return pil_font(font.path, font.index, size)
    from PIL import ImageFont
    return ImageFont.load_default()
