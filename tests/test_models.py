"""Our dygraph models with the official weights against onnxruntime on the same ONNX files."""
import numpy as np
import pytest

import fixtures

paddle = pytest.importorskip("paddle")
ort = pytest.importorskip("onnxruntime")

from paddle_pp.config import load_config  # noqa: E402
from paddle_pp.modeling.architecture import build_model  # noqa: E402
from paddle_pp.weights import load_pretrained, official_file, parameter_count  # noqa: E402

ONNX = {"det": "ch_PP-OCRv2_det_infer.onnx", "cls": "cls-model.onnx", "rec": "rec-model.onnx"}


@pytest.fixture(scope="module")
def pair(models_dir):
    cache = {}

    def get(name):
        if name not in cache:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            session = ort.InferenceSession(str(official_file(ONNX[name])), options)
            cache[name] = (load_pretrained(name), session)
        return cache[name]

    return get


def max_diff(pair, name, x):
    model, session = pair(name)
    with paddle.no_grad():
        ours = model(paddle.to_tensor(x)).numpy()
    theirs = session.run(None, {"x": x})[0]
    assert ours.shape == theirs.shape
    return float(np.abs(ours - theirs).max())


@pytest.mark.parametrize("name,count", [("det", 572441), ("cls", 133628), ("rec", 1087537)])
def test_parameter_counts_match_spec(name, count):
    model = build_model(load_config(name))
    assert parameter_count(model, name) == count


@pytest.mark.parametrize("height,width", [(544, 960), (320, 480)])
def test_det_probability_map_parity_on_rendered_photo(pair, height, width):
    x = fixtures.to_det_input(fixtures.photo_like(), height, width)
    diff = max_diff(pair, "det", x)
    assert diff <= 1e-4
    # The map must contain text: a test on an empty map would pass for wrong upsampling too.
    model, _ = pair("det")
    with paddle.no_grad():
        prob = model(paddle.to_tensor(x)).numpy()
    assert (prob > 0.3).mean() > 0.01


def test_det_parity_on_random_input(pair):
    x = np.random.default_rng(1).uniform(-2, 2, (1, 3, 320, 480)).astype(np.float32)
    assert max_diff(pair, "det", x) <= 1e-4


def test_cls_softmax_parity(pair):
    lines = fixtures.text_lines()
    upside_down = [np.ascontiguousarray(np.rot90(l, 2)) for l in lines]
    x = fixtures.to_cls_batch(lines + upside_down)
    assert max_diff(pair, "cls", x) <= 1e-5
    rnd = np.random.default_rng(2).uniform(-1, 1, (4, 3, 48, 192)).astype(np.float32)
    assert max_diff(pair, "cls", rnd) <= 1e-5


@pytest.mark.parametrize("width", [100, 320, 960])
def test_rec_softmax_parity_rendered_lines(pair, width):
    x = fixtures.to_rec_batch(fixtures.text_lines(), width)
    assert x.shape[0] > 1
    assert max_diff(pair, "rec", x) <= 1e-4


@pytest.mark.parametrize("width", [100, 320, 960])
def test_rec_softmax_parity_random(pair, width):
    x = np.random.default_rng(width).uniform(-1, 1, (2, 3, 32, width)).astype(np.float32)
    assert max_diff(pair, "rec", x) <= 1e-4


def test_rec_output_shape_and_simplex(pair):
    model, _ = pair("rec")
    x = fixtures.to_rec_batch(fixtures.text_lines()[:2], 320)
    with paddle.no_grad():
        out = model(paddle.to_tensor(x)).numpy()
    assert out.shape == (2, 80, 6625)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-4)


def test_det_training_mode_returns_three_maps():
    model = build_model(load_config("det"))
    model.train()
    out = model(paddle.rand([1, 3, 64, 64]))
    assert set(out) == {"shrink_maps", "threshold_maps", "binary_maps"}
    assert all(tuple(v.shape) == (1, 1, 64, 64) for v in out.values())


def test_parameter_names_are_deterministic():
    first = [n for n, _ in build_model(load_config("rec")).named_parameters()]
    second = [n for n, _ in build_model(load_config("rec")).named_parameters()]
    assert first == second
    assert "backbone.blocks.0.expand_conv.conv.weight" in first
    assert "neck.encoder.lstm.weight_ih_l0" in first


@pytest.mark.parametrize("detach", [True, False])
def test_det_threshold_branch_gradient_reaches_features_only_when_not_detached(detach):
    """Head.detach_threshold: the threshold map's loss trains the threshold branch either way, but reaches the
    shared neck / backbone only in the DB paper's joint mode (detach_threshold: false)."""
    import paddle

    arch = load_config("det")["Architecture"]
    arch["Head"]["detach_threshold"] = detach
    model = build_model(arch)
    model.train()
    out = model(paddle.rand([1, 3, 64, 64]))
    out["threshold_maps"].mean().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert float(grads["head.thresh.conv1.weight"].abs().sum()) > 0
    assert grads["head.binarize.conv1.weight"] is None or float(grads["head.binarize.conv1.weight"].abs().sum()) == 0
    neck = [g for name, g in grads.items() if name.startswith("neck.") and g is not None]
    assert (sum(float(g.abs().sum()) for g in neck) > 0) is (not detach)


