"""Build LMDB sets from label files, and check existing ones.

    python dataset_tools/build_lmdb.py --label_file train/label.txt --image_root train --out lmdb/train
    python dataset_tools/build_lmdb.py --label_file a.txt b.txt --image_root data --out lmdb/ab --overwrite
    python dataset_tools/build_lmdb.py --check lmdb/ [--dump 20 --dump_dir /tmp/look] [--dict keys.txt]

Layout (SPEC.md, deep-text-recognition-benchmark): `num-samples`, `image-%09d` (the original encoded bytes,
never re-encoded), `label-%09d` (UTF-8), indices from 1.

Building: every label file is read in full first, so a line that is not UTF-8 (`FILE:LINE: not UTF-8 (byte 0x..
at column N)`) or has no tab stops the build before anything is written: a wrong encoding is a property of the
whole file, and skipping its bad lines would silently keep only the ASCII labels. Every image is then decoded
once, with the predictors' strict decoder (paddle_pp.utils.image_io: a truncated JPEG or PNG is an error),
before it is stored; unreadable, missing or truncated ones are reported with their label line and skipped, and
the summary counts them by reason. Samples are written in transactions of --commit_every, the map grows when
full, and `num-samples` is written last, in a DB that is only then moved to --out.

Checking: each LMDB's data.mdb is first checked against its own header without mapping it (a truncated file
would kill the reader with SIGBUS), then read in a child process, so that damage the header cannot show (a
crash inside lmdb) costs only that LMDB's verdict. Every LMDB gets one verdict line, `DIR: OK`, `DIR: BAD (...)`
(samples that are missing, unreadable or, with --decode, undecodable), `DIR: DAMAGED (...)` or
`DIR: INCOMPLETE (...)`, then a summary. Exit code 0 when all are OK, 1 when any is not, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from tqdm import tqdm

from paddle_pp.dataset_tools.lmdb_io import (INCOMPLETE_SUFFIX, LmdbReader, LmdbWriter, find_lmdb_dirs,
                                              has_num_samples)
from paddle_pp.dataset_tools.tool_io import DataToolError, load_dictionary, tool_main, write_image
from paddle_pp.utils.files import write_text_atomic
from paddle_pp.utils.image_io import ImageReadError, decode_image
from paddle_pp.utils.label_files import read_label_lines
from paddle_pp.utils.lmdb_file import LmdbDamagedError, read_lmdb_header


def iter_samples(label_files: Sequence[Path], image_root: Path) -> Iterable[Tuple[str, str, str]]:
    """(where, image path, label) for every line of every label file, in order."""
    for label_file in label_files:
        for line_number, path, label in read_label_lines(label_file):
            yield f"{label_file}:{line_number}", path, label


def count_label_lines(label_files: Sequence[Path]) -> int:
    """Read every label file once, before any image: encoding or format errors stop the build up front."""
    total = 0
    for label_file in label_files:
        if not Path(label_file).is_file():
            raise DataToolError(f"{label_file}: label file not found")
        total += sum(1 for _ in read_label_lines(label_file))
    return total


class SkippedSample(DataToolError):
    """A sample left out of the LMDB; `reason` is the short category the summary counts."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def load_checked_image(image_root: Path, path: str, where: str) -> bytes:
    """The file's bytes, after proving they decode to an image (strictly: truncated data is refused)."""
    full_path = image_root / path
    try:
        data = full_path.read_bytes()
    except OSError as error:
        reason = "missing file" if isinstance(error, FileNotFoundError) else "unreadable file"
        raise SkippedSample(f"{where}: cannot read {full_path} ({error.strerror or error})", reason) from None
    name = f"{where}: {full_path}"
    try:
        decode_image(data, name)
    except ImageReadError as error:  # the message is "name: problem (detail)"; the problem is the category
        problem = str(error)[len(name) + 2:] if str(error).startswith(name + ": ") else str(error)
        raise SkippedSample(str(error), problem.split(" (")[0]) from None
    return data


def build_lmdb(label_files: Sequence[Path], image_root: Path, out: Path, overwrite: bool = False,
               map_size: int = 64 << 20, commit_every: int = 1000, progress: bool = True,
               samples: Optional[Iterable[Tuple[str, str, str]]] = None) -> dict:
    """Write one LMDB from label files; returns counts, the skipped items with reasons and a count by reason.

    `samples` may replace the label files (an iterable of (where, path, label)); tests use it to interrupt.
    """
    total = None
    if samples is None:
        total = count_label_lines(label_files)
        samples = iter_samples(label_files, image_root)
    skipped: List[str] = []
    reasons: Counter = Counter()
    with LmdbWriter(out, overwrite=overwrite, map_size=map_size, commit_every=commit_every) as writer:
        for where, path, label in tqdm(samples, total=total, desc="build_lmdb", unit="img", disable=not progress):
            try:
                writer.add(load_checked_image(image_root, path, where), label)
            except SkippedSample as error:
                skipped.append(str(error))
                reasons[error.reason] += 1
        written = writer.count
        writer.finish()
    return {"out": str(out), "written": written, "skipped": skipped, "skip_reasons": dict(reasons)}


