"""Weights and checkpoints are data: a crafted pickle is refused before it runs anything, wherever it is loaded
(model directory, checkpoint, pre-trained weights); the shipped models still load bit-identically. A checkpoint
is committed as a whole: a kill at any file step, or SIGKILLs at random moments, always leave a complete one."""
import os
import pickle
import random
import select
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import paddle
import pytest

from paddle_pp.model_dir import load_model
from paddle_pp.resources import BUNDLED_MODELS_DIR
from paddle_pp.training import CheckpointError, load_checkpoint, load_pretrained_weights, save_checkpoint
from paddle_pp.training import checkpoint as ckpt
from paddle_pp.utils.safe_pickle import NotAPickleError, RefusedPickleError, load_state_dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Call:
    """Pickles as `func(*args)`: what an attacker puts in a crafted file."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    """(what the file references, the object whose unpickling would create `marker`)."""
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "posix.system": _Call(os.system, f"touch '{marker}'"),  # os.system pickles under its real module
        "builtins.exec": _Call(exec, code),
        "builtins.eval": _Call(eval, f"__import__('builtins').exec({code!r})"),
        "subprocess.call": _Call(subprocess.call, [sys.executable, "-c", code]),
        "builtins.getattr": _Call(getattr, _Call(__import__, "os"), "system"),
    }


def _crafted(path, payload, protocol=4):
    """A weights file that looks right (real arrays) with the payload among them."""
    data = {"head.fc.weight": np.zeros((4, 3), "float32"), "head.fc.bias": payload,
            "StructuredToParameterName@@": {"head.fc.weight": "linear_0.w_0"}}
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)


@pytest.mark.parametrize("referenced", sorted(_payloads("x")))
def test_crafted_weights_are_refused_and_run_nothing(tmp_path, referenced):
    marker = tmp_path / "created_by_the_pickle"
    payload = _payloads(marker)[referenced]
    evil = tmp_path / "evil.pdparams"
    _crafted(evil, payload)
    # The file is a real attack: an ordinary unpickler runs it (paddle.load is pickle.load).
    with open(evil, "rb") as f:
        try:
            pickle.load(f)
        except Exception:  # the getattr payload returns a function where an array belongs; the call still ran
            pass
    if referenced != "builtins.getattr":
        assert marker.exists()
        marker.unlink()

    with pytest.raises(RefusedPickleError, match=rf"evil\.pdparams: refused to load: it references "
                                                 rf"{referenced}, which a paddle-pp weights file never contains"):
        load_state_dict(evil)
    model = paddle.nn.Linear(3, 4)
    with pytest.raises(RefusedPickleError, match=referenced):
        load_pretrained_weights(model, str(evil))
    assert not marker.exists()


def test_a_crafted_model_directory_is_refused(tmp_path):
    """A model directory (what PPOCR, the predictors and export load) whose model.pdparams carries a payload."""
    marker = tmp_path / "created_by_the_pickle"
    model_dir = tmp_path / "cls"
    shutil.copytree(BUNDLED_MODELS_DIR / "cls_synth", model_dir)
    real = load_state_dict(model_dir / "model.pdparams")
    real["head.fc.bias"] = _payloads(marker)["builtins.exec"]
    for protocol in (2, 4):
        with open(model_dir / "model.pdparams", "wb") as f:
            pickle.dump(real, f, protocol=protocol)
        with pytest.raises(RefusedPickleError, match=r"model\.pdparams: refused to load: it references "
                                                     r"builtins\.exec"):
            load_model(model_dir)
    assert not marker.exists()


def test_a_crafted_checkpoint_is_refused(tmp_path):
    """The payload in the .states of a checkpoint whose other files are genuine (resume runs nothing)."""
    marker = tmp_path / "created_by_the_pickle"
    model = paddle.nn.Linear(3, 2)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    prefix = save_checkpoint(tmp_path / "run" / "latest", model, opt, {"epoch": 1})
    states = ckpt.checkpoint_base(prefix) + ".states"
    state = ckpt.read_states(prefix)
    state["rng"] = _payloads(marker)["subprocess.call"]
    with open(states, "wb") as f:
        pickle.dump(state, f, protocol=4)
    with pytest.raises(RefusedPickleError, match=r"latest\.states: refused to load: it references subprocess\.call"):
        load_checkpoint(prefix, model, opt)
    # ... and in the optimizer file (its checksum in .states updated, as an attacker would)
    _crafted(ckpt.checkpoint_base(prefix) + ".pdopt", _payloads(marker)["posix.system"])
    state["rng"] = None
    state["files"]["pdopt"] = ckpt.file_md5(ckpt.checkpoint_base(prefix) + ".pdopt")
    with open(states, "wb") as f:
        pickle.dump(state, f, protocol=4)
    with pytest.raises(RefusedPickleError, match=r"latest\.pdopt: refused to load: it references posix\.system"):
        load_checkpoint(prefix, model, opt)
    assert not marker.exists()


def test_object_arrays_and_non_pickles_are_named_errors(tmp_path):
    objects = tmp_path / "objects.pdparams"
    with open(objects, "wb") as f:
        pickle.dump({"w": np.array([1, "a"], dtype=object)}, f, protocol=4)
    with pytest.raises(RefusedPickleError, match="refused to load"):
        load_state_dict(objects)
    noise = tmp_path / "noise.pdparams"
    noise.write_bytes(bytes(random.Random(0).getrandbits(8) for _ in range(4096)))
    with pytest.raises(NotAPickleError, match=r"noise\.pdparams: not a paddle-pp weights") as info:
        load_state_dict(noise)
    assert str(info.value).isprintable()  # no raw binary in the message
    truncated = tmp_path / "truncated.pdparams"
    truncated.write_bytes((BUNDLED_MODELS_DIR / "cls_synth" / "model.pdparams").read_bytes()[:5000])
    with pytest.raises(NotAPickleError, match="damaged or truncated"):
        load_state_dict(truncated)


@pytest.mark.parametrize("name", ["rec_en", "cls_synth", "slim/det"])
def test_shipped_models_load_bit_identically(name):
    path = BUNDLED_MODELS_DIR / name / "model.pdparams"
    ours = load_state_dict(path)
    paddles = paddle.load(str(path))  # a trusted file: the reference reader
    assert sorted(ours) == sorted(paddles)
    for key, value in paddles.items():
        assert ours[key].dtype == value.numpy().dtype and ours[key].tobytes() == value.numpy().tobytes(), key
    model = load_model(BUNDLED_MODELS_DIR / name)
    for key, value in model.state_dict().items():
        assert value.numpy().tobytes() == ours[key].tobytes(), key


def test_older_checkpoints_still_resume(tmp_path):
    """Three plain files, the RNG state pickled as paddle GeneratorState objects (before this change): the
    restricted loader reads the state as data and the RNG replays."""
    model = paddle.nn.Linear(3, 2)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    prefix = str(tmp_path / "latest")
    paddle.save(model.state_dict(), prefix + ".pdparams")
    paddle.save(ckpt.optimizer_state_to_structural(opt.state_dict(), model), prefix + ".pdopt")
    rng = {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle.get_rng_state()}
    expected = paddle.rand([4]).numpy()
    with open(prefix + ".states", "wb") as f:
        pickle.dump({"epoch": 2, "rng": rng, "files": {"pdparams": ckpt.file_md5(prefix + ".pdparams")}}, f,
                    protocol=4)
    fresh = paddle.nn.Linear(3, 2)
    state = load_checkpoint(prefix, fresh, paddle.optimizer.Adam(parameters=fresh.parameters()))
    assert state["epoch"] == 2
    np.testing.assert_array_equal(fresh.weight.numpy(), model.weight.numpy())
    paddle.seed(99)
    ckpt.set_rng_states(state["rng"])
    np.testing.assert_array_equal(paddle.rand([4]).numpy(), expected)


def test_resuming_without_states_is_an_error(tmp_path):
    model = paddle.nn.Linear(3, 2)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    prefix = save_checkpoint(tmp_path / "latest", model, opt, {"epoch": 1})
    os.remove(ckpt.checkpoint_base(prefix) + ".states")
    with pytest.raises(CheckpointError, match=r"latest\.states is missing, so training cannot resume"):
        load_checkpoint(prefix, model, opt)
    # the older layout alike
    old = str(tmp_path / "old")
    paddle.save(model.state_dict(), old + ".pdparams")
    paddle.save(opt.state_dict(), old + ".pdopt")
    with pytest.raises(CheckpointError, match=r"old\.states is missing.*Global\.pretrained_model="):
        load_checkpoint(old, model, opt)


# ------------------------------------------------------------------------------------------ kills during a save

def _model_at(step):
    """A model whose every weight is `step`: which save the loaded weights come from is visible."""
    model = paddle.nn.Linear(8, 4)
    model.weight.set_value(np.full([8, 4], step, "float32"))
    model.bias.set_value(np.full([4], step, "float32"))
    return model


def _check_complete(prefix, allowed_steps):
    """Loads the checkpoint and returns its step; its weights (also through latest.pdparams) are that step's."""
    model = paddle.nn.Linear(8, 4)
    state = load_checkpoint(prefix, model, paddle.optimizer.Adam(parameters=model.parameters()))
    assert state["step"] in allowed_steps
    assert np.all(model.weight.numpy() == state["step"]) and np.all(model.bias.numpy() == state["step"])
    via_link = load_state_dict(prefix + ".pdparams")
    assert np.all(via_link["weight"] == state["step"])
    return state["step"]


