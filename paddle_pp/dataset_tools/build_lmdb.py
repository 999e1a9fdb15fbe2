"""Build LMDB sets from label files, and check existing ones.

    python dataset_tools/build_lmdb.py --label_file train/label.txt --image_root train --out lmdb/train
    python dataset_tools/build_lmdb.py --label_file a.txt b.txt --image_root data --out lmdb/ab --overwrite
    python dataset_tools/build_lmdb.py --check lmdb/ [--dump 20 --dump_dir /tmp/look] [--dict keys.txt]

Layout (SPEC.md, deep-text-recognition-benchmark): `num-samples`, `image-%09d` (the original encoded bytes,
never re-encoded), `label-%09d` (UTF-8), indices from 1. Every image is decoded once before it is stored;
unreadable or missing ones are reported and skipped. Samples are written in transactions of --commit_every,
the map grows when full, and `num-samples` is written last, in a DB that is only then moved to --out.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from tqdm import tqdm

from paddle_pp.dataset_tools.lmdb_io import (INCOMPLETE_SUFFIX, LmdbReader, LmdbWriter, find_lmdb_dirs,
                                   has_num_samples)
from paddle_pp.dataset_tools.tool_io import DataToolError, load_dictionary, tool_main, write_image
from paddle_pp.utils.files import write_text_atomic
from paddle_pp.utils.image_io import decode_image
from paddle_pp.utils.label_files import read_label_lines


def iter_samples(label_files: Sequence[Path], image_root: Path) -> Iterable[Tuple[str, str, str]]:
    """(where, image path, label) for every line of every label file, in order."""
    for label_file in label_files:
        for line_number, path, label in read_label_lines(label_file):
            yield f"{label_file}:{line_number}", path, label


def load_checked_image(image_root: Path, path: str, where: str) -> bytes:
    """The file's bytes, after proving they decode to an image."""
    full_path = image_root / path
    try:
        data = full_path.read_bytes()
    except OSError as error:
        raise DataToolError(f"{where}: cannot read {full_path} ({error.strerror or error})") from None
    decode_image(data, f"{where}: {full_path}")
    return data


def build_lmdb(label_files: Sequence[Path], image_root: Path, out: Path, overwrite: bool = False,
               map_size: int = 64 << 20, commit_every: int = 1000, progress: bool = True,
               samples: Optional[Iterable[Tuple[str, str, str]]] = None) -> dict:
    """Write one LMDB from label files; returns counts and the list of skipped items with reasons.

    `samples` may replace the label files (an iterable of (where, path, label)); tests use it to interrupt.
    """
    if samples is None:
        for label_file in label_files:
            if not Path(label_file).is_file():
                raise DataToolError(f"{label_file}: label file not found")
        samples = iter_samples(label_files, image_root)
    skipped: List[str] = []
    with LmdbWriter(out, overwrite=overwrite, map_size=map_size, commit_every=commit_every) as writer:
        for where, path, label in tqdm(samples, desc="build_lmdb", unit="img", disable=not progress):
            try:
                writer.add(load_checked_image(image_root, path, where), label)
            except DataToolError as error:
                skipped.append(str(error))
        written = writer.count
        writer.finish()
    return {"out": str(out), "written": written, "skipped": skipped}


# ----------------------------------------------------------------------------- check
def length_histogram_text(lengths: Counter, width: int = 40) -> List[str]:
    if not lengths:
        return []
    peak = max(lengths.values())
    return [f"  {length:4d} {count:8d} {'#' * max(1, round(width * count / peak))}"
            for length, count in sorted(lengths.items())]


def check_one(path: Path, dictionary: Optional[set], decode: bool, dump: int, dump_dir: Optional[Path]) -> dict:
    """Statistics of one LMDB; optionally decode everything and dump the first `dump` samples."""
    with LmdbReader(path) as reader:
        lengths, characters, undecodable = Counter(), Counter(), []
        dumped = []
        for index, image, label in tqdm(reader, total=len(reader), desc=f"check {path.name}", unit="img",
                                        leave=False):
            lengths[len(label)] += 1
            characters.update(label)
            if decode or index <= dump:
                try:
                    decoded = decode_image(image, f"{path} sample {index}")
                except DataToolError as error:
                    undecodable.append(str(error))
                    continue
                if index <= dump and dump_dir is not None:
                    name = f"{path.name}_{index:09d}.png"
                    write_image(dump_dir / name, decoded)
                    dumped.append(f"{name}\t{label}")
        if dump_dir is not None and dumped:
            write_text_atomic(dump_dir / f"{path.name}_labels.txt", "\n".join(dumped) + "\n")
        missing = {c: n for c, n in characters.items() if dictionary is not None and c not in dictionary and c != " "}
        return {"path": str(path), "num_samples": len(reader), "lengths": lengths, "characters": characters,
                "not_in_dictionary": missing, "undecodable": undecodable}


