"""End-to-end training on tiny rendered data: the loss falls, evaluation/checkpoints/logs/plot are written, a
resumed run continues with exactly the loss of an uninterrupted one, pre-trained weights of another dictionary
load with the head skipped, torn checkpoints are refused, and a 2-process data-parallel launch runs on CPU."""
import json
import os
import string
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest

from paddle_pp.config import load_config
from paddle_pp.training import CheckpointError, Trainer, load_checkpoint, save_checkpoint
from paddle_pp.utils.text_render import render_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHARS = string.digits + string.ascii_lowercase
WIDTH = 128  # the recognizer is fully convolutional in width: T = WIDTH / 4


def _words(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(CHARS), size=int(rng.integers(3, 7)))) for _ in range(n)]


def _rec_samples(words):
    images, labels, lengths = [], [], []
    for word in words:
        img = render_line(word)
        w = min(WIDTH, int(np.ceil(32 * img.shape[1] / img.shape[0])))
        x = np.zeros((3, 32, WIDTH), np.float32)
        x[:, :, :w] = (cv2.resize(img, (w, 32)).astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        label = np.zeros(25, np.int64)
        idx = [CHARS.index(c) + 1 for c in word]
        label[:len(idx)] = idx
        images.append(x)
        labels.append(label)
        lengths.append(len(idx))
    return np.stack(images), np.stack(labels), np.array(lengths, np.int64)


class ArrayLoader:
    """A minimal loader: dict batches of numpy arrays, shuffled with the global numpy RNG like Paddle's sampler."""

    def __init__(self, arrays, batch_size, shuffle):
        self.arrays, self.batch_size, self.shuffle = arrays, batch_size, shuffle
        self.n = len(next(iter(arrays.values())))

    def __len__(self):
        return self.n // self.batch_size

    def __iter__(self):
        order = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)
        for b in range(len(self)):
            ids = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield {k: v[ids] for k, v in self.arrays.items()}


@pytest.fixture(scope="module")
def rec_data(tmp_path_factory):
    """32 rendered words: as arrays (for the in-test loader) and as a SimpleDataSet on disk (real pipeline)."""
    d = tmp_path_factory.mktemp("recdata")
    dict_path = d / "dict.txt"
    dict_path.write_text("\n".join(CHARS) + "\n", encoding="utf-8")
    words = _words()
    images, labels, lengths = _rec_samples(words)
    (d / "imgs").mkdir()
    lines = []
    for i, word in enumerate(words):
        cv2.imwrite(str(d / "imgs" / f"w{i}.png"), render_line(word))
        lines.append(f"imgs/w{i}.png\t{word}")
    (d / "label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"dict": str(dict_path), "dir": str(d), "label": str(d / "label.txt"),
            "arrays": {"image": images, "label": labels, "length": lengths}}


def rec_config(rec_data, out_dir, num_workers=0, **global_overrides):
    """configs/rec.yml on the tiny data set: batch 8 (4 steps per epoch), 1 warm-up epoch, no official weights."""
    cfg = load_config("rec")
    g = cfg["Global"]
    g.update(pretrained_model=None, checkpoints=None, character_dict_path=rec_data["dict"], epoch_num=3,
             print_batch_step=1, save_model_dir=str(out_dir), save_epoch_step=100, eval_batch_step=[0, 8],
             progress_bar=False)
    g.update(global_overrides)
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=rec_data["dir"], label_file_list=[rec_data["label"]])
        cfg[mode]["loader"].update(batch_size_per_card=8 if mode == "Train" else 16, num_workers=num_workers)
        for op in cfg[mode]["dataset"]["transforms"]:
            if "RecResizeImg" in op:  # 32 x 128 instead of 32 x 320: T = 32 steps, a faster test
                op["RecResizeImg"]["image_shape"] = [3, 32, WIDTH]
    cfg["Optimizer"]["lr"] = {"name": "Cosine", "learning_rate": 0.005, "warmup_epoch": 1}
    return cfg


