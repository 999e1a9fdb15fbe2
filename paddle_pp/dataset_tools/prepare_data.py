"""Prepare under train_data/ the label files of the recipes and the evaluation sets (idempotent).

    paddle-pp data prepare [--shared ../shared/data] [--out train_data] [--only NAME] [--synth_scale 0.1|tiny]
    python dataset_tools/prepare_data.py ...      (the same command)

What is written, and from what, is declared in presets/prepare.yml (the manifest: real inputs, corpora, generated
sets, output label files with their splits and mixing ratios); this module only interprets it. Real data comes
from --shared and is never copied (label files point at it); crops and synthetic sets are written under --out.
Label paths are relative to the working directory, where training runs (the recipes use `data_dir: ./`).

Every corpus, set and output leaves a marker OUT/.prepared/NAME.json with a fingerprint of what made it (its
manifest entry, the scale, its inputs' sizes and times); a second run skips whatever is up to date. Sets are built
in a temporary folder renamed into place, files are written atomically: an interrupted run never leaves something
that looks complete.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
import yaml
from tqdm import tqdm

from paddle_pp.dataset_tools.tool_io import DataToolError, tool_main, write_image
from paddle_pp.utils.files import write_json_atomic, write_text_atomic
from paddle_pp.utils.image_io import read_image
from paddle_pp.utils.label_files import read_label_lines

TOOLS = Path(__file__).resolve().parent
PRESETS = TOOLS / "presets"
MANIFEST = PRESETS / "prepare.yml"
TINY_SET = 4  # samples per synthetic set and lines per corpus with --synth_scale tiny
SECTIONS = ("inputs", "corpora", "sets", "outputs")
PART_KEYS = {"from", "numbers", "every", "except_every", "first", "repeat", "share"}
SET_KINDS = ("tool", "crop", "flip", "pseudo_label_det")
GENERATORS = ("synth_rec", "synth_det", "synth_cls")


# ----------------------------------------------------------------------------- manifest
def load_manifest(path: Path = MANIFEST) -> Dict[str, Dict[str, Any]]:
    """The manifest's four sections, its references checked: an unknown name is an error before any work."""
    try:
        manifest = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise DataToolError(f"{path}: cannot read the manifest ({error})") from None
    unknown = set(manifest) - set(SECTIONS)
    if unknown:
        raise DataToolError(f"{path}: unknown sections {sorted(unknown)} (expected {', '.join(SECTIONS)})")
    manifest = {section: dict(manifest.get(section) or {}) for section in SECTIONS}
    known = {name for section in SECTIONS for name in manifest[section]}
    for name in manifest["outputs"]:
        for part in output_parts(manifest, name):
            if set(part) - PART_KEYS:
                raise DataToolError(f"{path}: {name}: unknown keys {sorted(set(part) - PART_KEYS)}")
            for source in part_sources(part):
                if source not in known:
                    raise DataToolError(f"{path}: {name} reads '{source}', which the manifest does not define")
    for name in dependencies(manifest, list(manifest["outputs"])):
        if name not in known:
            raise DataToolError(f"{path}: '{name}' is used but not defined")
    for name, entry in manifest["sets"].items():
        problem = set_entry_problem(entry)
        if problem:
            raise DataToolError(f"{path}: set {name}: {problem}")
    for name, entry in manifest["corpora"].items():
        if entry.get("kind") not in CORPORA:
            raise DataToolError(f"{path}: corpus {name}: kind must be one of {', '.join(CORPORA)}")
    return manifest


def set_entry_problem(entry: Dict[str, Any]) -> Optional[str]:
    """What is wrong with a `sets:` entry, or None."""
    kinds = [key for key in SET_KINDS if key in entry]
    if len(kinds) != 1:
        return f"needs exactly one of {', '.join(SET_KINDS)}"
    if "tool" in entry and entry["tool"] not in GENERATORS:
        return f"tool must be one of {', '.join(GENERATORS)}"
    if entry.get("text", "printable_ascii") not in TEXT_FILTERS:
        return f"text must be one of {', '.join(TEXT_FILTERS)}"
    if entry.get("requires", "cjk_font") not in REQUIREMENTS:
        return f"requires must be one of {', '.join(REQUIREMENTS)}"
    return None


