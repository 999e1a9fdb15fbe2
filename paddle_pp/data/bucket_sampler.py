"""Width-bucketed batches for recognition training (``loader.bucket_by_width``).

With ``RecResizeImg.max_width`` a crop becomes a tensor as wide as its text (320 .. max_width pixels, in steps
of ``width_step``). Batching such crops at random would pad every batch to its widest member, and the BiLSTM
reads padding; so crops are grouped by their tensor width (one bucket per width), and the batch size shrinks
as the bucket widens so that a batch holds about the same number of pixels: ``batch_size_per_card`` at
image_shape's width W, ``batch_size_per_card * W // width`` (at least 1) beyond.

The sampler yields positions into the dataset (what ``dataset[i]`` takes) and reads ``dataset.index`` when an
epoch's iteration starts, after the trainer's ``set_epoch`` calls (which reach the sampler before the dataset):
the ratio_list draw of that epoch is what gets batched. Widths come from the image headers, read once per
sample when the sampler is built.

Length: the trainer fixes the steps of an epoch (and the LR schedule) from ``len(loader)`` once, but a
ratio_list draw of other samples can fill the buckets differently. So the number of batches is the one of the
data as built (epoch 0's draw); an epoch whose draw gives more batches leaves out the surplus (random batches
when shuffling), one that gives fewer repeats some. With one rank and a fixed sample set (ratios of 1, or Eval)
every position appears exactly once per epoch.

Distributed: every rank plans the same global batches (same seed, epoch and draw) and takes every
``num_replicas``-th of them, so ranks get disjoint batches and the same number of them (with drop_last the
batches beyond a multiple of num_replicas are left out, without it some are repeated, as Paddle's
DistributedBatchSampler pads).
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Callable, Dict, Iterator, List, Sequence

# A seed per (seed, epoch) pair; the factor keeps seeds of neighbouring runs and epochs apart.
_EPOCH_SEED_FACTOR = 1_000_003


class WidthBucketBatchSampler:
    """Batches of positions whose samples share one tensor width; see the module docstring."""

    def __init__(self, dataset, sample_widths: Sequence[int], base_width: int, batch_size: int,
                 shuffle: bool = True, drop_last: bool = False, seed: int = 0, num_replicas: int = 1,
                 rank: int = 0):
        if batch_size < 1 or base_width < 1:
            raise ValueError(f"batch_size and base_width must be >= 1, got {batch_size}, {base_width}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.dataset = dataset
        self.sample_widths = [max(int(w), int(base_width)) for w in sample_widths]  # by sample id
        self.base_width = int(base_width)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        planned = len(self._plan(self.epoch))
        self.num_batches = (planned // self.num_replicas if self.drop_last
                            else math.ceil(planned / self.num_replicas))   # per rank

    def bucket_batch_size(self, width: int) -> int:
        """The batch size of a bucket: about batch_size x base_width pixels of width per batch."""
        return max(1, self.batch_size * self.base_width // max(int(width), self.base_width))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def bucket_sizes(self) -> Dict[int, int]:
        """Samples per tensor width in the current draw (for the training log)."""
        sizes: Dict[int, int] = defaultdict(int)
        for sample_id in self.dataset.index:
            sizes[self.sample_widths[sample_id]] += 1
        return dict(sorted(sizes.items()))

    def _plan(self, epoch: int) -> List[List[int]]:
        """Every batch of the epoch's draw, over all ranks, in training order."""
        rng = random.Random(self.seed * _EPOCH_SEED_FACTOR + epoch)
        buckets: Dict[int, List[int]] = defaultdict(list)
        for position, sample_id in enumerate(self.dataset.index):
            buckets[self.sample_widths[sample_id]].append(position)
        batches: List[List[int]] = []
        for width in sorted(buckets):
            positions = buckets[width]
            if self.shuffle:
                rng.shuffle(positions)
            size = self.bucket_batch_size(width)
            for start in range(0, len(positions), size):
                batch = positions[start:start + size]
                if len(batch) == size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[List[int]]:
        batches = self._plan(self.epoch)
        wanted = self.num_batches * self.num_replicas
        if batches and len(batches) < wanted:
            batches += [batches[k % len(batches)] for k in range(wanted - len(batches))]
        batches = batches[:wanted]
        return iter(batches[self.rank::self.num_replicas])


def sample_widths_for(dataset, output_width: Callable[[int, int], int]) -> List[int]:
    """The tensor width of every sample of ``dataset`` (by sample id), from its image header."""
    return [output_width(w, h) for w, h in dataset.image_sizes()]
