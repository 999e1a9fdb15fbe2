"""Issue 21, defects 3 and 4a: every option and config key has a declared type and valid range
(paddle_pp/config_schema.py); out of range is a usage error (exit 2) on the command line, a ValueError naming the
option in the API, and an error naming the file and the key when a config (or a model directory's config.yml) is
loaded; an unknown key or section is an error that suggests the nearest valid one."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from paddle_pp.config import load_config
from paddle_pp.pipeline import apply_options
from paddle_pp.resources import BUNDLED_MODELS_DIR
from paddle_pp.tools import utility

ROOT = Path(__file__).resolve().parents[1]

# (flag, bad value, the message argparse must print after "argument --flag: ")
BAD_FLAGS = [
    ("det_limit_side_len", "-5", "must be an integer >= 1, got -5"),
    ("det_limit_side_len", "0", "must be an integer >= 1, got 0"),
    ("rec_batch_num", "-3", "must be an integer >= 1, got -3"),
    ("rec_batch_num", "0", "must be an integer >= 1, got 0"),
    ("cls_batch_num", "-2", "must be an integer >= 1, got -2"),
    ("drop_score", "2", "must be a number in [0, 1], got 2"),
    ("drop_score", "nan", "must be a number in [0, 1], got nan"),
    ("det_db_thresh", "5", "must be a number in [0, 1), got 5"),
    ("det_db_box_thresh", "-0.1", "must be a number in [0, 1], got -0.1"),
    ("det_db_unclip_ratio", "-1", "must be a number > 0, got -1"),
    ("max_candidates", "0", "must be an integer >= 1, got 0"),
    ("cls_thresh", "inf", "must be a number in [0, 1], got inf"),
    ("cpu_threads", "-1", "must be an integer in [0, 1024], got -1"),
    ("det_limit_type", "maxx", "must be one of max, min, resize_long, got 'maxx'"),
    ("det_max_side_limit", "16", "must be an integer >= 32, got 16"),
    ("use_angle_cls", "maybe", "must be true or false, got 'maybe'"),
    ("rec_batch_num", "six", "must be an integer >= 1, got six"),
]


@pytest.mark.parametrize("flag,value,message", BAD_FLAGS, ids=[f"{f}={v}" for f, v, _ in BAD_FLAGS])
def test_cli_rejects_an_option_out_of_its_range(flag, value, message, capsys):
    parser = utility.build_parser("system")
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([f"--{flag}", value])
    assert exit_info.value.code == 2
    assert f"argument --{flag}: {message}" in capsys.readouterr().err


def test_cli_accepts_the_edges_of_each_range():
    args = utility.build_parser("system").parse_args(
        ["--rec_batch_num", "1", "--drop_score", "0", "--det_db_thresh", "0", "--det_db_box_thresh", "1",
         "--cpu_threads", "0", "--det_limit_type", "min", "--use_angle_cls", "false"])
    assert (args.rec_batch_num, args.drop_score, args.det_db_thresh, args.det_db_box_thresh) == (1, 0.0, 0.0, 1.0)
    assert args.det_limit_type == "min" and args.use_angle_cls is False


def test_predict_system_exits_2_on_rec_batch_num_0_before_any_image(tmp_path):
    """`--rec_batch_num 0` used to fail every image (exit 1); it is the command line that is wrong."""
    run = subprocess.run([sys.executable, str(ROOT / "deploy" / "predict_system.py"), "--rec_batch_num", "0",
                          "--image_dir", str(tmp_path), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "argument --rec_batch_num: must be an integer >= 1, got 0" in run.stderr
    assert not (tmp_path / "out").exists()


def test_benchmark_flags_that_mirror_the_system_options_are_checked_the_same_way(capsys):
    from paddle_pp.tools.benchmark import build_parser

    for argv, message in ((["--cpu_threads", "-4"], "argument --cpu_threads: must be an integer in [0, 1024]"),
                          (["--enable_mkldnn", "banana"], "argument --enable_mkldnn: must be true or false")):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["--image_dir", "x", *argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


API_BAD = [
    ({"rec_batch_num": -3}, "rec_batch_num"),
    ({"rec_batch_num": 0}, "rec_batch_num"),
    ({"cls_batch_num": -2}, "cls_batch_num"),
    ({"det_limit_side_len": 0}, "det_limit_side_len"),
    ({"det_db_thresh": 5}, "det_db_thresh"),
    ({"det_db_unclip_ratio": -1}, "det_db_unclip_ratio"),
    ({"max_candidates": 0}, "max_candidates"),
    ({"det_db_score_mode": "fastest"}, "det_db_score_mode"),
    ({"rec_batch_num": 2.5}, "rec_batch_num"),
    ({"use_dilation": "no"}, "use_dilation"),
]


@pytest.mark.parametrize("options,name", API_BAD, ids=[str(o) for o, _ in API_BAD])
def test_api_options_out_of_range_are_a_value_error_naming_the_option(options, name):
    configs = {"det": {}, "cls": {}, "rec": {}}
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        apply_options(configs, options)
    assert configs == {"det": {}, "cls": {}, "rec": {}}


SYSTEM_BAD = [
    ({"drop_score": 2}, "drop_score"), ({"drop_score": math.nan}, "drop_score"),
    ({"cpu_threads": -1}, "cpu_threads"), ({"engine": "tensorrt"}, "engine"),
    ({"lang": "fr"}, "lang"), ({"use_angle_cls": "yes"}, "use_angle_cls"),
    ({"rec_batch_num": -3}, "rec_batch_num"),
]


@pytest.mark.parametrize("options,name", SYSTEM_BAD, ids=[str(o) for o, _ in SYSTEM_BAD])
def test_ppocr_rejects_bad_options_before_building_anything(options, name, monkeypatch):
    import paddle_pp.ocr as ocr

    def no_models(*args, **kwargs):
        raise AssertionError("a model was built before the options were checked")

    monkeypatch.setattr(ocr, "build_engine", no_models)
    with pytest.raises(ValueError, match=name):
        ocr.PPOCR(**options)


def test_build_stage_rejects_bad_options(monkeypatch):
    import paddle_pp.ocr as ocr

    monkeypatch.setattr(ocr, "build_engine", lambda *a, **k: pytest.fail("engine built"))
    with pytest.raises(ValueError, match="rec_batch_num"):
        ocr.build_stage("rec", rec_batch_num=0)
    with pytest.raises(ValueError, match="cpu_threads"):
        ocr.build_stage("det", cpu_threads=-2)


# ------------------------------------------------------------------------------------------------ config files

def _write(path: Path, cfg) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("section,key,value,message", [
    ("Inference", "limit_side_len", -5, "Inference.limit_side_len must be an integer >= 1, got -5"),
    ("PostProcess", "thresh", 5, "PostProcess.thresh must be a number in [0, 1), got 5"),
    ("PostProcess", "unclip_ratio", float("nan"), "PostProcess.unclip_ratio must be a number > 0, got nan"),
    ("Global", "epoch_num", 0, "Global.epoch_num must be an integer >= 1, got 0"),
    ("Global", "freeze_bn", "yes", "Global.freeze_bn must be true or false, got 'yes'"),
])
def test_a_value_out_of_range_in_a_config_is_an_error_naming_file_and_key(tmp_path, section, key, value, message):
    path = _write(tmp_path / "mine.yml", {"_base_": "det", section: {key: value}})
    with pytest.raises(ValueError) as error:
        load_config(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_an_override_out_of_range_is_an_error():
    with pytest.raises(ValueError, match=r"Global\.max_steps must be an integer >= 1, got -1"):
        load_config("det", ["Global.max_steps=-1"])


def test_an_override_reaches_a_list_item_by_its_index():
    cfg = load_config("rec_en_v2", ["Train.dataset.transforms.3.RecResizeImg.max_width=1280"])
    assert cfg["Train"]["dataset"]["transforms"][3]["RecResizeImg"]["max_width"] == 1280
    assert cfg["Train"]["dataset"]["transforms"][3]["RecResizeImg"]["image_shape"] == [3, 32, 320]  # still filled
    assert load_config("rec_en_v2")["Train"]["dataset"]["transforms"][3]["RecResizeImg"].get("max_width") is None
    with pytest.raises(ValueError, match=r"Train\.dataset\.transforms is a list of \d+ items; '99' is not an index"):
        load_config("rec_en_v2", ["Train.dataset.transforms.99.RecResizeImg.max_width=1"])
    with pytest.raises(ValueError, match=r"RecResizeImg\.max_width"):  # the item's values are still checked
        load_config("rec_en_v2", ["Train.dataset.transforms.3.RecResizeImg.max_width=-5"])
    with pytest.raises(ValueError, match="max_widht"):  # and a misspelt argument is still an error
        load_config("rec_en_v2", ["Train.dataset.transforms.3.RecResizeImg.max_widht=640"], components=True)


def test_system_config_values_are_checked(tmp_path):
    system = yaml.safe_load((ROOT / "paddle_pp" / "configs" / "system.yml").read_text(encoding="utf-8"))
    system["System"]["drop_score"] = 1.5
    with pytest.raises(ValueError, match=r"System\.drop_score must be a number in \[0, 1\], got 1.5"):
        load_config(_write(tmp_path / "system.yml", system))
    system["System"]["drop_score"] = 0.5
    system["System"]["lang"] = "fr"
    with pytest.raises(ValueError, match=r"System\.lang must be one of ch, en"):
        load_config(_write(tmp_path / "system.yml", system))


def test_a_model_directory_with_a_bad_value_in_its_config_is_refused(tmp_path):
    from paddle_pp import model_dir as mdir

    directory = tmp_path / "cls_bad"
    shutil.copytree(BUNDLED_MODELS_DIR / "cls_synth", directory)
    cfg = yaml.safe_load((directory / "config.yml").read_text(encoding="utf-8"))
    cfg["Inference"]["batch_num"] = -3
    _write(directory / "config.yml", cfg)
    with pytest.raises(ValueError, match=r"config\.yml: Inference\.batch_num must be an integer >= 1, got -3"):
        mdir.read_config(directory)


@pytest.mark.parametrize("cfg,message", [
    ({"Global": {"max_step": 10}}, "unknown key 'max_step' in Global; did you mean 'max_steps'?"),
    ({"Global": {"checkpoint": "out/latest"}}, "unknown key 'checkpoint' in Global; did you mean 'checkpoints'?"),
    ({"Optimiser": {"name": "Adam"}}, "unknown section 'Optimiser'; did you mean 'Optimizer'?"),
    ({"Inference": {"limit_side": 960}}, "unknown key 'limit_side' in Inference; did you mean 'limit_side_len'?"),
    ({"PostProcess": {"unclip": 2.0}}, "unknown key 'unclip' in PostProcess; did you mean 'unclip_ratio'?"),
    ({"Train": {"loader": {"batch_size": 4}}},
     "unknown key 'batch_size' in Train.loader; did you mean 'batch_size_per_card'?"),
    ({"Architecture": {"Backbon": {"name": "MobileNetV3"}}},
     "unknown key 'Backbon' in Architecture; did you mean 'Backbone'?"),
    ({"Slim": {"latency_run": 3}}, "unknown key 'latency_run' in Slim; did you mean 'latency_runs'?"),
])
def test_an_unknown_key_or_section_is_an_error_with_the_nearest_valid_one(tmp_path, cfg, message):
    path = _write(tmp_path / "typo.yml", {"_base_": "det", **cfg})
    with pytest.raises(ValueError) as error:
        load_config(path)
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("cfg,message", [
    ({"Architecture": {"Backbone": {"scael": 0.5}}},
     "unknown key 'scael' in Architecture.Backbone (MobileNetV3); did you mean 'scale'?"),
    ({"Architecture": {"Head": {"name": "DBHaed"}}}, "unknown head 'DBHaed' in Architecture.Head; did you mean 'DBHead'?"),
    ({"Loss": {"alpah": 5}}, "unknown key 'alpah' in Loss (DBLoss); did you mean 'alpha'?"),
    ({"Optimizer": {"beta_1": 0.9}}, "unknown key 'beta_1' in Optimizer (Adam); did you mean 'beta1'?"),
    ({"Optimizer": {"lr": {"warmup_epochs": 1}}},
     "unknown key 'warmup_epochs' in Optimizer.lr (Cosine); did you mean 'warmup_epoch'?"),
    ({"Metric": {"name": "DetMetrics"}}, "unknown metric 'DetMetrics' in Metric; did you mean 'DetMetric'?"),
    ({"Eval": {"dataset": {"transforms": [{"DecodeImg": None}]}}},
     "unknown data operator 'DecodeImg' in Eval.dataset.transforms[0]; did you mean 'DecodeImage'?"),
    ({"Eval": {"dataset": {"transforms": [{"DetResizeForTest": {"limit_side": 640}}]}}},
     "unknown key 'limit_side' in Eval.dataset.transforms[0] (DetResizeForTest); did you mean 'limit_side_len'?"),
    ({"Train": {"dataset": {"label_files": ["a.txt"]}}},
     "unknown key 'label_files' in Train.dataset (SimpleDataSet); did you mean 'label_file_list'?"),
])
def test_component_keys_are_checked_against_the_registry_and_signatures(tmp_path, cfg, message):
    path = _write(tmp_path / "typo.yml", {"_base_": "det", **cfg})
    load_config(path)  # the components (registries, paddle) are checked when asked: training, eval, export
    with pytest.raises(ValueError) as error:
        load_config(path, components=True)
    assert str(path) in str(error.value) and message in str(error.value)


# ------------------------------------------------------------------------------------------------ the schema itself

def test_the_schema_agrees_with_the_code_it_describes():
    import inspect

    from paddle_pp import config_schema as schema
    from paddle_pp.data import LOADER_KEYS
    from paddle_pp.engine import ENGINES
    from paddle_pp.pipeline import OPTION_KEYS, option_field
    from paddle_pp.postprocess.db_postprocess import DBPostProcess

    assert schema.ENGINE_CHOICES == ENGINES
    assert set(schema.LOADER) == set(LOADER_KEYS)
    assert set(schema.POSTPROCESS["DBPostProcess"]) == set(inspect.signature(DBPostProcess).parameters)
    for flag in OPTION_KEYS:  # every predictor flag has a type and a range
        assert option_field(flag).describe()
    for name, default in load_config("system")["System"].items():
        assert schema.SYSTEM[name].problem(default) is None, name


def test_nan_and_infinity_are_never_numbers_in_range():
    from paddle_pp.config_schema import Float, Int

    for field in (Float(), Float(0, 1), Float(0, low_open=True), Int(1)):
        for value in (math.nan, math.inf, -math.inf):
            assert field.problem(value) is not None
    assert Int(1).problem(True) is not None  # a bool is not a batch size


@pytest.mark.parametrize("tool,extra", [("paddle_pp.train", []), ("paddle_pp.eval", []),
                                        ("paddle_pp.tools.export_model", ["--save_dir", "unused"])])
def test_training_tools_refuse_a_config_typo_with_one_line_and_exit_2(tool, extra, tmp_path, capsys):
    """Global.checkpoint (for checkpoints) used to start a fresh run silently; now nothing starts."""
    import importlib

    path = _write(tmp_path / "typo.yml", {"_base_": "rec", "Global": {"checkpoint": "./output/rec/latest"}})
    main = importlib.import_module(tool).main
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", str(path), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {path}: unknown key 'checkpoint' in Global; did you mean 'checkpoints'?" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["-c", "rec", "-o", "Global.max_step=3", *extra])
    assert "override 'Global.max_step=3': unknown key 'max_step' in Global; did you mean 'max_steps'?" \
        in capsys.readouterr().err