class _Killed(BaseException):
    """A simulated kill: nothing after it runs (cleanup code in `except Exception` does not either)."""


FILE_STEPS = ("replace", "rename", "symlink", "remove", "unlink", "rmdir", "mkdir", "fsync", "chmod")


def test_a_kill_at_any_file_step_keeps_a_complete_checkpoint(tmp_path, monkeypatch):
    """Fault injection: the k-th file operation of a save (every rename, link, delete, sync, and each paddle.save)
    is where the process dies, for every k; each time a resume finds the previous checkpoint or the new one."""
    prefix = str(tmp_path / "run" / "latest")
    first = _model_at(1)
    save_checkpoint(prefix, first, paddle.optimizer.Adam(parameters=first.parameters()), {"step": 1})
    committed, crashes = 1, 0
    originals = {name: getattr(os, name) for name in FILE_STEPS}
    original_save = paddle.save
    for k in range(1, 200):
        calls = [0]

        def counted(func):
            def wrapper(*args, **kwargs):
                calls[0] += 1
                if calls[0] == k:
                    raise _Killed()
                return func(*args, **kwargs)
            return wrapper

        model = _model_at(committed + 1)
        opt = paddle.optimizer.Adam(parameters=model.parameters())
        with monkeypatch.context() as patch:
            for name, func in originals.items():
                patch.setattr(os, name, counted(func))
            patch.setattr(paddle, "save", counted(original_save))
            try:
                save_checkpoint(prefix, model, opt, {"step": committed + 1})
                finished = True
            except _Killed:
                finished, crashes = False, crashes + 1
        step = _check_complete(prefix, {committed, committed + 1})
        if finished:
            assert step == committed + 1
            break
        committed = step
    assert crashes >= 8  # every step of a save was interrupted once
    leftovers = [e for e in os.listdir(tmp_path / "run") if e.startswith(".") or e.endswith(".tmp")]
    assert len(leftovers) == 1  # the committed directory only: killed saves' debris is cleared by the next save


