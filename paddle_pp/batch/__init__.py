"""paddle-pp batch: resumable, exactly-once OCR of large image and document (PDF, multi-page TIFF) collections on
Ray Data, one row per page (docs/batch.md).

    from paddle_pp.batch import run_batch
    summary = run_batch("scans/", "out/", lang="en")          # local Ray on this machine's cores
    summary = run_batch("s3://bucket/scans/", "s3://bucket/ocr/", address="auto")

Ray, pyarrow and pandas are the `batch` extra (pip install 'paddle-pp[batch]'); importing this package does
not need them, running a job does.
"""
from __future__ import annotations

from typing import Any, Optional

__all__ = ["run_batch", "BatchError"]
FORMATS = ("parquet", "jsonl")
DEFAULT_SHARD_SIZE = 16
EXTRA_HINT = "paddle-pp batch needs Ray: pip install 'paddle-pp[batch]'"


def ray_available() -> Optional[str]:
    """None when Ray Data (and pyarrow) can be imported, else the install hint naming what is missing."""
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        return f"{EXTRA_HINT} ({exc.name} is missing)"
    return None


def __getattr__(name: str) -> Any:
    if name in __all__:
        from paddle_pp.batch import run

        return getattr(run, name)
    raise AttributeError(name)
