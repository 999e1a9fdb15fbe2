"""Every YAML under configs/ must build, and the experiment chains must hang together.

The experiment and slim configs are only run by hand (for an hour or more each), so a typo in one of them would
otherwise surface after the data preparation, mid-run. Here each one builds its transforms, model, loss and metric,
names only train_data/ files that dataset_tools/prepare_experiments.py writes, and starts from ./output/ weights only
when another config saves there.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from paddle_pp.config import load_config
from paddle_pp.data import build_transforms
from paddle_pp.losses import build_loss
from paddle_pp.metrics import build_metric
from paddle_pp.modeling.architecture import build_model
from paddle_pp.training.adapters import build_adapter

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yml") if p.name != "system.yml")
PREPARE = (ROOT / "paddle_pp" / "dataset_tools" / "prepare_experiments.py").read_text(encoding="utf-8")


def _label_files(cfg):
    for mode in ("Train", "Eval"):
        dataset = (cfg.get(mode) or {}).get("dataset") or {}
        files = dataset.get("label_file_list") or dataset.get("data_dir_list") or []
        yield from ([files] if isinstance(files, str) else files)


def _output_dir(path: str) -> str:
    """'./output/cls_scan/latest' -> 'output/cls_scan'."""
    path = Path(path)  # pathlib drops a leading './'
    is_checkpoint = path.suffix or path.name in ("latest", "best_accuracy") or re.match(r"iter_epoch_\d+$", path.name)
    return str(path.parent if is_checkpoint else path)


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT / "configs")) for p in CONFIGS])
def test_config_builds(path):
    cfg = load_config(path)
    build_adapter(cfg).prepare_config(cfg)
    for mode in ("Train", "Eval"):
        if mode in cfg:
            build_transforms(cfg[mode]["dataset"]["transforms"], cfg["Global"])
    model = build_model(cfg)
    assert len(model.parameters()) > 0
    build_loss(cfg["Loss"])
    build_metric(cfg["Metric"])


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT / "configs")) for p in CONFIGS])
def test_config_data_comes_from_prepare_experiments(path):
    """A train_data/ label file that nothing writes means a run that fails after hours of preparation."""
    for name in _label_files(load_config(path)):
        if str(name).startswith("train_data/"):
            produced = Path(name).name
            assert f'"{produced}"' in PREPARE or f'"{Path(produced).stem}"' in PREPARE, (
                f"{path.name}: {name} is not written by dataset_tools/prepare_experiments.py")


def test_staged_experiments_start_from_a_saved_run():
    """A stage that starts from ./output/X (or output/X) must follow a config that saves to ./output/X."""
    configs = {p: load_config(p) for p in CONFIGS}
    saved = {_output_dir(c["Global"]["save_model_dir"]) for c in configs.values() if c["Global"].get("save_model_dir")}
    staged = 0
    for path, cfg in configs.items():
        start = cfg["Global"].get("pretrained_model")
        if isinstance(start, str) and str(Path(start)).startswith("output/"):
            staged += 1
            assert _output_dir(start) in saved, f"{path.name}: {start} is not saved by any config"
    assert staged >= 10  # the classifier chain, cls_scan_long.yml and rec_en_stage2.yml


def test_output_dir_parsing():
    assert _output_dir("./output/cls_scan/latest") == "output/cls_scan"
    assert _output_dir("./output/cls_synth_stage8/best_accuracy") == "output/cls_synth_stage8"
    assert _output_dir("./output/cls_synth/iter_epoch_3") == "output/cls_synth"
    assert _output_dir("./output/rec_en") == "output/rec_en"
    assert _output_dir("output/rec_en/latest") == "output/rec_en"
