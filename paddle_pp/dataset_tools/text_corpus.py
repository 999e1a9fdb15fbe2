"""Text sources for synthesis: a text file, a word list, random strings over a dictionary, and the
built-in receipt-like English generator (composed from the small word lists in dataset_tools/corpus/).

Every source draws only from a numpy Generator that the caller seeds per sample, so the same seed gives
the same text whatever the number of workers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from paddle_pp.dataset_tools.tool_io import DataToolError, load_dictionary

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def read_corpus_lines(path: os.PathLike) -> List[str]:
    """The non-empty lines of a UTF-8 corpus file, stripped; DataToolError when it cannot be read or is empty."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as error:
        raise DataToolError(f"{path}: cannot read corpus ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DataToolError(f"{path}: corpus must be UTF-8 text") from None
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise DataToolError(f"{path}: corpus has no non-empty lines")
    return lines


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


class TextSource:
    """Base class: sample(rng) returns one text line."""

    def sample(self, rng: np.random.Generator) -> str:
        raise NotImplementedError


class FileCorpus(TextSource):
    """Lines of a text file; a line longer than max_len gives a random span (cut at spaces when it has any)."""

    def __init__(self, path: os.PathLike, min_len: int = 1, max_len: int = 25):
        self.lines = read_corpus_lines(path)
        self.min_len, self.max_len = min_len, max_len

    def sample(self, rng: np.random.Generator) -> str:
        line = _pick(rng, self.lines)
        if len(line) <= self.max_len:
            return line
        length = int(rng.integers(self.min_len, self.max_len + 1))
        start = int(rng.integers(0, len(line) - length + 1))
        span = line[start:start + length]
        if " " in line:  # avoid half words for space-separated scripts
            words = span.split(" ")
            span = " ".join(words[1:-1]) if len(words) > 2 else span
        return span.strip() or line[:self.max_len]


class WordListCorpus(TextSource):
    """1..max_words random words from a list, joined by spaces."""

    def __init__(self, words: Sequence[str], min_words: int = 1, max_words: int = 5):
        if not words:
            raise DataToolError("word list is empty")
        self.words, self.min_words, self.max_words = list(words), min_words, max_words

    @classmethod
    def from_file(cls, path: os.PathLike, min_words: int = 1, max_words: int = 5) -> "WordListCorpus":
        return cls(read_corpus_lines(path), min_words, max_words)

    def sample(self, rng: np.random.Generator) -> str:
        count = int(rng.integers(self.min_words, self.max_words + 1))
        return " ".join(_pick(rng, self.words) for _ in range(count))


class RandomCharsCorpus(TextSource):
    """Random strings over a character set, length uniform in [min_len, max_len]."""

    def __init__(self, characters: Sequence[str], min_len: int = 2, max_len: int = 15):
        characters = [c for c in dict.fromkeys(characters) if c and not c.isspace()]
        if not characters:
            raise DataToolError("character set for random strings is empty (no font covers the dictionary?)")
        self.characters, self.min_len, self.max_len = characters, min_len, max_len

    def sample(self, rng: np.random.Generator) -> str:
        length = int(rng.integers(self.min_len, self.max_len + 1))
        return "".join(self.characters[i] for i in rng.integers(0, len(self.characters), size=length))


class MixtureCorpus(TextSource):
    """Choose one of several sources with given weights."""

    def __init__(self, sources: Sequence[TextSource], weights: Sequence[float]):
        self.sources = list(sources)
        weights = np.asarray(weights, dtype=np.float64)
        self.probabilities = weights / weights.sum()

    def sample(self, rng: np.random.Generator) -> str:
        return self.sources[int(rng.choice(len(self.sources), p=self.probabilities))].sample(rng)


class ReceiptCorpus(TextSource):
    """Receipt- and invoice-like English lines: names, addresses, dates, prices, codes, items, totals.

    The lines are composed from templates and the project's own word lists, so the set is varied without
    copying any real receipt.
    """

    MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    COMPANY_SUFFIXES = ["SDN BHD", "SDN. BHD.", "(M) SDN BHD", "ENTERPRISE", "TRADING", "LTD", "LIMITED", "LLC",
                        "INC", "& CO", "CO.", "PLT", "GROUP", "CORP"]
    CURRENCIES = ["RM", "RM ", "$", "USD ", "S$", "", "", ""]

    def __init__(self, corpus_dir: Path = CORPUS_DIR):
        self.words = read_corpus_lines(corpus_dir / "en_words.txt")
        self.items = read_corpus_lines(corpus_dir / "receipt_items.txt")
        self.shop_words = read_corpus_lines(corpus_dir / "shop_words.txt")
        self.phrases = read_corpus_lines(corpus_dir / "receipt_phrases.txt")
        places = read_corpus_lines(corpus_dir / "places.txt")
        self.streets = [p.split(":", 1)[1] for p in places if p.startswith("street:")]
        self.street_types = [p.split(":", 1)[1] for p in places if p.startswith("type:")]
        self.cities = [p.split(":", 1)[1] for p in places if p.startswith("city:")]
        self.templates: Dict[str, Callable[[np.random.Generator], str]] = {
            "shop": self.shop_name, "reg": self.registration, "address": self.address, "city": self.city_line,
            "phone": self.phone, "date": self.date_time, "docno": self.document_number, "item": self.item_line,
            "price": self.price_line, "total": self.total_line, "phrase": self.phrase, "words": self.word_line,
            "code": self.code, "barcode": self.barcode, "short": self.short_token,
        }
        self.weights = np.array([6, 4, 7, 5, 4, 7, 5, 12, 12, 8, 7, 10, 4, 3, 6], dtype=np.float64)
        self.weights /= self.weights.sum()
        self.names = list(self.templates)

    # --- helpers
    @staticmethod
    def _case(rng: np.random.Generator, text: str) -> str:
        """Receipts are mostly upper case; keep some title and lower case for generality."""
        roll = rng.random()
        if roll < 0.65:
            return text.upper()
        if roll < 0.88:
            return text.title()
        return text.lower()

    @staticmethod
    def _digits(rng: np.random.Generator, count: int) -> str:
        return "".join(str(d) for d in rng.integers(0, 10, size=count))

    def _money(self, rng: np.random.Generator, high: float = 500.0) -> str:
        value = float(np.exp(rng.uniform(np.log(0.05), np.log(high))))
        decimals = 3 if rng.random() < 0.1 else 2
        text = f"{value:,.{decimals}f}" if value >= 1000 and rng.random() < 0.5 else f"{value:.{decimals}f}"
        return ("-" if rng.random() < 0.05 else "") + text

    # --- templates
    def shop_name(self, rng: np.random.Generator) -> str:
        words = [_pick(rng, self.shop_words) for _ in range(int(rng.integers(1, 4)))]
        suffix = _pick(rng, self.COMPANY_SUFFIXES) if rng.random() < 0.7 else ""
        return self._case(rng, " ".join(words + ([suffix] if suffix else [])))

    def registration(self, rng: np.random.Generator) -> str:
        label = _pick(rng, ["CO. REG. NO", "COMPANY REG NO", "GST REG NO", "GST ID", "SST ID", "ROC NO", "BRN",
                            "TAX ID", "REG NO", "VAT NO"])
        number = self._digits(rng, int(rng.integers(6, 13)))
        if rng.random() < 0.4:
            number += "-" + _pick(rng, list("ABCDHKMPTUVWX"))
        sep = _pick(rng, [": ", " : ", ":", " ", " NO: "])
        return f"({number})" if rng.random() < 0.15 else f"{label}{sep}{number}"

    def address(self, rng: np.random.Generator) -> str:
        number = str(int(rng.integers(1, 300)))
        if rng.random() < 0.3:
            number += _pick(rng, ["A", "B", "-1", "-G", ", 1ST FLOOR", "-3A"])
        street = _pick(rng, self.streets)
        if street.startswith("jalan"):
            text = f"NO {number}, {street} {int(rng.integers(1, 40))}"
            if rng.random() < 0.5:
                text += f", TAMAN {_pick(rng, self.shop_words)}"
        else:
            text = f"{number} {street} {_pick(rng, self.street_types)}"
            if rng.random() < 0.3:
                text = f"UNIT {int(rng.integers(1, 60))}, " + text
        return self._case(rng, text + ("," if rng.random() < 0.5 else ""))

    def city_line(self, rng: np.random.Generator) -> str:
        code = self._digits(rng, 5)
        city = _pick(rng, self.cities)
        pattern = int(rng.integers(3))
        text = [f"{code} {city}", f"{city} {code}", f"{code}, {city}."][pattern]
        return self._case(rng, text)

    def phone(self, rng: np.random.Generator) -> str:
        label = _pick(rng, ["TEL", "TEL NO", "PHONE", "FAX", "H/P", "TEL/FAX", ""])
        number = _pick(rng, [f"0{int(rng.integers(1, 10))}-{self._digits(rng, 4)} {self._digits(rng, 4)}",
                             f"+60{int(rng.integers(1, 10))}-{self._digits(rng, 4)} {self._digits(rng, 4)}",
                             f"({self._digits(rng, 3)}) {self._digits(rng, 3)}-{self._digits(rng, 4)}",
                             f"01{int(rng.integers(0, 10))}-{self._digits(rng, 7)}"])
        return f"{label}: {number}" if label else number

    def date_time(self, rng: np.random.Generator) -> str:
        day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(2010, 2026))
        date = _pick(rng, [f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}",
                           f"{day:02d}-{month:02d}-{year % 100:02d}", f"{day} {self.MONTHS[month - 1]} {year}",
                           f"{day:02d}.{month:02d}.{year}", f"{month:02d}/{day:02d}/{year % 100:02d}"])
        hour, minute, second = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
        clock = _pick(rng, [f"{hour:02d}:{minute:02d}", f"{hour:02d}:{minute:02d}:{second:02d}",
                            f"{hour % 12 or 12}:{minute:02d}:{second:02d} {'AM' if hour < 12 else 'PM'}"])
        roll = rng.random()
        if roll < 0.3:
            return date
        if roll < 0.45:
            return clock
        if roll < 0.75:
            return f"{date} {clock}"
        return f"{_pick(rng, ['DATE', 'DATE:', 'DATE :', 'Date:'])} {date}" + (f" {clock}" if rng.random() < 0.5 else "")

    def document_number(self, rng: np.random.Generator) -> str:
        label = _pick(rng, ["INVOICE NO", "INV NO", "RECEIPT NO", "BILL NO", "DOC NO", "ORDER NO", "REF", "TRANS",
                            "CB#", "TABLE", "CASHIER", "COUNTER", "POS"])
        prefix = _pick(rng, ["", "", "INV", "CS", "TD", "OR", "A", "R", "S-"])
        number = prefix + self._digits(rng, int(rng.integers(3, 11)))
        return f"{label}{_pick(rng, [': ', ' : ', ' ', '# '])}{number}"

    def item_line(self, rng: np.random.Generator) -> str:
        words = [_pick(rng, self.items) for _ in range(int(rng.integers(1, 4)))]
        if rng.random() < 0.3:
            words.insert(0, _pick(rng, self.words))
        name = self._case(rng, " ".join(words))
        roll = rng.random()
        if roll < 0.35:
            return name
        if roll < 0.55:
            return f"{name} {int(rng.integers(1, 12))}{_pick(rng, [' PC', 'PCS', ' X', 'KG', 'ML', ' @'])}"
        if roll < 0.8:
            return f"{name} {self._money(rng, 80)}"
        return f"{int(rng.integers(1, 10))} X {self._money(rng, 60)}" if rng.random() < 0.5 else \
            f"{int(rng.integers(1, 10))} {name}"

    def price_line(self, rng: np.random.Generator) -> str:
        money = self._money(rng)
        roll = rng.random()
        if roll < 0.55:
            return money
        if roll < 0.75:
            return _pick(rng, self.CURRENCIES).strip() + money if rng.random() < 0.5 else \
                _pick(rng, self.CURRENCIES) + money
        if roll < 0.9:
            return f"{money} {_pick(rng, ['SR', 'ZR', 'S', 'T', 'Z', 'E'])}"
        return f"{int(rng.integers(1, 20))} {money} {self._money(rng)}"

    def total_line(self, rng: np.random.Generator) -> str:
        label = _pick(rng, ["TOTAL", "SUBTOTAL", "SUB TOTAL", "GRAND TOTAL", "CASH", "CHANGE", "ROUNDING",
                            "ROUNDING ADJ", "DISCOUNT", "GST 6%", "SST 10%", "SERVICE CHARGE 10%", "TOTAL (RM)",
                            "TOTAL INCL. GST", "NET TOTAL", "AMOUNT DUE", "TENDERED", "VISA", "BALANCE"])
        sep = _pick(rng, [": ", " : ", " ", ":"])
        label = self._case(rng, label) if rng.random() < 0.3 else label
        return f"{label}{sep}{_pick(rng, self.CURRENCIES)}{self._money(rng)}" if rng.random() < 0.8 else label + ":"

    def phrase(self, rng: np.random.Generator) -> str:
        text = _pick(rng, self.phrases)
        if rng.random() < 0.3:
            text += _pick(rng, [" !", "!", "!!", ".", " :", ":"])
        return self._case(rng, text) if rng.random() < 0.3 else text

    def word_line(self, rng: np.random.Generator) -> str:
        count = int(rng.integers(1, 7))
        text = " ".join(_pick(rng, self.words) for _ in range(count))
        if rng.random() < 0.2:
            text += _pick(rng, [".", ",", ":", "!", "?", ";"])
        return self._case(rng, text)

    def code(self, rng: np.random.Generator) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        parts = ["".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=int(rng.integers(2, 6))))
                 for _ in range(int(rng.integers(1, 4)))]
        return _pick(rng, ["-", "/", " ", ""]).join(parts)

    def barcode(self, rng: np.random.Generator) -> str:
        return self._digits(rng, int(_pick(rng, ["8", "12", "13", "13"])))

    def short_token(self, rng: np.random.Generator) -> str:
        return _pick(rng, ["QTY", "RM", "*", "X", "PCS", "AMT", "NO", "TAX", "SR", "1", "2", "3", "%", "@", "-", "#",
                           "UOM", "EA", "(RM)", "S/N", "ITEM", "DISC", "&", "=", "+", "A/C", "***", "---"])

    def sample(self, rng: np.random.Generator) -> str:
        name = self.names[int(rng.choice(len(self.names), p=self.weights))]
        return self.templates[name](rng).strip() or "TOTAL"


def build_text_source(lang: str, corpus_file: Optional[Path] = None, word_list: Optional[Path] = None,
                      dict_path: Optional[Path] = None, min_len: int = 1, max_len: int = 25,
                      allowed_codepoints: Optional[frozenset] = None) -> TextSource:
    """The text source the command-line options describe.

    Priority: --corpus_file, then --word_list, then the language default (en: receipt generator mixed with
    plain word lines; ch: random strings over the dictionary, limited to characters some font can draw).
    """
    if corpus_file:
        return FileCorpus(corpus_file, min_len, max_len)
    if word_list:
        return WordListCorpus.from_file(word_list)
    if lang == "en":
        return ReceiptCorpus()
    if lang == "ch":
        characters = load_dictionary(dict_path)
        if allowed_codepoints is not None:
            characters = [c for c in characters if ord(c[0]) in allowed_codepoints and len(c) == 1]
        return RandomCharsCorpus(characters, max(1, min_len), max_len if max_len else 15)
    raise DataToolError(f"unknown --lang {lang!r}: use 'en' or 'ch' (or give --corpus_file / --word_list)")
