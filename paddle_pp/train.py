"""Train a det / rec / cls model from a YAML config (PaddleOCR 2.x ``tools/train.py``).

    python -m paddle_pp.train -c configs/rec.yml -o Global.epoch_num=10 Train.loader.batch_size_per_card=64
    python -m paddle_pp.train -c configs/rec.yml -o Global.checkpoints=./output/rec/latest      # resume
    # several processes (data parallel; on CPU Paddle uses gloo):
    python -m paddle.distributed.launch --nproc_per_node 2 paddle_pp/train.py -c configs/rec.yml

``Global.pretrained_model`` initialises the weights only ('official' = the imported official weights of
``Global.model_name``, or a .pdparams path; tensors whose shape differs are skipped and listed).
``Global.checkpoints`` resumes model, optimizer, LR schedule, epoch, step and RNG states.
A ``Global.save_model_dir`` that holds another run's checkpoints is refused (exit 2) unless the run resumes from
it or ``--overwrite`` (``Global.overwrite``) says to replace them.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None, description: str = "") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", "--config", required=True, help="YAML config (path, or det/rec/cls)")
    parser.add_argument("-o", "--opt", nargs="*", default=[], action="extend",
                        help="overrides Section.key=value (the key must exist in the YAML)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the checkpoints another run left in Global.save_model_dir (same as "
                             "Global.overwrite=true); without it such a directory is refused unless resumed from")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv, "train a PP-OCR model")
    from paddle_pp.config import load_tool_config
    from paddle_pp.training import Trainer
    from paddle_pp.training.checkpoint import CheckpointError
    from paddle_pp.utils.safe_pickle import NotAPickleError, RefusedPickleError

    config = load_tool_config(args.config, args.opt)
    if args.overwrite:
        config["Global"]["overwrite"] = True
    try:
        trainer = Trainer(config)
    except (CheckpointError, RefusedPickleError, NotAPickleError) as error:  # an output directory in use, a
        print(f"error: {error}", file=sys.stderr)                           # checkpoint refused: one line
        return 2
    trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