def read_records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_rec_training_loss_falls_and_writes_outputs(rec_data, tmp_path):
    cfg = rec_config(rec_data, tmp_path / "out", epoch_num=4)
    trainer = Trainer(cfg)  # the real data pipeline: SimpleDataSet + configs/rec.yml transforms
    assert trainer.model.head.fc.weight.shape[1] == len(CHARS) + 2  # head sized from the dictionary (+blank, space)
    summary = trainer.train()
    assert summary["global_step"] == 16 and summary["stop_reason"] == "epochs"
    records = read_records(summary["log_file"])
    train = [r for r in records if r["type"] == "train"]
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["step"] for r in train] == list(range(1, 17))
    assert [r["step"] for r in evals] == [8, 16]
    assert {"acc", "norm_edit_dis"} <= set(evals[0])
    raw = [r["raw_loss"] for r in train]
    assert np.mean(raw[-3:]) < 0.6 * np.mean(raw[:3]), raw
    assert train[0]["lr"] == 0.0 and train[4]["lr"] == pytest.approx(0.005)  # 1 warm-up epoch = 4 steps
    out = tmp_path / "out"
    for name in ("latest", "best_accuracy"):
        for ext in (".pdparams", ".pdopt", ".states"):
            assert (out / (name + ext)).is_file()
    assert (out / "train_curves.png").stat().st_size > 1000
    assert (out / "train.log").is_file()
    assert not [p for p in os.listdir(out) if ".tmp" in p]


def test_every_rank_evaluates_and_only_rank_0_records(rec_data, tmp_path, monkeypatch):
    """A rank other than 0 runs the evaluation too (so it never waits in a gloo barrier, which times out after
    30 s, while rank 0 evaluates) but neither logs nor saves a best checkpoint."""
    trainer = Trainer(rec_config(rec_data, tmp_path / "out"))
    assert trainer.eval_loader is not None
    monkeypatch.setattr(trainer, "is_main", False)
    result = trainer.run_eval()
    assert result is not None and result["samples"] == 32
    assert not trainer.best_metric and not (tmp_path / "out" / "best_accuracy.pdparams").exists()
    monkeypatch.setattr(trainer, "is_main", True)
    assert trainer.run_eval()["samples"] == 32 and (tmp_path / "out" / "best_accuracy.pdparams").is_file()


