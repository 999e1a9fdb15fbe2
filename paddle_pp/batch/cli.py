"""`paddle-pp batch`: OCR a folder, a glob or a manifest of images, PDFs and multi-page TIFFs into a Parquet (or
JSONL) dataset, one row per page, on Ray.

    paddle-pp batch --input scans/ --output ocr_out/                  # local Ray on this machine's cores
    paddle-pp batch --input 'scans/**/*.png' --output out/ --format jsonl --lang en
    paddle-pp batch --input paths.txt --output s3://bucket/ocr/ --address auto   # an existing Ray cluster

Run it again after a crash, Ctrl-C or kill: only the inputs without a committed result are done, and the
dataset holds every (input, page) once. Takes every model and engine flag of `paddle-pp ocr`, with the same
defaults (--pdf_dpi, --pages, --pdf_password and --return_word_box too), except --cpu_threads, which is per actor
here (default 1). docs/batch.md tells the rest.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional, Sequence

from paddle_pp.batch import DEFAULT_SHARD_SIZE, FORMATS, ray_available
from paddle_pp.serving.cli import FILE_FLAGS, RUN_FLAGS, _drop_arguments, _positive
from paddle_pp.tools import utility

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = utility.EXIT_OK, utility.EXIT_FAILED, utility.EXIT_USAGE, \
    utility.EXIT_INTERRUPTED


EPILOG = """\
output: OUTPUT/part-<shard>-<n>.parquet (or .jsonl), one row per (input, page): source, page (1-based; 1 for
  an image; 0 for a document that cannot be opened), page_id, width, height, lines [{text, score, points}],
  text, words [{text, score, points, line}] (--return_word_box, else null), error, error_type, models,
  paddle_pp_version, elapsed_ms, node_id, input_key, path, size, mtime_ns, content_hash;
  OUTPUT/_manifests/ (what each part holds), OUTPUT/_summary.json (the last run's summary).

bad inputs (unreadable, not an image, over --max_pixels, an encrypted, corrupt or empty PDF) and bad pages
are rows with their error, the document's other pages go on; a dead actor is restarted and its shard goes on
after its committed parts (at most --shard_size pages each); a re-run resumes, by (input, page).

exit status: 0 done; 1 some page failed (its row says why) or an input is missing; 2 bad command line or no
Ray (pip install 'paddle-pp[batch]'); 130 interrupted (committed shards are kept: run it again).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = utility.build_parser("system", __doc__)
    # paddle-pp ocr's file flags: here --input / --output, nothing drawn, one dataset instead of per-file formats
    _drop_arguments(parser, FILE_FLAGS + RUN_FLAGS + ("output_format",))
    parser.epilog = EPILOG
    job = parser.add_argument_group("batch job")
    job.add_argument("--input", required=True,
                     help="a folder (recursive), a glob ('**' too) or a manifest file (one path a line); a local "
                          "path or a URI pyarrow reads (s3://, gs://, hdfs://)")
    job.add_argument("--output", required=True, help="the dataset folder (local path or URI); a re-run resumes it")
    job.add_argument("--format", choices=FORMATS, default="parquet", help="parquet (default) or jsonl")
    job.add_argument("--address", default=None,
                     help="a Ray cluster: auto (this node's), ray://host:10001, host:6379 (default: start a local "
                          "Ray on this machine's cores)")
    job.add_argument("--hash", action="store_true",
                     help="identify inputs by path + content hash (read once on the driver) instead of path + "
                          "size + mtime: a copied or touched file is not done again")
    job.add_argument("--actors", type=_positive(int, 1), default=None,
                     help="a fixed pool of OCR actors (default: Ray Data sizes it, up to the cluster's CPUs / "
                          "--cpu_threads)")
    job.add_argument("--shard_size", type=_positive(int, 1), default=DEFAULT_SHARD_SIZE,
                     help=f"inputs per shard (a Ray task) and at most that many pages per committed part "
                          f"(default: {DEFAULT_SHARD_SIZE}); a part is the unit redone after a crash")
    job.add_argument("--num_cpus", type=_positive(int, 1), default=None,
                     help="CPUs of the local Ray instance (default: all; ignored with --address)")
    job.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def ocr_options(args: argparse.Namespace) -> Dict[str, Any]:
    """PPOCR's keyword arguments from paddle-pp ocr's flags (cpu_threads is the job's: per actor)."""
    engine = utility.engine_options(args)
    engine.pop("cpu_threads")
    return dict(**utility.system_options(args), lang=args.lang, slim=args.slim, pdf_dpi=args.pdf_dpi,
                return_word_box=args.return_word_box, **engine, **utility.model_options(args, "det", "cls", "rec"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    hint = ray_available()
    if hint:
        print(hint, file=sys.stderr)
        return EXIT_USAGE
    from paddle_pp.batch.run import BatchError, format_summary, run_batch

    try:
        summary = run_batch(args.input, args.output, address=args.address, fmt=args.format,
                            content_hash=args.hash, actors=args.actors, shard_size=args.shard_size,
                            num_cpus=args.num_cpus, cpu_threads=args.cpu_threads, max_pixels=args.max_pixels,
                            progress=not args.no_progress, pages=args.pages, pdf_password=args.pdf_password,
                            invert=args.invert, binarize=args.binarize, alphacolor=args.alphacolor,
                            **ocr_options(args))
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("paddle-pp batch: interrupted; committed shards are kept, run it again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(format_summary(summary), flush=True)
    return EXIT_FAILED if summary["failed_pages"] or summary["missing"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