def skip_summary(skip_reasons: dict) -> str:
    """'' or ' (2 truncated JPEG, 1 missing file)', most frequent first."""
    if not skip_reasons:
        return ""
    ordered = sorted(skip_reasons.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{count} {reason}" for reason, count in ordered) + ")"


# ----------------------------------------------------------------------------- check
def length_histogram_text(lengths: Counter, width: int = 40) -> List[str]:
    if not lengths:
        return []
    peak = max(lengths.values())
    return [f"  {length:4d} {count:8d} {'#' * max(1, round(width * count / peak))}"
            for length, count in sorted(lengths.items())]


MAX_LISTED_PROBLEMS = 20


def check_one(path: Path, dictionary: Optional[set], decode: bool, dump: int, dump_dir: Optional[Path],
              progress: bool = True) -> dict:
    """Statistics of one LMDB; optionally decode everything and dump the first `dump` samples.

    A sample that is missing, unreadable (lmdb error), has a label that is not UTF-8 or, when decoded, is not a
    whole image, is a problem: counted, the first MAX_LISTED_PROBLEMS listed, and the check goes on.
    """
    with LmdbReader(path) as reader:
        lengths, characters = Counter(), Counter()
        problems: List[str] = []
        problem_count = 0
        dumped = []

        def record(problem: DataToolError) -> None:
            nonlocal problem_count
            problem_count += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(str(problem))

        for index in tqdm(range(1, len(reader) + 1), desc=f"check {path.name}", unit="img", leave=False,
                          disable=not progress):
            try:
                image, label = reader.get(index)
            except DataToolError as error:
                record(error)
                continue
            lengths[len(label)] += 1
            characters.update(label)
            if not (decode or index <= dump):
                continue
            try:
                decoded = decode_image(image, f"{path} sample {index}")
            except DataToolError as error:
                record(error)
                continue
            if index <= dump and dump_dir is not None:
                name = f"{path.name}_{index:09d}.png"
                write_image(dump_dir / name, decoded)
                dumped.append(f"{name}\t{label}")
        if dump_dir is not None and dumped:
            write_text_atomic(dump_dir / f"{path.name}_labels.txt", "\n".join(dumped) + "\n")
        missing = {c: n for c, n in characters.items() if dictionary is not None and c not in dictionary and c != " "}
        return {"path": str(path), "num_samples": len(reader), "lengths": lengths, "characters": characters,
                "not_in_dictionary": missing, "problems": problems, "problem_count": problem_count}


def inspect_lmdb(path: Path, dictionary: Optional[set], decode: bool, dump: int, dump_dir: Optional[Path],
                 progress: bool = True) -> dict:
    """The report on one LMDB folder: incomplete, damaged (LmdbDamagedError's message) or check_one's."""
    try:
        if path.name.endswith(INCOMPLETE_SUFFIX) or has_num_samples(path) is None:
            return {"path": str(path), "incomplete": True}
        return check_one(path, dictionary, decode, dump, dump_dir, progress)
    except LmdbDamagedError as error:
        return {"path": str(path), "damaged": str(error)}


def _inspect_in_child(connection, *args) -> None:
    try:
        outcome = inspect_lmdb(*args)
    except KeyboardInterrupt:
        outcome = {"interrupted": True}
    except Exception as error:  # noqa: BLE001 - reported as this LMDB's verdict by the parent
        outcome = {"path": str(args[0]), "error": f"{type(error).__name__}: {error}"}
    connection.send(outcome)
    connection.close()


def describe_death(exit_code: Optional[int]) -> str:
    """Why a check process ended without a report."""
    if exit_code is not None and exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        crash = {"SIGBUS": "bus error", "SIGSEGV": "segmentation fault"}.get(name, "killed")
        return f"{crash} ({name}) while reading: data.mdb is truncated or corrupt"
    return f"the check process ended with exit code {exit_code} without a report"


def inspect_isolated(path: Path, dictionary: Optional[set], decode: bool, dump: int, dump_dir: Optional[Path],
                     progress: bool = True) -> dict:
    """inspect_lmdb behind two guards: the header check (here, exact message), then a child process, whose
    death by a signal (a crash inside lmdb on damage the header cannot show) becomes a DAMAGED verdict."""
    try:
        read_lmdb_header(path)
    except LmdbDamagedError as error:
        return {"path": str(path), "damaged": str(error)}
    # fork: cheap, and the parent has touched neither lmdb nor OpenCV's threads; spawn where fork is unsafe
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_inspect_in_child, daemon=True,
                            args=(sender, path, dictionary, decode, dump, dump_dir, progress))
    child.start()
    sender.close()  # so that recv() sees EOF when the child dies
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = None
    finally:
        receiver.close()
        child.join()
    if outcome is None:
        return {"path": str(path), "damaged": f"{path}: {describe_death(child.exitcode)}"}
    if outcome.get("interrupted"):
        raise KeyboardInterrupt
    return outcome