def test_resume_gives_the_same_next_losses(rec_data, tmp_path):
    """6 uninterrupted steps vs 3 steps (mid-epoch: 4 steps per epoch) + resume: steps 4-6 match exactly,
    including the epoch boundary (a new shuffle) after the resume."""
    # The real loader with 2 worker processes: shuffle, worker seeds and RecAug must all replay.
    conf = lambda out, **kw: rec_config(rec_data, tmp_path / out, num_workers=2, eval_batch_step=None, **kw)  # noqa
    full = Trainer(conf("full", max_steps=6), build_eval_loader=False).train()
    first = Trainer(conf("part", max_steps=3), build_eval_loader=False).train()
    assert first["stop_reason"] == "max_steps"
    np.random.seed(123)  # the resumed run must not depend on whatever RNG state the process is in
    paddle.seed(123)
    resumed = Trainer(conf("part", max_steps=6, checkpoints=str(tmp_path / "part" / "latest")),
                      build_eval_loader=False)
    assert (resumed.epoch, resumed.step_in_epoch, resumed.global_step) == (1, 3, 3)
    resumed = resumed.train()
    a = {r["step"]: r for r in read_records(full["log_file"]) if r["type"] == "train"}
    b = {r["step"]: r for r in read_records(resumed["log_file"]) if r["type"] == "train"}
    assert sorted(b) == [4, 5, 6]
    for step in (4, 5, 6):
        assert b[step]["raw_loss"] == pytest.approx(a[step]["raw_loss"], rel=1e-6, abs=1e-6), step
        assert b[step]["lr"] == pytest.approx(a[step]["lr"], rel=1e-9)
    w_full = paddle.load(str(tmp_path / "full" / "latest.pdparams"))
    w_res = paddle.load(str(tmp_path / "part" / "latest.pdparams"))
    for k in w_full:
        np.testing.assert_allclose(w_full[k].numpy(), w_res[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_pretrained_with_another_dictionary_skips_the_head(rec_data, tmp_path):
    cfg = rec_config(rec_data, tmp_path / "a", epoch_num=1, max_steps=1, eval_batch_step=None)
    Trainer(cfg, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False).train()
    small_dict = tmp_path / "small.txt"
    small_dict.write_text("\n".join("0123456789") + "\n", encoding="utf-8")
    cfg2 = rec_config(rec_data, tmp_path / "b", character_dict_path=str(small_dict),
                      pretrained_model=str(tmp_path / "a" / "latest.pdparams"))
    trainer = Trainer(cfg2, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False)
    src = paddle.load(str(tmp_path / "a" / "latest.pdparams"))
    own = trainer.model.state_dict()
    assert list(own["head.fc.weight"].shape) == [96, 12]
    np.testing.assert_array_equal(own["backbone.conv1.conv.weight"].numpy(), src["backbone.conv1.conv.weight"].numpy())
    with open(tmp_path / "b" / "train.log", encoding="utf-8") as f:
        text = f.read()
    assert "head.fc.weight [96, 38]->[96, 12]" in text and "head.fc.bias" in text


def test_new_dictionary_head_starts_from_the_official_classes(rec_data, tmp_path, models_dir):
    """official:rec -> a 10-digit dictionary + space: each class of the new head is the official head's class of
    the same character (blank from blank), so the model reads digits before any training step."""
    from paddle_pp.utils.dicts import rec_characters
    from paddle_pp.weights import import_official

    digits = tmp_path / "digits.txt"
    digits.write_text("\n".join("0123456789") + "\n", encoding="utf-8")
    cfg = rec_config(rec_data, tmp_path / "c", character_dict_path=str(digits), use_space_char=True,
                     pretrained_model="official:rec", model_name="rec")
    cfg["Architecture"]["Head"]["out_channels"] = 12
    trainer = Trainer(cfg, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False)
    official = paddle.load(str(import_official("rec") / "model.pdparams"))
    source = ["blank"] + rec_characters(load_config("rec")["Global"])[0]
    own = trainer.model.state_dict()
    for j, c in enumerate(["blank"] + list("0123456789") + [" "]):
        i = 0 if j == 0 else source.index(c)
        np.testing.assert_array_equal(own["head.fc.weight"].numpy()[:, j], official["head.fc.weight"].numpy()[:, i])
        assert float(own["head.fc.bias"].numpy()[j]) == float(official["head.fc.bias"].numpy()[i])
    with open(tmp_path / "c" / "train.log", encoding="utf-8") as f:
        assert "CTC head: 12 of 12 classes" in f.read()
    # Switched off: the head keeps its initialisation.
    cfg["Global"]["transfer_ctc_head"] = False
    cfg["Global"]["save_model_dir"] = str(tmp_path / "d")
    plain = Trainer(cfg, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False)
    assert not np.array_equal(plain.model.state_dict()["head.fc.weight"].numpy()[:, 1],
                              official["head.fc.weight"].numpy()[:, source.index("0")])


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_bn_keeps_running_statistics(rec_data, tmp_path, freeze):
    """Global.freeze_bn: a training step leaves every BN's running mean untouched (and BN normalizes with it),
    while weights still learn; without it the running statistics move."""
    cfg = rec_config(rec_data, tmp_path / "f", epoch_num=1, max_steps=2, eval_batch_step=None, freeze_bn=freeze)
    trainer = Trainer(cfg, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False)
    before = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    after = trainer.model.state_dict()
    means = [k for k in before if k.endswith("._mean")]
    assert means
    moved = [k for k in means if not np.array_equal(before[k], after[k].numpy())]
    assert (moved == []) if freeze else (len(moved) == len(means))
    assert not np.array_equal(before["backbone.conv1.conv.weight"], after["backbone.conv1.conv.weight"].numpy())


def test_torn_checkpoint_is_refused(tmp_path):
    model = paddle.nn.Linear(3, 2)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    model(paddle.ones([1, 3])).sum().backward()  # one step: an optimizer with state, as in a real checkpoint
    opt.step()
    prefix = save_checkpoint(tmp_path / "ck", model, opt, {"epoch": 1})
    assert load_checkpoint(prefix, model, opt)["epoch"] == 1
    paddle.save({"weight": paddle.zeros([3, 2]), "bias": paddle.zeros([2])}, prefix + ".pdparams")
    with pytest.raises(CheckpointError, match="does not belong"):
        load_checkpoint(prefix, model, opt)


def test_two_process_data_parallel_launch(tmp_path):
    """`python -m paddle.distributed.launch --nproc_per_node 2 paddle_pp/train.py -c tiny_cls.yml` on CPU (gloo):
    both ranks train on their half of the data (DistributedBatchSampler) and end with identical parameters;
    only rank 0 writes checkpoints and logs."""
    from paddle_pp.config import save_config

    data = tmp_path / "data"
    (data / "imgs").mkdir(parents=True)
    lines = []
    for i, word in enumerate(_words(16, seed=1)):
        img = render_line(word)
        flip = i % 2 == 1
        cv2.imwrite(str(data / "imgs" / f"c{i}.png"), cv2.rotate(img, cv2.ROTATE_180) if flip else img)
        lines.append(f"imgs/c{i}.png\t{'180' if flip else '0'}")
    (data / "label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cfg = load_config("cls")
    cfg["Global"].update(pretrained_model=None, epoch_num=2, print_batch_step=1, save_model_dir=str(out),
                         eval_batch_step=[0, 2], progress_bar=False)
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=str(data), label_file_list=[str(data / "label.txt")])
        cfg[mode]["loader"].update(batch_size_per_card=4, num_workers=0)
    cfg["Global"].pop("config_path", None)
    save_config(cfg, tmp_path / "tiny_cls.yml")

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
           str(tmp_path / "log"), os.path.join(ROOT, "paddle_pp", "train.py"), "-c", str(tmp_path / "tiny_cls.yml"),
           "-o", "Global.save_epoch_step=1"]
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=150)
    logs = {}
    for rank in (0, 1):
        p = tmp_path / "log" / f"workerlog.{rank}"
        logs[rank] = p.read_text(errors="replace") if p.exists() else ""
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs[0][-2000:] + logs[1][-2000:]
    assert "world size 2" in logs[0] and "2 epochs x 2 steps per epoch" in logs[0]  # 16 samples / 2 ranks / 4
    assert "global_step" not in logs[1]  # rank 1 logs warnings only
    records = read_records(next((out / "logs").glob("*.jsonl")))
    assert len(list((out / "logs").glob("*.jsonl"))) == 1
    assert [r["step"] for r in records if r["type"] == "train"] == [1, 2, 3, 4]
    assert [r["step"] for r in records if r["type"] == "eval"] == [2, 4]
    for name in ("latest", "best_accuracy", "iter_epoch_1", "iter_epoch_2"):
        assert (out / f"{name}.pdparams").is_file(), name
    assert "trainable parameters identical on all 2 ranks" in logs[0]  # the trainer's all-gathered checksum
    from paddle_pp.eval import run_eval

    cfg["Global"]["checkpoints"] = str(out / "latest")
    result = run_eval(cfg)
    assert result["samples"] == 16 and 0.0 <= result["acc"] <= 1.0


