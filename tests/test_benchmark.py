"""paddle_pp/tools/benchmark.py (deploy/benchmark.py, paddle-pp bench): statistics, RSS readers, stage timers and a 2-image smoke run (no timing asserts)."""
import importlib.util
import json
import mmap
import time

import cv2
import numpy as np
import pytest

import fixtures

ROOT = fixtures.__file__.rsplit("/tests/", 1)[0]


def load_benchmark():
    return importlib.import_module("paddle_pp.tools.benchmark")


bench = load_benchmark()


def test_summarize_median_and_p90():
    s = bench.summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert s["n"] == 10 and s["median"] == 5.5 and s["p90"] == pytest.approx(9.1)
    assert s["mean"] == 5.5 and s["min"] == 1 and s["max"] == 10
    assert bench.summarize([3.0])["p90"] == 3.0
    assert np.isnan(bench.summarize([])["median"])


def test_rss_readers():
    now, peak = bench.rss_mb(), bench.peak_rss_mb()
    assert 1 < now <= peak + 1e-6
    # 64 MiB of fresh pages, touched: mapped directly, as an allocator that keeps freed memory (after other tests
    # in this process) could hand back pages already resident
    block = mmap.mmap(-1, 64 * 1024 * 1024)
    block.write(b"\1" * len(block))
    assert bench.rss_mb() > now + 32 and bench.peak_rss_mb() >= bench.rss_mb() - 1e-6
    block.close()


def test_timed_proxy_times_calls_and_forwards_attributes():
    class Stage:
        factor = 3

        def __call__(self, x):
            return x * self.factor

    clock = bench.StageClock()
    timed = bench.Timed(Stage(), clock, "stage")
    assert timed(2) == 6 and timed.factor == 3
    timed.factor = 4  # attribute writes reach the target
    assert timed(2) == 8
    assert clock.get("stage") > 0
    clock.reset()
    assert clock.get("stage") == 0.0
    # an engine that runs several batches at once is timed there too (the stage calls run_many, not the engine)

    class Engine:
        concurrency = 2

        def run_many(self, batches):
            time.sleep(0.01)
            return [b + 1 for b in batches]

    timed_engine = bench.Timed(Engine(), clock, "rec_infer")
    assert timed_engine.concurrency == 2 and timed_engine.run_many([1, 2]) == [2, 3]
    assert clock.get("rec_infer") >= 0.01


def test_two_image_smoke_run(models_dir, tmp_path):
    img, _ = fixtures.document()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), img)
    out = tmp_path / "bench.json"
    assert bench.main(["--image_dir", str(tmp_path), "--engine", "onnx", "--warmup", "1", "--leak_images", "4",
                       "--leak_sample", "2", "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    entry = report["systems"]["onnx"]
    assert entry["images"] == 2 and entry["runs"] == 2 and entry["lines_total"] > 0
    stages = entry["stages_ms"]
    assert set(bench.STAGES) <= set(stages)
    assert stages["det_infer"]["median"] > 0 and stages["rec_infer"]["median"] > 0
    assert stages["total"]["median"] == pytest.approx(entry["latency_ms"]["median"])
    leak = report["leak"]
    assert leak["system"] == "onnx" and leak["images"] == 4 and [n for n, _ in leak["samples"]] == [0, 2, 4]
    assert report["peak_rss_mb"] >= leak["rss_max_mb"] - 1e-6


def test_lang_reaches_every_system_and_the_isolated_children(models_dir, tmp_path):
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--lang", "en", "--engine", "onnx"])
    argv = bench._child_argv(args, "onnx", str(tmp_path / "c.json"))
    assert argv[argv.index("--lang") + 1] == "en"
    system = bench.build_system("onnx", args)
    assert system.ocr.lang == "en" and "en_ascii" in system.ocr.configs["rec"]["Global"]["character_dict_path"]


def test_serial_system_runs_the_cls_and_rec_batches_one_at_a_time(models_dir, tmp_path):
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "onnx_serial",
                                            "--cpu_threads", "2"])
    together, serial = (bench.build_system(name, args) for name in args.engine)
    assert serial.name == "onnx_serial"
    for system, concurrency in ((together, 2), (serial, 1)):
        stages = (system.ocr.system.classifier.engine, system.ocr.system.recognizer.engine)
        assert [stage.concurrency for stage in stages] == [concurrency, concurrency]
    img, _ = fixtures.document()
    assert [r["transcription"] for r in together.ocr(img)] == [r["transcription"] for r in serial.ocr(img)]