_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import paddle
    from paddle_pp.training.checkpoint import save_checkpoint

    prefix, step = sys.argv[1], int(sys.argv[2])
    model = paddle.nn.Linear(8, 4)
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    while True:
        step += 1
        model.weight.set_value(np.full([8, 4], step, "float32"))
        model.bias.set_value(np.full([4], step, "float32"))
        save_checkpoint(prefix, model, optimizer, {"step": step})
        print(step, flush=True)
""")


def test_sigkill_storm_during_saves(tmp_path):
    """A child saves checkpoints in a loop and is SIGKILLed at random moments, again and again; after each kill
    a resume finds a complete checkpoint at least as new as the last one the child reported done."""
    prefix = str(tmp_path / "run" / "latest")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rng = random.Random(0)
    step = 0
    for _ in range(6):
        with open(tmp_path / "child.err", "w") as err:
            child = subprocess.Popen([sys.executable, "-c", _CHILD, prefix, str(step)], stdout=subprocess.PIPE,
                                     stderr=err, text=True, env=env)
        try:
            ready, _, _ = select.select([child.stdout], [], [], 120)
            first = child.stdout.readline() if ready else ""
            assert first.strip(), (tmp_path / "child.err").read_text()[-2000:]
            reported = [int(first)]
            time.sleep(rng.uniform(0.0, 0.3))  # into the middle of some later save
            child.kill()
            child.wait(timeout=60)
            reported += [int(line) for line in child.stdout.read().split()]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=60)
        last_done = reported[-1]
        step = _check_complete(prefix, {last_done, last_done + 1})