def det_config(tmp_path, out, eval_side=None, **global_overrides):
    """configs/det.yml on 3 rendered pages (last line of each '###'), 320 px crops, 2 pages per batch."""
    from data_samples import write_det_dataset

    data = tmp_path / "detdata"
    if not (data / "label.txt").exists():
        write_det_dataset(data, n=3, name="label.txt")
    cfg = load_config("det")
    cfg["Global"].update(pretrained_model=None, checkpoints=None, epoch_num=1, print_batch_step=1,
                         save_model_dir=str(tmp_path / out), eval_batch_step=None, progress_bar=False)
    cfg["Global"].update(global_overrides)
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=str(data), label_file_list=[str(data / "label.txt")])
        cfg[mode]["loader"].update(num_workers=0)
    cfg["Train"]["loader"]["batch_size_per_card"] = 2
    for op in cfg["Train"]["dataset"]["transforms"]:
        if "EastRandomCropData" in op:
            op["EastRandomCropData"]["size"] = [320, 320]
    for op in cfg["Eval"]["dataset"]["transforms"]:
        if "DetResizeForTest" in op and eval_side:
            op["DetResizeForTest"] = {"limit_side_len": eval_side, "limit_type": "max"}
    return cfg


def test_det_training_steps_and_eval(tmp_path):
    """DBLoss on the real det pipeline (border/shrink maps), then DBPostProcess + DetMetric on eval batches."""
    summary = Trainer(det_config(tmp_path, "out", eval_side=320, max_steps=2)).train()
    train = [r for r in read_records(summary["log_file"]) if r["type"] == "train"]
    assert {"loss_shrink_maps", "loss_threshold_maps", "loss_binary_maps"} <= set(train[0])
    assert all(np.isfinite(r["raw_loss"]) for r in train)
    final = summary["final_eval"]
    assert final["samples"] == 3 and {"precision", "recall", "hmean"} <= set(final)