def test_orient_system_turns_pages_upright_first(models_dir, tmp_path):
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "onnx_orient"])
    plain, oriented = (bench.build_system(name, args) for name in args.engine)
    assert oriented.name == "onnx_orient" and oriented.ocr.system.use_doc_orientation_classify
    assert not plain.ocr.system.use_doc_orientation_classify
    img, _ = fixtures.document()
    sideways = np.ascontiguousarray(np.rot90(img, -1))
    assert [r["transcription"] for r in oriented.ocr(sideways)] == [r["transcription"] for r in plain.ocr(img)]
    assert oriented.stages(1.0)["det_post"] >= 0      # the second detection is timed as a detection too
    # the system's detections (TextDetector.detect) are timed: the detector's stage holds its pre and inference
    assert plain.clock.get("det") >= plain.clock.get("det_pre") + plain.clock.get("det_infer") > 0


def test_whole_system_classifies_every_crop_whole(models_dir, tmp_path):
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "onnx_whole"])
    pieces, whole = (bench.build_system(name, args) for name in args.engine)
    assert whole.name == "onnx_whole" and whole.ocr.system.classifier.pieces_above == 0
    assert not whole.ocr.system.classifier.turned_view
    assert pieces.ocr.system.classifier.pieces_above == 6 and pieces.ocr.system.classifier.turned_view
    turned = np.ascontiguousarray(np.rot90(fixtures.long_line_page(), 2))
    def read(system):
        return [r["transcription"].replace(" ", "") for r in system.ocr(turned)]

    assert read(pieces) == [fixtures.LONG_LINE.replace(" ", "")] != read(whole)


def test_once_system_reads_every_crop_once(models_dir, tmp_path):
    """NAME_once: the system without the second reads of dense and unsure lines, to time what they cost."""
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "onnx_once"])
    twice, once = (bench.build_system(name, args) for name in args.engine)
    assert once.name == "onnx_once" and once.ocr.system.recognizer.dense_pitch == 0
    assert once.ocr.system.recognizer.unsure_blur == 0
    assert twice.ocr.system.recognizer.dense_pitch == 3.5 and twice.ocr.system.recognizer.unsure_blur == 0.8
    page = fixtures.dense_print_page()
    scores = [[r["score"] for r in system.ocr(page)] for system in (twice, once)]
    assert len(scores[0]) == len(scores[1]) and max(a - b for a, b in zip(*scores)) > 0   # some line read again
    assert twice.stages(1.0)["rec"] > 0


def test_as_cut_system_reads_unsure_lines_as_cut(models_dir, tmp_path):
    """NAME_as_cut: the system without the blurred second reads of unsure lines, the dense ones still read wider."""
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "onnx_as_cut"])
    default, cut = (bench.build_system(name, args) for name in args.engine)
    assert cut.name == "onnx_as_cut" and cut.ocr.system.recognizer.unsure_blur == 0
    assert cut.ocr.system.recognizer.dense_pitch == default.ocr.system.recognizer.dense_pitch == 3.5
    page = fixtures.poorly_scanned_words()
    reads = [[r["transcription"] for r in system.ocr(page)] for system in (default, cut)]
    assert len(reads[0]) == len(reads[1]) and reads[0] != reads[1]