def verdict(report: dict) -> str:
    """OK, BAD (...), DAMAGED (...), INCOMPLETE (...) or ERROR (...), without the path."""
    def detail(message: str) -> str:
        prefix = report["path"] + ": "
        return message[len(prefix):] if message.startswith(prefix) else message

    if report.get("incomplete"):
        return "INCOMPLETE (no num-samples: an interrupted build)"
    if "damaged" in report:
        return f"DAMAGED ({detail(report['damaged'])})"
    if "error" in report:
        return f"ERROR (the check failed: {report['error']})"
    if report["problem_count"]:
        return f"BAD ({report['problem_count']} of {report['num_samples']} samples missing, unreadable or undecodable)"
    return "OK"


def print_report(report: dict, top: int = 30) -> None:
    if "lengths" in report:
        print_statistics(report, top)
        for problem in report["problems"]:
            print(f"  problem: {problem}")
        if report["problem_count"] > len(report["problems"]):
            print(f"  ... and {report['problem_count'] - len(report['problems'])} more problems")
    print(f"{report['path']}: {verdict(report)}")


def print_statistics(report: dict, top: int = 30) -> None:
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


def is_ok(report: dict) -> bool:
    return verdict(report) == "OK"


def summary_line(reports: List[dict]) -> str:
    kinds = Counter(verdict(report).split(" ")[0] for report in reports)
    names = [("DAMAGED", "damaged"), ("INCOMPLETE", "incomplete"), ("BAD", "with bad samples"),
             ("ERROR", "not checked (error)")]
    parts = [f"{kinds['OK']} OK"] + [f"{kinds[kind]} {name}" for kind, name in names if kinds[kind]]
    samples = sum(report.get("num_samples", 0) for report in reports)
    return f"summary: {len(reports)} LMDB(s) checked: {', '.join(parts)}; {samples} samples in the readable ones"


def check(root: Path, dict_path: Optional[Path] = None, decode: bool = False, dump: int = 0,
          dump_dir: Optional[Path] = None, progress: bool = True) -> List[dict]:
    """Check every LMDB under root, each in isolation (see the module docstring), printing a verdict for each
    and a summary; unfinished ones (no num-samples) are reported as incomplete, not read."""
    directories = find_lmdb_dirs(root)
    if not directories:
        raise DataToolError(f"{root}: no LMDB (data.mdb) found")
    dictionary = set(load_dictionary(dict_path)) if dict_path else None
    reports = []
    for directory in directories:
        report = inspect_isolated(directory, dictionary, decode, dump, dump_dir, progress)
        print_report(report)
        sys.stdout.flush()  # verdicts appear as they are reached, in order with the children's output
        reports.append(report)
    print(summary_line(reports))
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
    parser.add_argument("--check", type=Path, metavar="DIR",
                        help="report on the LMDB(s) under DIR; exit 1 if any is not OK")
    parser.add_argument("--dict", dest="dict_path", type=Path, help="--check: list characters not in this dictionary")
    parser.add_argument("--decode", action="store_true", help="--check: decode every image")
    parser.add_argument("--dump", type=int, default=0, help="--check: save the first N samples of each LMDB")
    parser.add_argument("--dump_dir", type=Path, help="--check: where to save them (default DIR_dump)")
    parser.add_argument("--no_progress", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        dump_dir = args.dump_dir or (args.check.with_name(args.check.name + "_dump") if args.dump else None)
        reports = check(args.check, args.dict_path, args.decode, args.dump, dump_dir, not args.no_progress)
        if dump_dir:
            print(f"dumped samples: {dump_dir}")
        return 0 if all(is_ok(report) for report in reports) else 1
    if not (args.label_file and args.image_root and args.out):
        parser.error("building needs --label_file, --image_root and --out (or use --check DIR)")
    result = build_lmdb(args.label_file, args.image_root, args.out, args.overwrite, args.map_size,
                        args.commit_every, progress=not args.no_progress)
    for problem in result["skipped"][:50]:
        print(f"skipped: {problem}", file=sys.stderr)
    if len(result["skipped"]) > 50:
        print(f"... and {len(result['skipped']) - 50} more skipped", file=sys.stderr)
    print(f"{result['out']}: {result['written']} samples written, {len(result['skipped'])} skipped"
          + skip_summary(result["skip_reasons"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