def test_eval_official_det_weights_on_rendered_pages(tmp_path, models_dir):
    """The official detector on rendered pages through the real Eval pipeline, DBPostProcess and DetMetric."""
    from paddle_pp.eval import run_eval

    cfg = det_config(tmp_path, "out", pretrained_model="official")
    result = run_eval(cfg)
    assert result["samples"] == 3
    # Every care line is found; the '###' lines' detections are ignored. (Upscaled 1.75x, the detector also
    # returns a few tiny spurious boxes inside lines, which count as false positives.)
    assert result["recall"] == 1.0 and result["precision"] > 0.5, result


def test_distillation_trains_the_student_against_a_frozen_official_teacher(tmp_path, models_dir):
    """Architecture.name DistillationModel: the Teacher's `pretrained: official` is loaded by the trainer, stays
    frozen through training steps, evaluation uses the Student, checkpoints name both, and exporting the run
    writes the Student alone as an ordinary detector."""
    from paddle_pp.config import save_config
    from paddle_pp.tools import export_model
    from paddle_pp.weights import load_model_dir, load_pretrained

    cfg = det_config(tmp_path, "distill", eval_side=320, max_steps=2, pretrained_model="official")
    distill = load_config("slim/det_prune")
    cfg["Architecture"], cfg["Loss"] = distill["Architecture"], distill["Loss"]
    trainer = Trainer(cfg)
    official = {k: v.numpy() for k, v in load_pretrained("det").state_dict().items()}
    teacher = trainer.model.sub_model("Teacher")
    for model in (teacher, trainer.inference_model):   # both start from the official weights
        assert all(np.array_equal(model.state_dict()[k].numpy(), v) for k, v in official.items())
    summary = trainer.train()

    assert not teacher.training and all(p.stop_gradient for p in teacher.parameters())
    assert all(np.array_equal(teacher.state_dict()[k].numpy(), v) for k, v in official.items())
    moved = [k for k, v in official.items() if not np.array_equal(trainer.inference_model.state_dict()[k].numpy(), v)]
    assert moved   # the student learnt
    train = [r for r in read_records(summary["log_file"]) if r["type"] == "train"]
    assert all("loss_distill" in r for r in train)
    assert summary["final_eval"]["samples"] == 3
    saved = paddle.load(str(tmp_path / "distill" / "latest.pdparams"))
    assert {k.split(".", 1)[0] for k in saved} == {"Teacher", "Student"}

    config_file = tmp_path / "distill.yml"
    save_config(cfg, config_file)
    out = tmp_path / "exported"
    assert export_model.main(["-c", str(config_file), "-o", f"Global.pretrained_model={tmp_path / 'distill' / 'latest'}",
                              "--save_dir", str(out), "--weights_only"]) == 0
    exported = load_config(out / "config.yml")
    assert "Models" not in exported["Architecture"] and exported["Architecture"].get("name") != "DistillationModel"
    student = load_model_dir(out)
    weights = paddle.load(str(out / "model.pdparams"))
    assert set(weights) == {k[len("Student."):] for k in saved if k.startswith("Student.")}
    x = paddle.rand([1, 3, 64, 64])
    trainer.inference_model.eval()
    assert np.array_equal(student(x).numpy(), trainer.inference_model(x).numpy())


