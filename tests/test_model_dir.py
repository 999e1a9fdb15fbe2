"""The model directory (paddle_pp.model_dir): round trip, crash safety, validation errors, describe."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("paddle")

from paddle_pp import model_dir as mdir  # noqa: E402
from paddle_pp.config import load_config  # noqa: E402


@pytest.fixture(scope="module")
def cls_model():
    from paddle_pp.modeling.architecture import build_model

    cfg = load_config("cls")
    model = build_model(cfg)
    model.eval()
    return model, cfg


def leftovers(folder):
    """Hidden staging directories and temporary files a writer may have left."""
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp"))


def test_weights_dir_round_trip_validate_and_describe(cls_model, tmp_path):
    model, cfg = cls_model
    target = tmp_path / "cls"
    mdir.write_weights_dir(model, cfg, target, extra={"note.json": {"a": 1}})
    assert mdir.validate(target)["Architecture"]["model_type"] == "cls"
    loaded = mdir.load_model(target)
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy())
    info = mdir.describe(target)
    assert info["kind"] == "cls" and info["formats"] == ["dygraph"]
    assert set(info["files"]) == {"config.yml", "model.pdparams", "note.json"}
    assert info["size_bytes"] == sum(p.stat().st_size for p in target.iterdir())
    assert info["dictionary"] is None and not info["pruned"] and info["source"] is None
    assert json.loads((target / "note.json").read_text()) == {"a": 1}
    assert "config_path" not in (target / "config.yml").read_text()
    assert leftovers(tmp_path) == []


def test_rec_config_brings_its_dictionary(tmp_path):
    cfg = load_config("rec_en")
    target = tmp_path / "rec"
    target.mkdir()
    written = mdir.write_config(target, cfg)
    name = written["Global"]["character_dict_path"]
    assert (target / name).is_file() and os.sep not in name
    (target / mdir.ONNX_MODEL).write_bytes(b"onnx")  # validate reads files only
    info = mdir.describe(target)
    assert info["kind"] == "rec" and info["dictionary"] == name and info["formats"] == ["onnx"]


def test_failed_weights_write_leaves_no_model_directory(cls_model, tmp_path, monkeypatch):
    model, cfg = cls_model
    import paddle_pp.config

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(paddle_pp.config, "save_config", crash)
    with pytest.raises(OSError, match="disk full"):
        mdir.write_weights_dir(model, cfg, tmp_path / "cls")
    assert not mdir.is_model_dir(tmp_path / "cls")  # config.yml comes last: no half model directory
    with pytest.raises(mdir.ModelDirError, match=r"not a paddle-pp model directory \(config.yml is missing\)"):
        mdir.validate(tmp_path / "cls")
    assert leftovers(tmp_path) == []


def test_failed_directory_replacement_keeps_the_old_one(tmp_path):
    target = tmp_path / "model"

    def fill_v1(staging):
        (staging / "config.yml").write_text("v1")

    def fill_broken(staging):
        (staging / "config.yml").write_text("v2")
        raise RuntimeError("crash mid-write")

    mdir.replace_directory(target, fill_v1)
    with pytest.raises(RuntimeError, match="mid-write"):
        mdir.replace_directory(target, fill_broken)
    assert (target / "config.yml").read_text() == "v1"
    mdir.replace_directory(target, lambda staging: (staging / "config.yml").write_text("v3"))
    assert (target / "config.yml").read_text() == "v3" and oct(target.stat().st_mode & 0o777) == "0o755"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_interrupted_program_save_installs_nothing(tmp_path):
    target = tmp_path / "exported"

    def save_params_then_crash(prefix):
        open(prefix + ".pdiparams", "wb").close()
        raise RuntimeError("killed during jit.save")

    with pytest.raises(RuntimeError, match="killed"):
        mdir.save_inference(target, save_params_then_crash)
    assert list(target.iterdir()) == []

    def save_both(prefix):
        for suffix in (".pdiparams", ".json"):
            open(prefix + suffix, "wb").close()

    mdir.save_inference(target, save_both)
    assert sorted(p.name for p in target.iterdir()) == [mdir.PIR_MODEL, mdir.PARAMS]
    assert mdir.inference_files(target) == (target / mdir.PIR_MODEL, target / mdir.PARAMS)


def test_publish_copies_files_not_working_folders(tmp_path):
    save_dir = tmp_path / "slim"
    (save_dir / "finetune").mkdir(parents=True)
    (save_dir / "config.yml").write_text("x")
    (save_dir / "model.pdparams.tmp").write_text("partial")
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "stale.txt").write_text("old")
    mdir.publish(save_dir, tmp_path / "published")
    assert sorted(p.name for p in (tmp_path / "published").iterdir()) == ["config.yml"]


def write_cls_config(folder, **architecture):
    cfg = load_config("cls")
    cfg["Architecture"].update(architecture)
    folder.mkdir(parents=True, exist_ok=True)
    mdir.write_config(folder, cfg)


@pytest.mark.parametrize("setup, problem", [
    (lambda d: None, "no such directory"),
    (lambda d: d.mkdir(), r"config.yml is missing"),
    (lambda d: (d.mkdir(), (d / "config.yml").write_text("Global: [unclosed")), r"config.yml cannot be read"),
    (lambda d: write_cls_config(d, model_type="table"), "model_type.*'table'"),
    (lambda d: write_cls_config(d), "no model in it"),
    (lambda d: (write_cls_config(d), (d / "inference.json").write_bytes(b"{}")),
     "inference.json without inference.pdiparams"),
    (lambda d: (write_cls_config(d), (d / "model.pdparams").write_bytes(b"w"),
                (d / "pruned_shapes.json").write_text("{not json")), "pruned_shapes.json: unreadable"),
])
def test_validation_names_directory_and_problem(tmp_path, setup, problem):
    directory = tmp_path / "m"
    setup(directory)
    with pytest.raises(mdir.ModelDirError, match=problem) as err:
        mdir.validate(directory)
    assert str(directory) in str(err.value)


def test_rec_without_its_dictionary_is_invalid(tmp_path):
    target = tmp_path / "rec"
    target.mkdir()
    name = mdir.write_config(target, load_config("rec_en"))["Global"]["character_dict_path"]
    (target / "model.pdparams").write_bytes(b"w")
    (target / name).unlink()
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the dictionary is also looked up in the working directory
    try:
        with pytest.raises(mdir.ModelDirError, match="dictionary"):
            mdir.validate(target)
    finally:
        os.chdir(cwd)


def test_missing_weights_named_on_load(tmp_path):
    write_cls_config(tmp_path / "cls")
    (tmp_path / "cls" / "model.onnx").write_bytes(b"x")
    with pytest.raises(mdir.ModelDirError, match="weights file model.pdparams is missing"):
        mdir.load_model(tmp_path / "cls")


def test_command_line_describes_and_reports_problems(cls_model, tmp_path, capsys):
    model, cfg = cls_model
    mdir.write_weights_dir(model, cfg, tmp_path / "good")
    assert mdir.main([str(tmp_path / "good")]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "cls"
    assert mdir.main([str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
