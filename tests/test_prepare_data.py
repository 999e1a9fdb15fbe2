"""`paddle-pp data prepare` on a tiny generated copy of ../shared/data: the label files of the manifest, their splits
(ICDAR 2015 img_601-700, every 10th scene-word crop), the mixing ratios, decodable crops, a second run that does
nothing, and a missing input reported in one line before any work."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddle_pp import cli
from paddle_pp.dataset_tools import prepare_data
from paddle_pp.utils.image_io import read_image
from paddle_pp.utils.label_files import parse_det_label, read_label_lines

IC15_IMAGES = (1, 2, 600, 601, 700)  # 1-600 train, 601-700 validation
BOM = "\ufeff"


def _picture(path: Path, words, size=(160, 320)) -> list:
    """A light picture with `words` drawn one under the other; returns their quads."""
    image = np.full((*size, 3), 235, np.uint8)
    quads = []
    for row, word in enumerate(words):
        x, y = 10, 30 + 40 * row
        cv2.putText(image, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
        quads.append([[x - 4, y - 24], [x + 20 * max(len(word), 1), y - 24], [x + 20 * max(len(word), 1), y + 8],
                      [x - 4, y + 8]])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return quads


def _det_label(image_rel: str, quads, texts) -> str:
    items = [{"transcription": t, "points": q} for t, q in zip(texts, quads)]
    return f"{image_rel}\t{json.dumps(items)}"


def _rec_set(folder: Path, label_name: str, image_sub: str, texts) -> None:
    lines = []
    for i, text in enumerate(texts, start=1):
        rel = f"{image_sub}/{i}.png"
        _picture(folder / rel, [text], size=(40, 160))
        lines.append(f"{rel}\t{text}")
    (folder / label_name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_shared(root: Path) -> Path:
    """The layout of ../shared/data (its README.md), a few pictures per set."""
    shared = root / "shared"
    ic15 = shared / "ic15_train"
    for n in IC15_IMAGES:
        words = [f"w{n}", "a,b", "zz", "CAFE"]
        quads = _picture(ic15 / "ch4_training_images" / f"img_{n}.jpg", words)
        texts = [f"w{n}", "a,b", "###", "CAFÉ"]  # a comma inside a transcription, a don't-care, a non-ASCII word
        rows = [",".join(str(v) for point in q for v in point) + f",{t}" for q, t in zip(quads, texts)]
        gt = ic15 / "ch4_training_localization_transcription_gt" / f"gt_img_{n}.txt"
        gt.parent.mkdir(parents=True, exist_ok=True)
        gt.write_text(BOM + "\n".join(rows) + "\n", encoding="utf-8")
    for split, names in (("train", list("ABCDEFGHIJ")), ("test", ["K"])):  # 10: every 10th is a val split
        folder = shared / f"msra_td500_{split}"
        lines = [_det_label(f"orig/{name}.jpg", _picture(folder / "orig" / f"{name}.jpg", ["line"]), [""])
                 for name in names]
        (folder / f"{split}_label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sroie = shared / "sroie_dev"
    for split, names in (("train", ["000", "001"]), ("val", ["080"])):
        lines = [_det_label(f"images/{n}.jpg", _picture(sroie / "images" / f"{n}.jpg", ["TOTAL", "RM 9.00"]),
                            ["TOTAL", "RM 9.00"]) for n in names]
        (sroie / f"det_{split}_label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _rec_set(sroie, "rec_train_label.txt", "line_crops/train", ["TOTAL", "RM 9.00", "THANK YOU", "TAX 6%"])
    _rec_set(sroie, "rec_val_label.txt", "line_crops/val", ["CASH", "CHANGE"])
    _rec_set(shared / "uw3_lines", "train_label.txt", "orig/train", ["The problem is", "set up as"])
    _rec_set(shared / "uw3_lines", "test_label.txt", "orig/test", ["is further assumed"])
    _rec_set(shared / "scene_words", "iiit5k_train_label.txt", "iiit5k_train/IMG", [f"Word{i}" for i in range(20)])
    _rec_set(shared / "scene_words", "svt_train_label.txt", "svt_train/IMG", [f"SVT{i}" for i in range(12)])
    for sub in ("imgs", "imgs_en"):
        _picture(shared / "paddleocr_samples" / "doc" / sub / "photo.jpg", ["photo"])
    return shared


class FakeDetector:
    """The official detector's place in pseudo-labelling: one box per photo, no model to load."""

    def __call__(self, image):
        return [np.array([[5, 5], [60, 5], [60, 30], [5, 30]], np.float32)]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One tiny run (and a second one) from a working directory beside the fake shared tree."""
    root = tmp_path_factory.mktemp("prepare")
    shared = make_shared(root)
    patch = pytest.MonkeyPatch()
    patch.chdir(root)
    import paddle_pp.ocr

    patch.setattr(paddle_pp.ocr, "build_stage", lambda *args, **kwargs: FakeDetector())
    argv = ["data", "prepare", "--shared", str(shared), "--out", "train_data", "--synth_scale", "tiny",
            "--workers", "1"]
    first = cli.main(argv)
    outputs = sorted((root / "train_data").glob("*.txt"))
    stamps = {p.name: p.stat().st_mtime_ns for p in root.joinpath("train_data").rglob("*") if p.is_file()}
    yield {"root": root, "shared": shared, "out": root / "train_data", "argv": argv, "first": first,
           "outputs": outputs, "stamps": stamps, "patch": patch}
    patch.undo()


def _lines(prepared, name):
    return [(path, label) for _, path, label in read_label_lines(prepared["out"] / name)]


def test_every_output_of_the_manifest_is_written_with_paths_that_exist(prepared):
    assert prepared["first"] == 0
    manifest = prepare_data.load_manifest()
    assert {p.name for p in prepared["outputs"]} >= set(manifest["outputs"])
    for name in manifest["outputs"]:
        lines = _lines(prepared, name)
        assert lines, name
        for path, _ in lines:  # relative to the working directory, where training runs (data_dir: ./)
            assert not Path(path).is_absolute() and (prepared["root"] / path).is_file(), (name, path)


def test_ic15_is_split_by_image_number_and_converted_faithfully(prepared):
    train = _lines(prepared, "det_ic15_train.txt")
    val = _lines(prepared, "det_ic15_val.txt")
    assert [Path(p).name for p, _ in train] == ["img_1.jpg", "img_2.jpg", "img_600.jpg"]
    assert [Path(p).name for p, _ in val] == ["img_601.jpg", "img_700.jpg"]
    texts = [item["transcription"] for item in parse_det_label(train[0][1])]
    assert texts == ["w1", "a,b", "###", "CAFÉ"]  # BOM dropped, comma kept, don't-care kept for the detector


def test_ic15_word_crops_skip_dont_care_and_non_ascii_and_follow_the_split(prepared):
    train = _lines(prepared, "rec_ic15_train.txt")
    val = _lines(prepared, "rec_ic15_val.txt")
    assert Counter(label for _, label in train) == Counter({"w1": 1, "w2": 1, "w600": 1, "a,b": 3})
    assert Counter(label for _, label in val) == Counter({"w601": 1, "w700": 1, "a,b": 2})
    crops = sorted((prepared["out"] / "ic15_words" / "crops").iterdir())
    assert len(crops) == len(train) + len(val)  # one crop per label line, no strays
    for path, _ in train + val:
        crop = read_image(prepared["root"] / path)
        assert crop.shape[0] >= 20 and crop.shape[1] > crop.shape[0]  # a decodable, upright word box


def test_scene_words_hold_out_every_tenth_crop(prepared):
    val = _lines(prepared, "rec_scene_words_val.txt")
    train = _lines(prepared, "rec_scene_words_train.txt")
    assert [label for _, label in val] == ["Word9", "Word19", "SVT9"]
    assert len(train) == 18 + 11 and not {label for _, label in train} & {label for _, label in val}


def _assert_shares(paths, kind_of, shares):
    """Each part holds its share of the file, to within one sample (the total is whole samples)."""
    kinds = Counter(kind_of(p) for p in paths)
    assert set(kinds) == set(shares)
    for kind, share in shares.items():
        assert abs(kinds[kind] - share * len(paths)) <= 1, (kind, kinds, len(paths))


def test_mixes_honour_their_shares_and_use_every_real_sample(prepared):
    det = [path for path, _ in _lines(prepared, "det_mix_train.txt")]
    _assert_shares(det, lambda p: "msra" if "msra" in p else "sroie", {"msra": 0.65, "sroie": 0.35})
    for name in ("det_msra_fit.txt", "det_sroie_train.txt"):  # nothing real left out
        assert set(det) >= {p for p, _ in _lines(prepared, name)}, name
    held_out = {p for p, _ in _lines(prepared, "det_msra_val.txt")}  # the validation photos never train
    assert held_out and not held_out & set(det)

    v2 = [path for path, _ in _lines(prepared, "rec_en_v2_train.txt")]
    _assert_shares(v2, lambda p: "doc" if "synth_en_doc" in p else "uw3" if "uw3" in p else
                   "sroie" if "sroie" in p else "words", {"words": 0.35, "sroie": 0.30, "uw3": 0.05, "doc": 0.30})
    for name in ("rec_ic15_train.txt", "rec_scene_words_train.txt", "rec_sroie_train.txt", "rec_uw3_train.txt"):
        assert set(v2) >= {p for p, _ in _lines(prepared, name)}, name


def test_evaluation_sets_are_the_untouched_val_and_test_parts(prepared):
    assert [label for _, label in _lines(prepared, "rec_sroie_val.txt")] == ["CASH", "CHANGE"]
    assert [label for _, label in _lines(prepared, "rec_uw3_test.txt")] == ["is further assumed"]
    assert len(_lines(prepared, "det_msra_test.txt")) == 1
    flips = _lines(prepared, "cls_sroie_val.txt")
    assert len(flips) == 2 and {label for _, label in flips} <= {"0", "180"}
    for path, label in flips:
        assert read_image(prepared["root"] / path).shape[:2] == (40, 160)


def test_synthetic_sets_are_tiny_with_synth_scale_tiny(prepared):
    assert len(_lines(prepared, "rec_en_doc.txt")) == prepare_data.TINY_SET
    assert len(_lines(prepared, "cls_synth_short_train.txt")) == 2 * prepare_data.TINY_SET  # upright and turned


def test_a_second_run_changes_nothing(prepared, capsys):
    assert cli.main(prepared["argv"]) == 0
    out = capsys.readouterr().out
    assert " built" not in out and "up to date" in out
    stamps = {p.name: p.stat().st_mtime_ns for p in prepared["out"].rglob("*") if p.is_file()}
    assert stamps == prepared["stamps"]


def test_a_changed_input_rebuilds_what_reads_it(prepared, capsys):
    label_file = prepared["shared"] / "uw3_lines" / "train_label.txt"
    original = label_file.read_text(encoding="utf-8")
    try:
        label_file.write_text(original.splitlines()[0] + "\n", encoding="utf-8")
        assert cli.main(prepared["argv"] + ["--only", "rec_uw3_train"]) == 0
        assert "rec_uw3_train.txt" in capsys.readouterr().out
        assert len(_lines(prepared, "rec_uw3_train.txt")) == 1
    finally:
        label_file.write_text(original, encoding="utf-8")
        cli.main(prepared["argv"] + ["--only", "rec_uw3_train"])


def test_a_missing_input_is_one_line_and_exit_2_before_any_work(tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    (shared / "scene_words").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["data", "prepare", "--shared", str(shared), "--out", "out", "--synth_scale", "tiny"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error:") and "ic15" in err and "sroie_dev/rec_train_label.txt" in err
    assert not (tmp_path / "out").exists()


def test_only_names_an_output(prepared, capsys):
    assert cli.main(prepared["argv"] + ["--only", "no_such_set"]) == 2
    assert "no_such_set" in capsys.readouterr().err


def test_mix_cuts_synthetic_parts_and_repeats_short_real_ones():
    real = prepare_data.Samples([f"r{i}" for i in range(30)])
    small = prepare_data.Samples(["s0", "s1"])
    synthetic = prepare_data.Samples([f"y{i}" for i in range(1000)], synthetic=True)
    chosen = prepare_data.mix([real, small, synthetic], [0.6, 0.1, 0.3])
    assert [len(c) for c in chosen] == [30, 5, 15]
    assert sorted(chosen[0]) == sorted(real.lines) and Counter(chosen[1]).most_common(1)[0][1] == 3
    assert len(set(chosen[2])) == 15


def test_the_manifest_names_only_what_it_defines(tmp_path):
    bad = tmp_path / "prepare.yml"
    bad.write_text("outputs:\n  x.txt: [nowhere]\n", encoding="utf-8")
    with pytest.raises(prepare_data.DataToolError, match="nowhere"):
        prepare_data.load_manifest(bad)


def test_generators_with_workers_run_in_their_own_interpreter(tmp_path, monkeypatch):
    """With --workers 2 the synthetic generators run as subprocesses (they fork their pools, which a process
    holding Paddle must not do); the set is the same kind of set."""
    monkeypatch.chdir(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    code = cli.main(["data", "prepare", "--shared", str(shared), "--out", "out", "--synth_scale", "tiny",
                     "--workers", "2", "--only", "rec_en_doc"])
    assert code == 0
    lines = list(read_label_lines(tmp_path / "out" / "rec_en_doc.txt"))
    assert len(lines) == prepare_data.TINY_SET
    assert all(read_image(tmp_path / path).shape[0] == 32 for _, path, _ in lines)


def test_an_edited_output_is_made_again(prepared, capsys):
    path = prepared["out"] / "rec_scene_words_val.txt"
    whole = path.read_text(encoding="utf-8")
    path.write_text(whole.splitlines()[0] + "\n", encoding="utf-8")
    assert cli.main(prepared["argv"] + ["--only", "rec_scene_words_val"]) == 0
    assert path.read_text(encoding="utf-8") == whole


def test_a_set_of_unknown_kind_is_a_manifest_error(tmp_path):
    bad = tmp_path / "prepare.yml"
    bad.write_text("sets:\n  s: {tool: synth_everything, num: 3}\noutputs:\n  x.txt: [s]\n", encoding="utf-8")
    with pytest.raises(prepare_data.DataToolError, match="tool must be one of"):
        prepare_data.load_manifest(bad)


def test_document_corpus_word_range():
    assert prepare_data.document_corpus(200, seed=4) == prepare_data.document_corpus(200, seed=4, min_words=2,
                                                                                     max_words=9)
    words = lambda line: sum(not t.strip("(),.;:!?").replace(".", "").isdigit() for t in line.split())
    book = prepare_data.document_corpus(300, seed=26, min_words=8, max_words=16)
    assert min(map(words, book)) == 8 and max(map(words, book)) == 16
    assert max(map(words, prepare_data.document_corpus(300, seed=4))) == 9
    with pytest.raises(prepare_data.DataToolError):
        prepare_data.document_corpus(5, min_words=5, max_words=4)
