"""paddle-pp interpolate (tools/interpolate.py): WiSE-FT weights, the shipped English recognizer reproduced from its
recipe, the alpha sweep on a rendered Eval set, and the recipe's errors."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_samples import write_rec_dataset

from paddle_pp.config import ConfigError, load_config
from paddle_pp.tools import interpolate
from paddle_pp.utils.safe_pickle import load_state_dict

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "configs" / "rec_en_v4.yml")
V3_WEIGHTS = str(ROOT / "checkpoints" / "rec_en_v3" / "best_accuracy")
WORDS = ["Hello", "TOTAL", "27.30", "Invoice", "shopping", "Kuala", "Lumpur", "fox"]


def test_interpolate_state_is_the_straight_line_between_the_ends():
    start = {"w": np.array([0.0, 2.0], np.float32), "count": np.array([3], np.int64)}
    end = {"w": np.array([4.0, 6.0], np.float32), "count": np.array([7], np.int64)}
    np.testing.assert_array_equal(interpolate.interpolate_state(start, end, 0.0)["w"], start["w"])
    np.testing.assert_array_equal(interpolate.interpolate_state(start, end, 1.0)["w"], end["w"])
    mixed = interpolate.interpolate_state(start, end, 0.25)
    np.testing.assert_allclose(mixed["w"], [1.0, 3.0])
    assert mixed["w"].dtype == np.float32
    assert mixed["count"].tolist() == [7]           # not a weight: the fine-tuned model's


def test_interpolate_state_refuses_two_architectures():
    with pytest.raises(ValueError, match="different tensors"):
        interpolate.interpolate_state({"a": np.zeros(2)}, {"b": np.zeros(2)}, 0.5)
    with pytest.raises(ValueError, match="shape"):
        interpolate.interpolate_state({"a": np.zeros(2)}, {"a": np.zeros(3)}, 0.5)


def test_best_alpha_breaks_ties_toward_the_fine_tuned_end():
    results = {0.5: {"acc": 0.70}, 0.8: {"acc": 0.71}, 0.9: {"acc": 0.71}, 1.0: {"acc": 0.69}}
    assert interpolate.best_alpha(results, "acc") == 0.9
    assert interpolate.best_alpha({0.0: {"acc": 0.9}, 1.0: {"acc": 0.8}}, "acc") == 0.0


def test_the_shipped_english_recognizer_is_its_recipe(models_dir, tmp_path):
    """models/rec_en is exactly `paddle-pp interpolate -c configs/rec_en_v4.yml`: 0.9 x v3 + 0.1 x the official
    recognizer with its transferred CTC head."""
    assert interpolate.main(["-c", RECIPE, "-o", f"Global.pretrained_model={V3_WEIGHTS}",
                             "--save_dir", str(tmp_path / "rec_en")]) == 0
    made = load_state_dict(str(tmp_path / "rec_en" / "model.pdparams"))
    shipped = load_state_dict(str(ROOT / "paddle_pp" / "models" / "rec_en" / "model.pdparams"))
    assert set(made) == set(shipped)
    for name in shipped:
        np.testing.assert_array_equal(np.asarray(made[name]), np.asarray(shipped[name]), err_msg=name)
    written = load_config(tmp_path / "rec_en" / "config.yml")
    assert "Interpolate" not in written        # read as a recipe again, it must not interpolate twice
    assert written["PostProcess"]["mixed_case_prior"] == 0.01
    # and it differs from both ends
    v3 = load_state_dict(V3_WEIGHTS + ".pdparams")
    assert not np.array_equal(np.asarray(made["head.fc.weight"]), np.asarray(v3["head.fc.weight"]))


def test_sweep_evaluates_each_alpha_on_the_eval_set(models_dir, tmp_path, capsys):
    from paddle_pp.eval import run_eval

    label = write_rec_dataset(tmp_path / "data", WORDS, name="label.txt")
    opts = [f"Global.pretrained_model={V3_WEIGHTS}", f"Eval.dataset.data_dir={tmp_path / 'data'}",
            f"Eval.dataset.label_file_list=[{label}]", "Eval.loader.num_workers=0",
            f"Global.save_model_dir={tmp_path / 'out'}"]
    assert interpolate.main(["-c", RECIPE, "-o", *opts, "--alphas", "1", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("alpha ")]
    assert [row.split(":")[0] for row in rows] == ["alpha 0.000", "alpha 1.000"]
    assert all(f"samples {len(WORDS)}" in row for row in rows)
    record = json.loads((tmp_path / "out" / "alpha_sweep.json").read_text(encoding="utf-8"))
    assert [r["alpha"] for r in record["results"]] == [0.0, 1.0] and record["main_indicator"] == "acc"
    accs = {r["alpha"]: r["acc"] for r in record["results"]}
    assert record["best_alpha"] == (1.0 if accs[1.0] >= accs[0.0] else 0.0)
    assert f"best: alpha {record['best_alpha']:g}" in "\n".join(out)
    assert cv2.imread(str(tmp_path / "out" / "alpha_sweep.png")) is not None
    # alpha 1 is the fine-tuned model itself, evaluated as `paddle-pp eval` evaluates it
    end = run_eval(load_config(RECIPE, opts))
    assert f"acc {end['acc']:.4f}" in rows[1] and f"norm_edit_dis {end['norm_edit_dis']:.4f}" in rows[1]
    assert end["acc"] >= 0.75                  # the recognizer reads the rendered words


def test_alpha_zero_is_the_start_as_training_loads_it(models_dir):
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.training.adapters import build_adapter
    from paddle_pp.training.checkpoint import resolve_pretrained

    config = load_config(RECIPE, [f"Global.pretrained_model={V3_WEIGHTS}"])
    build_adapter(config).prepare_config(config)
    (_, model), = interpolate.interpolated_models(config, [0.0])
    at_zero = interpolate.numpy_state(model)
    start = build_model(config)
    interpolate.load_start(start, config)
    for name, value in interpolate.numpy_state(start).items():
        np.testing.assert_array_equal(at_zero[name], value, err_msg=name)
    # the transferred head: the blank and the 95 ASCII characters all come from the official head's classes
    official = load_state_dict(resolve_pretrained("official:rec", None))
    assert np.array_equal(at_zero["head.fc.weight"][:, 0], np.asarray(official["head.fc.weight"])[:, 0])


def test_recipe_errors_name_the_problem(tmp_path, capsys):
    with pytest.raises(ConfigError, match="Interpolate.alpha"):
        load_config(RECIPE, ["Interpolate.alpha=1.5"])
    with pytest.raises(SystemExit) as exit_:
        interpolate.main(["-c", RECIPE, "--alphas", "2"])
    assert exit_.value.code == 2 and "alphas" in capsys.readouterr().err
    assert interpolate.main(["-c", "rec_en_v3", "--save_dir", str(tmp_path / "x")]) == 1
    assert "the Interpolate section needs start and alpha" in capsys.readouterr().err
    det_start = ["-o", "Interpolate.start=official:det"]
    assert interpolate.main(["-c", RECIPE, *det_start, "--save_dir", str(tmp_path / "y")]) == 1
    assert "Interpolate.start" in capsys.readouterr().err


def test_a_pruned_model_keeps_its_shapes_record(tmp_path):
    """The pruned detector interpolated with itself: the directory written holds pruned_shapes.json (as export
    --weights_only writes it) and loads to the same weights."""
    from paddle_pp import model_dir as mdir

    slim_det = ROOT / "paddle_pp" / "models" / "slim" / "det"
    recipe = tmp_path / "det_interpolate.yml"
    recipe.write_text(f"_base_: {slim_det / 'config.yml'}\nGlobal:\n  pretrained_model: {slim_det / 'model'}\n"
                      f"Interpolate:\n  start: {slim_det / 'model'}\n  alpha: 0.3\n", encoding="utf-8")
    assert interpolate.main(["-c", str(recipe), "--save_dir", str(tmp_path / "det")]) == 0
    assert (tmp_path / "det" / "pruned_shapes.json").read_text() == (slim_det / "pruned_shapes.json").read_text()
    made = {k: v.numpy() for k, v in mdir.load_model(tmp_path / "det").state_dict().items()}
    shipped = load_state_dict(str(slim_det / "model.pdparams"))
    for name, value in shipped.items():
        np.testing.assert_allclose(made[name], np.asarray(value), rtol=1e-6, atol=1e-7, err_msg=name)
