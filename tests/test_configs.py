"""Every YAML under configs/ builds; the recipes that reproduce the bundled models find their data; the
fine-tuning recipes start from weights whose shapes they match.

The recipes are only run by hand (for an hour or more each), so a typo in one of them would otherwise surface after
the data preparation, mid-run. Here each config builds its transforms, model, loss and metric; every train_data/
label file a recipe names is an output of `paddle-pp data prepare` (its manifest, dataset_tools/presets/prepare.yml);
the finetune/ recipes load their weights.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import paddle
import pytest

from paddle_pp.config import load_config
from paddle_pp.data import build_transforms
from paddle_pp.dataset_tools.prepare_data import load_manifest
from paddle_pp.losses import build_loss
from paddle_pp.metrics import build_metric
from paddle_pp.modeling.architecture import build_model
from paddle_pp.resources import CONFIG_DIR
from paddle_pp.training.adapters import build_adapter
from paddle_pp.training.checkpoint import resolve_pretrained

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.yml") if p.name != "system.yml")
BASES = ("det.yml", "cls.yml", "rec.yml")
FINETUNE = sorted((CONFIG_DIR / "finetune").glob("*.yml"))
# the configs that reproduce a bundled model (and the alphanumeric variant of rec_en.yml)
RECIPES = [p for p in CONFIGS if p.parent.name != "finetune" and p.name not in BASES]
PREPARED = set(load_manifest()["outputs"])  # the label files `paddle-pp data prepare` writes


def _ids(paths):
    return [str(p.relative_to(CONFIG_DIR)) for p in paths]


def _label_files(cfg):
    for mode in ("Train", "Eval"):
        dataset = (cfg.get(mode) or {}).get("dataset") or {}
        files = dataset.get("label_file_list") or dataset.get("data_dir_list") or []
        yield from ([files] if isinstance(files, str) else files)


def _built_model(cfg):
    build_adapter(cfg).prepare_config(cfg)
    return build_model(cfg)


def test_the_config_folder_holds_what_it_should():
    names = {str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.yml")}
    assert names == {"det.yml", "cls.yml", "rec.yml", "rec_en.yml", "rec_en_alnum.yml",
                     "rec_en_v2.yml", "rec_en_v3.yml", "rec_en_v4.yml",
                     "system.yml",
                     "cls_synth.yml",
                     "slim/det_prune.yml", "slim/cls_pact.yml", "slim/rec_pact.yml", "slim/rec_en_pact.yml",
                     "slim/rec_en_ptq.yml",
                     "finetune/det.yml", "finetune/cls.yml", "finetune/rec.yml", "finetune/rec_en.yml"}


@pytest.mark.parametrize("path", CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path):
    cfg = load_config(path)
    model = _built_model(cfg)
    for mode in ("Train", "Eval"):
        if mode in cfg:
            build_transforms(cfg[mode]["dataset"]["transforms"], cfg["Global"])
    assert len(model.parameters()) > 0
    build_loss(cfg["Loss"])
    build_metric(cfg["Metric"])


@pytest.mark.parametrize("path", CONFIGS, ids=_ids(CONFIGS))
def test_base_is_at_most_one_level_onto_a_model_config(path):
    """A recipe reads as itself plus det/cls/rec.yml (rec_en.yml's variants build on it, a continued run on the run
    it continues (rec_en_v3 on rec_en_v2), an interpolation on the run it interpolates (rec_en_v4 on rec_en_v3), and a
    quantization recipe on its float twin's, whose data it must see)."""
    base = __import__("yaml").safe_load(path.read_text(encoding="utf-8")).get("_base_")
    if base is None:
        return
    base_name = Path(str(base)).stem
    assert base_name in ("det", "cls", "rec", "rec_en", "rec_en_v2", "rec_en_v3"), f"{path.name}: _base_ {base}"
    if base_name == "rec_en_v2":
        assert path.name == "rec_en_v3.yml", path
    if base_name == "rec_en_v3":
        assert path.name in ("rec_en_pact.yml", "rec_en_ptq.yml", "rec_en_v4.yml"), path
    if base_name == "rec_en":
        assert path.name in ("rec_en_alnum.yml", "rec_en_v2.yml", "rec_en.yml"), path


@pytest.mark.parametrize("path", RECIPES, ids=_ids(RECIPES))
def test_recipe_data_comes_from_prepare_data(path):
    """A train_data/ label file that nothing writes means a run that fails after hours of preparation."""
    names = [str(name) for name in _label_files(load_config(path))]
    assert names, f"{path.name} names no label files"
    for name in names:
        assert name.startswith("train_data/"), f"{path.name}: {name} is not prepared data"
        assert Path(name).name in PREPARED, f"{path.name}: {name} is not an output of `paddle-pp data prepare`"


@pytest.mark.parametrize("path", RECIPES, ids=_ids(RECIPES))
def test_recipe_header_commands_name_prepared_data(path):
    """The stage commands in a recipe's header comments (-o Train.dataset.label_file_list=[...]) too."""
    import re

    for name in re.findall(r"train_data/([\w.-]+\.txt)", path.read_text(encoding="utf-8")):
        assert name in PREPARED, f"{path.name}: train_data/{name} is not an output of `paddle-pp data prepare`"


def test_recipes_name_no_removed_config():
    """Header commands name configs that exist (configs/X.yml)."""
    import re

    for path in CONFIGS:
        for name in re.findall(r"configs/([\w/]+\.yml)", path.read_text(encoding="utf-8")):
            assert (CONFIG_DIR / name).is_file(), f"{path.name} names configs/{name}"


@pytest.mark.parametrize("path", FINETUNE, ids=_ids(FINETUNE))
def test_finetune_recipe_matches_its_starting_weights(path, models_dir):
    """Small-data settings (a time budget, fewer epochs and a lower rate than training from scratch), the user's
    label files, and weights that load whole: no parameter left at its initialisation by a shape mismatch."""
    cfg = load_config(path)
    g = cfg["Global"]
    from_scratch = load_config({"rec_en": "rec"}.get(path.stem, path.stem))
    assert g["max_train_minutes"] and g["epoch_num"] < from_scratch["Global"]["epoch_num"]
    assert cfg["Optimizer"]["lr"]["learning_rate"] < from_scratch["Optimizer"]["lr"]["learning_rate"]
    for name in _label_files(cfg):
        assert str(name).startswith("./train_data/"), f"{path.name}: {name} is not a user-data placeholder"
    saved = paddle.load(resolve_pretrained(g["pretrained_model"], g["model_name"]))
    own = _built_model(cfg).state_dict()
    assert set(own) <= set(saved)
    mismatched = {k: (list(saved[k].shape), list(v.shape)) for k, v in own.items() if list(saved[k].shape) != list(v.shape)}
    assert not mismatched, f"{path.name}: {mismatched}"


def test_a_copied_recipe_still_finds_its_base(tmp_path):
    """finetune/ recipes say `_base_: det`: a packaged config's name, so a user's copy elsewhere still loads."""
    for path in FINETUNE:
        copy = tmp_path / f"my_{path.name}"
        shutil.copyfile(path, copy)
        assert load_config(copy)["Architecture"] == load_config(path)["Architecture"]
    (tmp_path / "broken.yml").write_text("_base_: no_such_config\nGlobal: {}\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="no_such_config"):
        load_config(tmp_path / "broken.yml")


SHIPPED_MODEL_CONFIGS = sorted((ROOT / "paddle_pp" / "models").rglob("config.yml"))


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.rglob("*.yml")) + SHIPPED_MODEL_CONFIGS,
                         ids=[str(p.relative_to(ROOT / "paddle_pp")) for p in
                              sorted(CONFIG_DIR.rglob("*.yml")) + SHIPPED_MODEL_CONFIGS])