def flip_averaged_cls(models_dir):
    """The official classifier as the flip-consistent classifier (Architecture.name from the YAML)."""
    model = build_model(load_config("cls", ["Architecture.name=FlipAverageClassifier"]))
    model.set_state_dict(load_pretrained("cls").state_dict())
    model.eval()
    return model


def test_flip_average_gives_a_crop_and_its_turn_opposite_answers(models_dir):
    model = flip_averaged_cls(models_dir)
    lines = fixtures.text_lines()[:3]
    # Rendered lines (the model is sure of them both ways up) and noise (it is not).
    noise = np.random.default_rng(0).uniform(-1, 1, (2, 3, 48, 192)).astype(np.float32)
    x = paddle.to_tensor(np.concatenate([fixtures.to_cls_batch(lines), noise]))
    with paddle.no_grad():
        probs, single = model(x).numpy(), model.single_view(x).numpy()
        probs_turned = model(model.turn_180(x)).numpy()
        reference = load_pretrained("cls")(x).numpy()
    assert np.allclose(probs.sum(1), 1.0, atol=1e-6)
    assert np.abs(probs - probs_turned[:, ::-1]).max() < 1e-6          # exactly consistent
    assert np.abs(single - reference).max() < 1e-6                       # one view is the plain classifier
    assert np.abs(probs - single).max() > 1e-4                           # and the mean is not just that view
    assert np.abs(model.turn_180(x).numpy() - x.numpy()[:, :, ::-1, ::-1]).max() == 0


def test_flip_average_trains_on_one_view_and_is_for_cls_only(models_dir):
    model = flip_averaged_cls(models_dir)
    model.train()
    x = paddle.to_tensor(fixtures.to_cls_batch(fixtures.text_lines()[:2]))
    assert np.abs(model(x).numpy() - model.single_view(x).numpy()).max() == 0   # logits of the crop as given
    with pytest.raises(ValueError, match="flip_average"):
        build_model(dict(load_config("det")["Architecture"], name="FlipAverageClassifier"))
    with pytest.raises(ValueError, match="FlipAverageClassifier"):   # the key of earlier configs says where it went
        build_model(dict(load_config("cls")["Architecture"], flip_average=True))


def test_distillation_model_builds_named_sub_models_and_freezes_the_teacher():
    """Architecture.name DistillationModel (PaddleOCR's): {name: outputs}, frozen sub-models stay in eval mode with
    no gradients, parameters named `<sub-model>.<name>`, inference through the infer_model (the student)."""
    from paddle_pp.modeling.architecture import inference_model
    from paddle_pp.modeling.distillation import inference_config

    cfg = load_config("slim/det_prune")
    model = build_model(cfg)
    names = [n for n, _ in model.named_parameters()]
    assert {n.split(".", 1)[0] for n in names} == {"Teacher", "Student"}
    assert "Student.backbone.conv.conv.weight" in names
    model.train()
    teacher, student = model.sub_model("Teacher"), model.sub_model("Student")
    assert not teacher.training and student.training
    assert all(p.stop_gradient for p in teacher.parameters())
    plain_frozen = [n for n, p in build_model(load_config("det")).named_parameters() if p.stop_gradient]   # BN stats
    assert [n for n, p in student.named_parameters() if p.stop_gradient] == plain_frozen
    out = model(paddle.rand([1, 3, 64, 64]))
    assert set(out) == {"Teacher", "Student"}
    assert list(out["Teacher"].shape) == [1, 1, 64, 64]                  # eval mode: the probability map
    assert {"shrink_maps", "threshold_maps", "binary_maps"} <= set(out["Student"])
    assert out["Teacher"].stop_gradient
    assert inference_model(model) is student and inference_model(student) is student
    # The inference config describes the student as an ordinary detector that takes its weights as they are.
    plain = build_model(inference_config(cfg))
    assert type(plain).__name__ == "BaseModel"
    assert set(plain.state_dict()) == {k[len("Student."):] for k in model.state_dict() if k.startswith("Student.")}
    with pytest.raises(ValueError, match="infer_model"):
        build_model(dict(cfg["Architecture"], infer_model="Nobody"))
    with pytest.raises(ValueError, match="Models"):   # a plain architecture's parts left at the top level
        build_model(dict(cfg["Architecture"], Backbone=load_config("det")["Architecture"]["Backbone"]))