def output_parts(manifest: Dict[str, Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    """An output's parts as mappings (a bare name is `{from: name}`)."""
    entry = manifest["outputs"][name]
    parts = entry["mix"] if isinstance(entry, dict) else entry
    return [part if isinstance(part, dict) else {"from": part} for part in parts]


def part_sources(part: Dict[str, Any]) -> List[str]:
    sources = part["from"]
    return [sources] if isinstance(sources, str) else list(sources)


def direct_dependencies(manifest: Dict[str, Dict[str, Any]], name: str) -> List[str]:
    if name in manifest["outputs"]:
        return [source for part in output_parts(manifest, name) for source in part_sources(part)]
    entry = manifest["sets"].get(name) or manifest["corpora"].get(name) or {}
    return [entry[key] for key in ("crop", "flip", "pseudo_label_det", "corpus", "from") if key in entry]


def dependencies(manifest: Dict[str, Dict[str, Any]], names: Sequence[str]) -> List[str]:
    """`names` and everything they are made from, dependencies first."""
    ordered: List[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in direct_dependencies(manifest, name):
            visit(dependency)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def section_of(manifest: Dict[str, Dict[str, Any]], name: str) -> str:
    return next(section for section in SECTIONS if name in manifest[section])


# ----------------------------------------------------------------------------- options
@dataclass
class Context:
    """Where things are: `root` is where training runs (label paths are relative to it)."""
    shared: Path
    out: Path
    root: Path
    scale: Optional[float]  # None: --synth_scale tiny
    workers: int = 2

    def rel(self, path: Path) -> str:
        return Path(os.path.relpath(Path(path).resolve(), self.root.resolve())).as_posix()

    def scaled(self, num: int) -> int:
        return min(int(num), TINY_SET) if self.scale is None else max(1, int(round(num * self.scale)))


def parse_scale(text: str) -> Optional[float]:
    if text == "tiny":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'tiny', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


# ----------------------------------------------------------------------------- samples
@dataclass
class Samples:
    """Label lines with paths relative to the working directory; synthetic or real (mixes treat them apart)."""
    lines: List[str]
    synthetic: bool = False
    skipped: str = ""  # why a set is empty (e.g. no CJK font)


def rebase(label_file: Path, image_root: Path, ctx: Context) -> List[str]:
    """A label file's lines with their image paths made relative to the working directory."""
    return [f"{ctx.rel(image_root / path)}\t{label}" for _, path, label in read_label_lines(label_file)]


def first_number(path: str) -> Optional[int]:
    match = re.search(r"\d+", Path(path).name)
    return int(match.group()) if match else None


def select(lines: List[str], part: Dict[str, Any]) -> List[str]:
    """A part's split rule (numbers / every / except_every / first), then its repeat."""
    if "numbers" in part:
        low, high = part["numbers"]
        lines = [line for line in lines if low <= (first_number(line.split("\t", 1)[0]) or -1) <= high]
    if "every" in part:
        lines = lines[part["every"] - 1::part["every"]]
    if "except_every" in part:
        n = part["except_every"]
        lines = [line for i, line in enumerate(lines) if i % n != n - 1]
    if "first" in part:
        lines = lines[:part["first"]]
    return lines * int(part.get("repeat", 1))


def resample(lines: List[str], target: int, rng: random.Random) -> List[str]:
    """`target` lines: whole copies, then a seeded sample of the rest (or a seeded sample when fewer are wanted)."""
    if not lines:
        return []
    copies, rest = divmod(target, len(lines))
    return lines * copies + rng.sample(lines, rest)


def mix(parts: List[Samples], shares: List[float], seed: int = 0) -> List[List[str]]:
    """Each part resampled to its share of the total; the total is the smallest at which every real part is used
    whole at least once (synthetic parts are plentiful and cut to their share)."""
    real = [(p, s) for p, s in zip(parts, shares) if not p.synthetic and p.lines] or list(zip(parts, shares))
    total = max((len(p.lines) / s for p, s in real if s > 0), default=0.0)
    rng = random.Random(seed)
    chosen = []
    for part, share in zip(parts, shares):
        target = int(round(total * share))
        if not part.synthetic:
            target = max(target, len(part.lines))
        chosen.append(resample(part.lines, target, rng))
    return chosen


# ----------------------------------------------------------------------------- corpora
def document_corpus(n: int, seed: int = 4, min_words: int = 2, max_words: int = 9, **_: Any) -> List[str]:
    """Document-like English lines in natural case (sentence case, lower case, some Title Case and a few
    capitals, with punctuation and numbers) from corpus/en_words.txt: receipts and SROIE's labels are almost all
    upper case, and a recognizer trained on those alone learns to answer in capitals. ``min_words`` ..
    ``max_words`` words a line (2..9: short document lines; 8..16: the lines of a book page, corpus_en_book)."""
    if not 1 <= int(min_words) <= int(max_words):
        raise DataToolError(f"document corpus: need 1 <= min_words <= max_words, got {min_words}, {max_words}")
    words = [w for w in (TOOLS / "corpus" / "en_words.txt").read_text(encoding="utf-8").split() if w.isalpha()]
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rng.randint(int(min_words), int(max_words))
        tokens = [rng.choice(words) for _ in range(k)]
        style = rng.random()
        if style < 0.5:
            tokens[0] = tokens[0].capitalize()
        elif style < 0.65:
            tokens = [t.capitalize() for t in tokens]
        elif style < 0.7:
            tokens = [t.upper() for t in tokens]
        for i in range(len(tokens) - 1):
            if rng.random() < 0.08:
                tokens[i] += rng.choice([",", ";", ":"])
        if rng.random() < 0.25:
            tokens.insert(rng.randint(0, len(tokens)), rng.choice([str(rng.randint(0, 9999)), f"({rng.randint(1, 99)})",
                                                                 f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"]))
        line = " ".join(tokens)
        if rng.random() < 0.4:
            line += rng.choice([".", ".", ",", "?", "!", ":"])
        lines.append(line)
    return lines


def short_token_corpus(n: int, seed: int = 6, **_: Any) -> List[str]:
    """Short texts (1-4 characters) cut from synthetic receipt lines: quantities, currency codes, tax codes, single
    digits and symbols. Receipts have many such boxes (1/10 of the SROIE val crops are no wider than 1.5x their
    height) and full lines teach a classifier nothing about them."""
    from paddle_pp.dataset_tools.text_corpus import ReceiptCorpus

    corpus, rng = ReceiptCorpus(), np.random.default_rng(seed)
    lines: List[str] = []
    while len(lines) < n:
        tokens = [t for t in corpus.sample(rng).split() if 1 <= len(t) <= 4]
        if tokens:
            lines.append(tokens[int(rng.integers(len(tokens)))])
        if rng.random() < 0.3:  # single characters, punctuation included
            line = corpus.sample(rng).replace(" ", "")
            if line:
                lines.append(line[int(rng.integers(len(line)))])
    return lines[:n]


def half_upper_corpus(n: int, seed: int = 8, source: Sequence[str] = (), **_: Any) -> List[str]:
    """The document sentences with half of them in capitals: receipts print long lines such as "THANK YOU FOR
    YOUR PATRONAGE" in capitals, and a crop that wide is squeezed 5x into the classifier's 192 columns."""
    rng = np.random.default_rng(seed)
    return [line.upper() if rng.random() < 0.5 else line for line in source if line.strip()]


CORPORA = {"document": document_corpus, "short_tokens": short_token_corpus, "half_upper": half_upper_corpus}


# ----------------------------------------------------------------------------- text filters
def printable_ascii(text: str) -> Optional[str]:
    """None to keep the text, else why not: the English recognizer's dictionary is printable ASCII and space."""
    return None if all(" " <= ch <= "~" for ch in text) else "characters outside printable ASCII"


TEXT_FILTERS = {"printable_ascii": printable_ascii}


def has_cjk_font() -> bool:
    from paddle_pp.dataset_tools.fonts import discover_fonts, fonts_for_language

    return bool(fonts_for_language(discover_fonts(), "ch"))


REQUIREMENTS = {"cjk_font": (has_cjk_font, "no CJK font (e.g. apt install fonts-wqy-microhei)")}


# ----------------------------------------------------------------------------- the preparer
@dataclass
class Row:
    name: str
    samples: int
    status: str
    detail: str = ""


@dataclass
class Preparer:
    manifest: Dict[str, Dict[str, Any]]
    ctx: Context
    samples_cache: Dict[str, Samples] = field(default_factory=dict)
    fingerprints: Dict[str, str] = field(default_factory=dict)
    rows: List[Row] = field(default_factory=list)

    # ---- inputs
    def input_paths(self, name: str) -> List[Path]:
        entry, shared = self.manifest["inputs"][name], self.ctx.shared
        if "label_file" in entry:
            return [shared / entry["label_file"]]
        if "icdar2015" in entry:
            return [shared / entry["icdar2015"]["gt_dir"], shared / entry["icdar2015"]["image_dir"]]
        return [shared / folder for folder in entry["image_dirs"]]

    def missing_inputs(self, names: Iterable[str]) -> List[str]:
        missing = []
        for name in names:
            if name in self.manifest["inputs"]:
                missing += [f"{name} ({self.ctx.rel(p)})" for p in self.input_paths(name) if not p.exists()]
        return missing

    def input_samples(self, name: str) -> Samples:
        entry = self.manifest["inputs"][name]
        if "label_file" in entry:
            label_file = self.ctx.shared / entry["label_file"]
            root = self.ctx.shared / entry["root"] if "root" in entry else label_file.parent
            return Samples(rebase(label_file, root, self.ctx))
        if "icdar2015" in entry:
            from paddle_pp.dataset_tools.convert import convert_icdar2015

            gt_dir, image_dir = self.input_paths(name)
            converted = self.ctx.out / ".prepared" / f"{name}_det.txt"
            result = convert_icdar2015(gt_dir, image_dir, converted, path_prefix=self.ctx.rel(image_dir))
            for problem in result["problems"]:
                print(f"skipped: {problem}", file=sys.stderr)
            return Samples([f"{path}\t{label}" for _, path, label in read_label_lines(converted)])
        raise DataToolError(f"input {name}: image folders have no labels; use it through pseudo_label_det")

    def input_fingerprint(self, name: str) -> List[Any]:
        """Size and time of an input's files: a changed label file or gt folder rebuilds what reads it."""
        stamps = []
        for path in self.input_paths(name):
            files = sorted(path.iterdir()) if path.is_dir() else [path]
            stats = [f.stat() for f in files]
            stamps.append([self.ctx.rel(path), len(files), sum(s.st_size for s in stats),
                           max((s.st_mtime_ns for s in stats), default=0)])
        return stamps

    # ---- fingerprints and markers
    def fingerprint(self, name: str) -> str:
        if name not in self.fingerprints:
            section = section_of(self.manifest, name)
            own: Any = self.input_fingerprint(name) if section == "inputs" else self.manifest[section][name]
            recipe = [section, name, own, self.scaled_num(name), self.ctx.rel(self.ctx.out),
                      [self.fingerprint(d) for d in direct_dependencies(self.manifest, name)]]
            text = json.dumps(recipe, sort_keys=True, default=str)
            self.fingerprints[name] = hashlib.sha1(text.encode("utf-8")).hexdigest()
        return self.fingerprints[name]

    def scaled_num(self, name: str) -> Optional[int]:
        entry = self.manifest["sets"].get(name) or self.manifest["corpora"].get(name) or {}
        return self.ctx.scaled(entry["num"]) if "num" in entry else None

    def marker(self, name: str) -> Path:
        return self.ctx.out / ".prepared" / f"{name}.json"

    def read_marker(self, name: str) -> Dict[str, Any]:
        try:
            return json.loads(self.marker(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def up_to_date(self, name: str, target: Path) -> bool:
        return self.read_marker(name).get("fingerprint") == self.fingerprint(name) and target.exists()

    def mark(self, name: str, samples: int, **extra: Any) -> None:
        write_json_atomic(self.marker(name), {"fingerprint": self.fingerprint(name), "samples": samples, **extra})

    # ---- corpora
    def corpus(self, name: str) -> Path:
        path = self.ctx.out / f"{name}.txt"
        if not self.up_to_date(name, path):
            entry = dict(self.manifest["corpora"][name])
            make = CORPORA[entry.pop("kind")]
            source = entry.pop("from", None)
            if source:
                entry["source"] = self.corpus(source).read_text(encoding="utf-8").splitlines()
            lines = make(self.scaled_num(name) or 0, **entry)
            write_text_atomic(path, "\n".join(lines) + "\n")
            self.mark(name, len(lines))
        return path

    # ---- sets
    def set_samples(self, name: str) -> Samples:
        entry = self.manifest["sets"][name]
        requirement = entry.get("requires")
        if requirement:
            available, reason = REQUIREMENTS[requirement]
            if not available():
                self.rows.append(Row(name, 0, "skipped", reason))
                return Samples([], synthetic="tool" in entry, skipped=reason)
        folder = self.ctx.out / name
        built = not self.up_to_date(name, folder / "label.txt")
        skipped = self.build_set(name, entry, folder) if built else self.read_marker(name).get("skipped", {})
        lines = rebase(folder / "label.txt", folder, self.ctx)
        if built:
            self.mark(name, len(lines), skipped=skipped)
        detail = ", ".join(f"{n} skipped: {reason}" for reason, n in skipped.items())
        self.rows.append(Row(name, len(lines), "built" if built else "up to date", detail))
        return Samples(lines, synthetic="tool" in entry)

    def build_set(self, name: str, entry: Dict[str, Any], folder: Path) -> Dict[str, int]:
        """Build into a temporary sibling folder (same depth: relative paths stay valid), then swap it in;
        returns the samples skipped, by reason."""
        partial = folder.with_name(f".{name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if "tool" in entry:
            details = self.run_generator(name, entry, partial)
        elif "crop" in entry:
            details = self.crop(entry, partial)
        elif "flip" in entry:
            details = self.flip(entry, partial)
        elif "pseudo_label_det" in entry:
            details = self.pseudo_label(entry, folder, partial)
        else:
            raise DataToolError(f"set {name}: expected tool, crop, flip or pseudo_label_det")
        if not (partial / "label.txt").is_file():
            raise DataToolError(f"set {name}: nothing was written ({partial}/label.txt missing)")
        old = folder.with_name(f".{name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        partial.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return details

    def run_generator(self, name: str, entry: Dict[str, Any], partial: Path) -> Dict[str, int]:
        """A synth_* tool run in this process with the manifest entry as its flags."""
        tool = entry["tool"]
        argv = ["--out", str(partial), "--workers", str(self.ctx.workers), "--overwrite"]
        argv += ["--synth" if tool == "synth_cls" else "--num", str(self.scaled_num(name))]
        for key, value in entry.items():
            if key in ("tool", "num", "requires"):
                continue
            if key == "presets":
                argv += [arg for preset in value for arg in ("--config", str(PRESETS / preset))]
            elif key == "corpus":
                argv += ["--corpus_file", str(self.corpus(value))]
            else:
                argv += [f"--{key}", str(value)]
        module = f"paddle_pp.dataset_tools.{tool}"
        if self.ctx.workers > 1:
            # The generators fork their worker pools, and forking a process that has loaded Paddle (pseudo-labels
            # load the detector) can hang: with workers they run in a fresh interpreter.
            code = subprocess.run([sys.executable, "-m", module] + argv, cwd=self.ctx.root).returncode
        else:
            code = importlib.import_module(module).main(argv)
        if code:
            raise DataToolError(f"set {name}: {tool} failed (exit code {code})")
        return {}

    def crop(self, entry: Dict[str, Any], partial: Path) -> Dict[str, int]:
        """Every transcribed quad of a detection input cut out by convert.py (the PP-OCR system's crop)."""
        from paddle_pp.dataset_tools.convert import det_to_crops

        source = partial / "source_det_label.txt"
        write_text_atomic(source, "\n".join(self.samples(entry["crop"]).lines) + "\n", durable=False)
        keep = TEXT_FILTERS[entry["text"]] if "text" in entry else None
        result = det_to_crops(source, self.ctx.root, partial, keep_text=keep)
        source.unlink()
        for problem in result["problems"]:
            print(f"skipped: {problem}", file=sys.stderr)
        skipped = dict(result["skipped"])
        if result["problems"]:
            skipped["unreadable image or box"] = len(result["problems"])
        return skipped

    def flip(self, entry: Dict[str, Any], partial: Path) -> Dict[str, int]:
        """Recognition crops each turned by 180 degrees or not at random: a classifier's set from real crops."""
        rng = random.Random(entry.get("seed", 0))
        lines, unreadable = [], 0
        for line in tqdm(self.samples(entry["flip"]).lines, desc="flip", unit="img"):
            path = line.split("\t", 1)[0]
            flip = rng.random() < 0.5
            try:
                image = read_image(self.ctx.root / path)
            except DataToolError as error:
                print(f"skipped: {error}", file=sys.stderr)
                unreadable += 1
                continue
            name = Path(path).stem + ("_180" if flip else "_0") + ".png"
            write_image(partial / name, np.ascontiguousarray(np.rot90(image, 2)) if flip else image)
            lines.append(f"{name}\t{'180' if flip else '0'}")
        write_text_atomic(partial / "label.txt", "\n".join(lines) + "\n")
        return {"unreadable image": unreadable} if unreadable else {}

    def pseudo_label(self, entry: Dict[str, Any], folder: Path, partial: Path) -> Dict[str, int]:
        """The official detector's boxes on unlabelled photos (the unpruned model's answers, for distillation)."""
        from paddle_pp.dataset_tools.pseudo_label_det import find_images, pseudo_label
        from paddle_pp.ocr import build_stage
        from paddle_pp.utils.official_files import OfficialWeightsMissing

        try:
            detector = build_stage("det")
        except (OfficialWeightsMissing, FileNotFoundError) as error:
            raise DataToolError(f"pseudo-labels need the official detector: {error}") from None
        lines = []
        for image_dir in self.input_paths(entry["pseudo_label_det"]):
            prefix = Path(os.path.relpath(image_dir.resolve(), folder.resolve())).as_posix()
            lines += pseudo_label(find_images(image_dir), image_dir, prefix, detector)
        write_text_atomic(partial / "label.txt", "\n".join(lines) + "\n")
        return {}

    # ---- outputs
    def samples(self, name: str) -> Samples:
        if name not in self.samples_cache:
            section = section_of(self.manifest, name)
            if section == "inputs":
                self.samples_cache[name] = self.input_samples(name)
            elif section == "sets":
                self.samples_cache[name] = self.set_samples(name)
            elif section == "outputs":
                self.samples_cache[name] = self.output(name)
            else:
                raise DataToolError(f"'{name}' is a corpus, not a set of samples")
        return self.samples_cache[name]

    def output(self, name: str) -> Samples:
        path = self.ctx.out / name
        if self.up_to_date(name, path):
            lines = [f"{p}\t{label}" for _, p, label in read_label_lines(path)]
            marker = self.read_marker(name)
            if len(lines) == marker.get("samples"):  # else the file was edited or cut: made again
                self.rows.append(Row(name, len(lines), "up to date", marker.get("detail", "")))
                return Samples(lines, synthetic=marker.get("synthetic", False))
        parts = output_parts(self.manifest, name)
        chosen: List[Samples] = []
        for part in parts:
            sources = [self.samples(source) for source in part_sources(part)]
            chosen.append(Samples([line for s in sources for line in select(s.lines, part)],
                                  synthetic=all(s.synthetic for s in sources)))
        entry = self.manifest["outputs"][name]
        if isinstance(entry, dict):
            selected = mix(chosen, [float(part["share"]) for part in parts], int(entry.get("seed", 0)))
            total = max(sum(len(s) for s in selected), 1)
            detail = ", ".join(f"{'+'.join(part_sources(p))} {len(s)} ({len(s) / total:.0%})"
                               for p, s in zip(parts, selected))
        else:
            selected = [c.lines for c in chosen]
            detail = ", ".join(f"{'+'.join(part_sources(p))} {len(s)}" for p, s in zip(parts, selected)
                               if len(parts) > 1)
        lines = [line for part_lines in selected for line in part_lines]
        if not lines:
            raise DataToolError(f"{name}: no samples (its inputs are empty or its split selects nothing)")
        write_text_atomic(path, "\n".join(lines) + "\n")
        synthetic = all(c.synthetic for c in chosen)
        self.mark(name, len(lines), detail=detail, synthetic=synthetic)
        self.rows.append(Row(name, len(lines), "built", detail))
        return Samples(lines, synthetic=synthetic)


def print_summary(rows: List[Row], out: Path) -> None:
    print(f"\n{'under ' + str(out):<34} {'samples':>8}  status")
    for row in rows:
        print(f"{row.name:<34} {row.samples:>8}  {row.status}" + (f"  ({row.detail})" if row.detail else ""))


def select_outputs(manifest: Dict[str, Dict[str, Any]], only: Optional[Sequence[str]]) -> List[str]:
    outputs = list(manifest["outputs"])
    if not only:
        return outputs
    chosen = []
    for name in only:
        match = name if name in outputs else f"{name}.txt"
        if match not in outputs:
            raise DataToolError(f"--only {name}: not an output of the manifest (one of: {', '.join(outputs)})")
        chosen.append(match)
    return chosen


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path.cwd()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=root.parent / "shared" / "data",
                        help="the real data sets (default: ../shared/data)")
    parser.add_argument("--out", type=Path, default=root / "train_data", help="where to write (default: train_data)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="build this output (and what it needs) only; repeatable")
    parser.add_argument("--synth_scale", type=parse_scale, default=1.0, metavar="SCALE",
                        help=f"multiply the synthetic sets' sizes (e.g. 0.1), or 'tiny' ({TINY_SET} samples each)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the synthetic generators")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="what to build (default: presets/prepare.yml)")
    args = parser.parse_args(argv)

    manifest = load_manifest(args.manifest)
    outputs = select_outputs(manifest, args.only)
    ctx = Context(shared=args.shared, out=args.out, root=root, scale=args.synth_scale, workers=max(1, args.workers))
    if not ctx.shared.is_dir():
        raise DataToolError(f"--shared {ctx.shared}: not a folder (the real data sets, see its README.md)")
    preparer = Preparer(manifest, ctx)
    missing = preparer.missing_inputs(dependencies(manifest, outputs))
    if missing:
        raise DataToolError(f"--shared {ctx.shared}: missing {', '.join(missing)}")
    for name in outputs:
        preparer.samples(name)
    print_summary(preparer.rows, ctx.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