# ------------------------------------------------------------------- another run's checkpoints are not overwritten

def _quick_run(rec_data, out, **global_overrides):
    settings = dict(epoch_num=1, max_steps=1, eval_batch_step=None)
    settings.update(global_overrides)
    cfg = rec_config(rec_data, out, **settings)
    return Trainer(cfg, train_loader=ArrayLoader(rec_data["arrays"], 8, True), build_eval_loader=False)


def _fingerprint(out):
    """What a second run must not touch: the bytes of every checkpoint file (through the links)."""
    from paddle_pp.utils.files import file_md5

    return {name + ext: file_md5(out / (name + ext)) for name in ("latest", "best_accuracy")
            for ext in (".pdparams", ".pdopt", ".states") if (out / (name + ext)).exists()}


def test_a_new_run_never_overwrites_another_runs_checkpoints(rec_data, tmp_path):
    """The `checkpoint:` typo of the issue: a second run meant to resume but, without Global.checkpoints, starts
    fresh in the same directory. It is refused before it writes anything; resuming, --overwrite or another
    directory are the ways out."""
    from paddle_pp.training.checkpoint import SaveDirInUseError, read_states

    out = tmp_path / "out"
    first = _quick_run(rec_data, out)
    first.train()
    first.save("best_accuracy")
    before = _fingerprint(out)
    assert len(before) == 6
    with pytest.raises(SaveDirInUseError) as info:
        _quick_run(rec_data, out)   # e.g. `checkpoint: ./output/rec/latest`: the key ignored
    message = str(info.value)
    assert str(out) in message and f"Global.checkpoints={out / 'latest'}" in message and "--overwrite" in message
    assert _fingerprint(out) == before
    # A run that resumes from that directory is the same run.
    resumed = _quick_run(rec_data, out, checkpoints=str(out / "latest"), max_steps=2)
    assert resumed.global_step == 1
    # Resuming from elsewhere into it is refused too (the checkpoints there belong to another run).
    _quick_run(rec_data, tmp_path / "other").train()
    with pytest.raises(SaveDirInUseError):
        _quick_run(rec_data, out, checkpoints=str(tmp_path / "other" / "latest"))
    # Told to overwrite: the earlier run's checkpoints go, best_accuracy included (never mistaken for this run's).
    again = _quick_run(rec_data, out, overwrite=True)
    assert not (out / "best_accuracy.pdparams").exists() and not (out / "latest.pdparams").exists()
    again.train()
    assert read_states(out / "latest")["global_step"] == 1 and not (out / "best_accuracy.pdparams").exists()


def test_train_cli_refuses_a_used_directory_unless_overwrite(rec_data, tmp_path, capsys):
    from paddle_pp import train as train_tool
    from paddle_pp.config import save_config

    out = tmp_path / "out"
    cfg = rec_config(rec_data, out, epoch_num=1, max_steps=1, eval_batch_step=None)
    cfg["Global"].pop("config_path", None)
    save_config(cfg, tmp_path / "tiny_rec.yml")
    _quick_run(rec_data, out).train()
    before = _fingerprint(out)
    assert train_tool.main(["-c", str(tmp_path / "tiny_rec.yml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "holds the checkpoints of another run" in err and "--overwrite" in err
    assert "Traceback" not in err and _fingerprint(out) == before
    assert train_tool.main(["-c", str(tmp_path / "tiny_rec.yml"), "--overwrite"]) == 0
    assert _fingerprint(out) != before


def test_resume_with_states_missing_is_an_error_not_a_restart(rec_data, tmp_path):
    """Before: a checkpoint without .states 'resumed' at step 0 of epoch 1. Now the trainer refuses it."""
    from paddle_pp.training.checkpoint import checkpoint_base

    out = tmp_path / "out"
    _quick_run(rec_data, out).train()
    os.remove(checkpoint_base(out / "latest") + ".states")
    with pytest.raises(CheckpointError, match=r"latest\.states is missing, so training cannot resume"):
        _quick_run(rec_data, out, checkpoints=str(out / "latest"), max_steps=2)