def test_every_shipped_config_follows_the_schema(path):
    """Issue 21 (4a): each section, key and value of every shipped config (and bundled model's config.yml) is one
    the schema knows, and each component it names takes the arguments it is given."""
    from paddle_pp.config import check_components, check_config

    cfg = load_config(path, components=True)
    check_config(cfg, path)
    check_components(cfg, path)
    assert set(cfg) <= {"Global", "Architecture", "Loss", "Optimizer", "PostProcess", "Metric", "Train", "Eval",
                        "Inference", "Slim", "System", "Interpolate"}


@pytest.mark.parametrize("name,config", [("rec_en", "rec_en"), ("cls_synth", "cls_synth"), ("slim/rec_en", "rec_en")])
def test_a_bundled_model_decodes_as_the_config_that_drives_it(name, config):
    """PPOCR(lang="en") runs models/rec_en under configs/rec_en.yml's Inference and PostProcess, and
    `--rec_model_dir paddle_pp/models/rec_en` under the directory's config.yml: the two must give the same answer
    (the English case prior, the batching). The slim English recognizer decodes as its float twin."""
    from paddle_pp.model_dir import read_config
    from paddle_pp.resources import BUNDLED_MODELS_DIR

    bundled, driving = read_config(BUNDLED_MODELS_DIR / name), load_config(config)
    for section in ("Inference", "PostProcess"):
        assert bundled[section] == driving[section], section