def print_report(report: dict, top: int = 30) -> None:
    lengths, characters = report["lengths"], report["characters"]
    total = sum(lengths.values())
    mean_length = sum(k * v for k, v in lengths.items()) / max(total, 1)
    print(f"{report['path']}: {report['num_samples']} samples, {len(characters)} distinct characters, "
          f"label length min {min(lengths, default=0)} / mean {mean_length:.1f} / max {max(lengths, default=0)}")
    print("  label length histogram:")
    for line in length_histogram_text(lengths):
        print(line)
    common = " ".join(f"{c!r}:{n}" for c, n in characters.most_common(top))
    print(f"  most common characters: {common}")
    if report["not_in_dictionary"]:
        missing = " ".join(f"{c!r}:{n}" for c, n in sorted(report["not_in_dictionary"].items(), key=lambda x: -x[1]))
        print(f"  characters NOT in the dictionary ({len(report['not_in_dictionary'])}): {missing}")
    for problem in report["undecodable"][:20]:
        print(f"  undecodable: {problem}")


def check(root: Path, dict_path: Optional[Path] = None, decode: bool = False, dump: int = 0,
          dump_dir: Optional[Path] = None) -> List[dict]:
    """Check every LMDB under root; unfinished ones (no num-samples) are listed, not read."""
    directories = find_lmdb_dirs(root)
    if not directories:
        raise DataToolError(f"{root}: no LMDB (data.mdb) found")
    dictionary = set(load_dictionary(dict_path)) if dict_path else None
    reports = []
    for directory in directories:
        if has_num_samples(directory) is None or directory.name.endswith(INCOMPLETE_SUFFIX):
            print(f"{directory}: INCOMPLETE (no num-samples: an interrupted build); not counted")
            reports.append({"path": str(directory), "incomplete": True})
            continue
        report = check_one(directory, dictionary, decode, dump, dump_dir)
        print_report(report)
        reports.append(report)
    complete = [r for r in reports if not r.get("incomplete")]
    print(f"total: {sum(r['num_samples'] for r in complete)} samples in {len(complete)} LMDB(s)"
          + (f", {len(reports) - len(complete)} incomplete" if len(complete) != len(reports) else ""))
    return reports


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", type=Path, nargs="+", help="label file(s): path<TAB>label")
    parser.add_argument("--image_root", type=Path, help="folder the label paths are relative to")
    parser.add_argument("--out", type=Path, help="LMDB folder to create")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--map_size", type=int, default=64 << 20, help="initial map size in bytes (grows)")
    parser.add_argument("--commit_every", type=int, default=1000, help="samples per write transaction")
    parser.add_argument("--check", type=Path, metavar="DIR", help="report on the LMDB(s) under DIR")
    parser.add_argument("--dict", dest="dict_path", type=Path, help="--check: list characters not in this dictionary")
    parser.add_argument("--decode", action="store_true", help="--check: decode every image")
    parser.add_argument("--dump", type=int, default=0, help="--check: save the first N samples of each LMDB")
    parser.add_argument("--dump_dir", type=Path, help="--check: where to save them (default DIR_dump)")
    parser.add_argument("--no_progress", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        dump_dir = args.dump_dir or (args.check.with_name(args.check.name + "_dump") if args.dump else None)
        check(args.check, args.dict_path, args.decode, args.dump, dump_dir)
        if dump_dir:
            print(f"dumped samples: {dump_dir}")
        return 0
    if not (args.label_file and args.image_root and args.out):
        parser.error("building needs --label_file, --image_root and --out (or use --check DIR)")
    result = build_lmdb(args.label_file, args.image_root, args.out, args.overwrite, args.map_size,
                        args.commit_every, progress=not args.no_progress)
    for problem in result["skipped"][:50]:
        print(f"skipped: {problem}", file=sys.stderr)
    if len(result["skipped"]) > 50:
        print(f"... and {len(result['skipped']) - 50} more skipped", file=sys.stderr)
    print(f"{result['out']}: {result['written']} samples written, {len(result['skipped'])} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
