"""Train a det / rec / cls model from a YAML config (PaddleOCR 2.x ``tools/train.py``).

    python -m paddle_pp.train -c configs/rec.yml -o Global.epoch_num=10 Train.loader.batch_size_per_card=64
    python -m paddle_pp.train -c configs/rec.yml -o Global.checkpoints=./output/rec/latest      # resume
    # several processes (data parallel; on CPU Paddle uses gloo):
    python -m paddle.distributed.launch --nproc_per_node 2 paddle_pp/train.py -c configs/rec.yml

``Global.pretrained_model`` initialises the weights only ('official' = the imported official weights of
``Global.model_name``, or a .pdparams path; tensors whose shape differs are skipped and listed).
``Global.checkpoints`` resumes model, optimizer, LR schedule, epoch, step and RNG states.
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
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv, "train a PP-OCR model")
    from paddle_pp.config import load_tool_config
    from paddle_pp.training import Trainer

    config = load_tool_config(args.config, args.opt)
    trainer = Trainer(config)
    trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