def test_paddleocr_system_runs_as_paddleocr(models_dir, tmp_path):
    """NAME_paddleocr: the system as PaddleOCR runs these models, to time what the defaults add."""
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx_paddleocr",
                                            "--det_resize", "max:960"])
    system = bench.build_system(args.engine[0] + bench.AT + args.det_resize[0], args)
    assert system.ocr.as_paddleocr and system.ocr.system.reading_order == "paddleocr"
    assert system.ocr.system.detector.small_text_below == 0 and system.ocr.system.detector.limit_side_len == 960
    from paddle_pp import PPOCR

    assert system.run(fixtures.form()) == len(PPOCR(as_paddleocr=True)(fixtures.form()))


def test_det_resize_runs_each_system_at_each_resize_and_reaches_the_detector(models_dir, tmp_path, capsys):
    img, _ = fixtures.document()
    cv2.imwrite(str(tmp_path / "a.png"), img)
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--engine", "onnx", "slim",
                                            "--det_resize", "max:960", "min:64"])
    assert bench.system_names(args) == ["onnx@max:960", "onnx@min:64", "slim@max:960", "slim@min:64"]
    system = bench.build_system("slim@min:64", args)
    resize = system.ocr.configs["det"]["Inference"]
    assert system.ocr.slim and (resize["limit_type"], resize["limit_side_len"]) == ("min", 64)
    out = tmp_path / "bench.json"
    assert bench.main(["--image_dir", str(tmp_path), "--engine", "onnx", "--det_resize", "max:960", "max:32",
                       "--warmup", "0", "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["systems"]["onnx@max:960"]["lines_total"] > report["systems"]["onnx@max:32"]["lines_total"]
    assert set(report["ratios"]) == {"onnx@max:32/onnx@max:960"}      # the first system is the baseline
    assert "onnx@max:960 " in capsys.readouterr().out                   # a column wide enough for the name
    once = bench.build_system("onnx@max:960:0", args).ocr.system.detector
    assert (once.limit_type, once.limit_side_len, once.small_text_below) == ("max", 960, 0)
    plain = bench.build_system("onnx@max:960::0", args).ocr.system.detector
    assert (plain.small_text_below, plain.long_image_aspect) == (28, 0)     # the empty field keeps the model's
    windows = bench.build_system("onnx@max:960:det_window_overlap=0:det_max_side_limit=16000", args)
    assert (windows.ocr.system.detector.window_overlap, windows.ocr.system.detector.max_side_limit) == (0, 16000)
    for bad in ("min:0", "middle:960", "960", "max:960:-1", "max:960::-1", "max:960:0:0:0", "max:960:cls_thresh=0.5",
                "max:960:det_window_overlap=-1", "max:det_window_overlap=0", "max:960:det_window_overlap=0:1",
                "max:960:det_limit_type=min"):
        with pytest.raises(SystemExit):
            bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--det_resize", bad])


def test_ort_spinning_reaches_the_sessions_and_the_isolated_children(models_dir, tmp_path, monkeypatch):
    from paddle_pp.engine import base as engine_base

    monkeypatch.setattr(engine_base, "ALLOW_SPINNING", False)
    img, _ = fixtures.document()
    cv2.imwrite(str(tmp_path / "a.png"), img)
    args = bench.build_parser().parse_args(["--image_dir", str(tmp_path), "--ort_spinning"])
    assert "--ort_spinning" in bench._child_argv(args, "onnx", str(tmp_path / "c.json"))
    out = tmp_path / "bench.json"
    assert bench.main(["--image_dir", str(tmp_path / "a.png"), "--engine", "onnx", "--warmup", "0", "--ort_spinning",
                       "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["meta"]["ort_spinning"] is True
    session = engine_base.OnnxEngine(fixtures_onnx(tmp_path)).session
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"


def fixtures_onnx(tmp_path):
    """A one-node ONNX file."""
    import onnx
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [value("x", TensorProto.FLOAT, [1])],
                              [value("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path
