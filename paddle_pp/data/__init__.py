"""Training data: datasets, data operators and the DataLoader.

    loader = build_dataloader(config, "Train", seed=epoch)

Batches are dicts keyed by the config's KeepKeys names (see collate.py for stacking rules). Importing
this package does not import paddle; ``build_dataloader`` does.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, Mapping

from paddle_pp.data import datasets  # noqa: F401  (registers SimpleDataSet, LMDBDataSet)
from paddle_pp.data.bucket_sampler import WidthBucketBatchSampler, sample_widths_for
from paddle_pp.data.collate import collate_batch
from paddle_pp.data.datasets import DataError, LMDBDataSet, SimpleDataSet
from paddle_pp.data.imaug import build_transforms
from paddle_pp.registry import DATASETS

LOADER_KEYS = ("shuffle", "drop_last", "batch_size_per_card", "num_workers", "use_shared_memory", "bucket_by_width")

__all__ = ["build_dataset", "build_dataloader", "build_transforms", "collate_batch", "DataError",
           "SimpleDataSet", "LMDBDataSet", "WidthBucketBatchSampler"]

logger = logging.getLogger("paddle_pp.data")


def build_dataset(config: Mapping[str, Any], mode: str, seed: int = 0):
    if mode not in ("Train", "Eval"):
        raise ValueError(f"mode must be 'Train' or 'Eval', got {mode!r}")
    if mode not in config or "dataset" not in (config[mode] or {}):
        raise KeyError(f"config has no {mode}.dataset section")
    return DATASETS.build(config[mode]["dataset"], global_config=config.get("Global", {}), mode=mode, seed=seed)


def build_dataloader(config: Mapping[str, Any], mode: str, seed: int = 0, distributed: bool = False):
    """paddle.io.DataLoader over config[mode]['dataset'] with config[mode]['loader'] settings.

    The dataset is ``loader.dataset``; it carries ``dropped_labels`` / ``drop_summary()`` (labels removed
    up front) and ``bad_samples()`` (samples that failed at load time), and ``set_epoch(e)`` to redraw
    ratio_list sampling. With ``distributed`` a DistributedBatchSampler splits the data across cards.
    """
    import paddle

    dataset = build_dataset(config, mode, seed)
    loader_cfg: Dict[str, Any] = dict(config[mode].get("loader") or {})
    unknown = sorted(set(loader_cfg) - set(LOADER_KEYS))
    if unknown:
        raise KeyError(f"{mode}.loader: unknown key(s) {unknown}; known: {list(LOADER_KEYS)}")
    batch_size = int(loader_cfg.get("batch_size_per_card", 1))
    shuffle = bool(loader_cfg.get("shuffle", mode == "Train"))
    drop_last = bool(loader_cfg.get("drop_last", False))
    num_workers = int(loader_cfg.get("num_workers", 0))
    if loader_cfg.get("bucket_by_width"):
        sampler = build_bucket_sampler(dataset, mode, batch_size, shuffle, drop_last, seed, distributed)
    elif distributed:
        sampler = paddle.io.DistributedBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle,
                                                    drop_last=drop_last)
    else:
        sampler = paddle.io.BatchSampler(dataset, shuffle=shuffle, batch_size=batch_size, drop_last=drop_last)
    return paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, return_list=True,
                                use_shared_memory=bool(loader_cfg.get("use_shared_memory", False)),
                                collate_fn=collate_batch)


def build_bucket_sampler(dataset, mode: str, batch_size: int, shuffle: bool, drop_last: bool, seed: int,
                         distributed: bool) -> WidthBucketBatchSampler:
    """The width-bucketing batch sampler over ``dataset``: widths from the image headers through the
    pipeline's RecResizeImg (its ``output_width``), rank and world size from paddle.distributed."""
    resize = next((op for op in dataset.ops.ops if callable(getattr(op, "output_width", None))), None)
    if resize is None:
        raise ValueError(f"{mode}.loader.bucket_by_width needs a RecResizeImg among {mode}.dataset.transforms "
                         f"(it says how wide each crop becomes)")
    start = time.time()
    widths = sample_widths_for(dataset, resize.output_width)
    rank, replicas = 0, 1
    if distributed:
        import paddle.distributed as dist

        rank, replicas = dist.get_rank(), dist.get_world_size()
    sampler = WidthBucketBatchSampler(dataset, widths, resize.image_shape[2], batch_size, shuffle=shuffle,
                                      drop_last=drop_last, seed=seed, num_replicas=replicas, rank=rank)
    sizes = sampler.bucket_sizes()
    logger.info("%s: %d samples in %d width buckets (%s), header sizes read in %.1f s; %d batches per card",
                mode, len(dataset), len(sizes), ", ".join(f"{w}px: {n} x{sampler.bucket_batch_size(w)}"
                                                          for w, n in sizes.items()),
                time.time() - start, len(sampler))
    return sampler
