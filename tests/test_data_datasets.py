"""Datasets and the DataLoader: label files, LMDB, ratio sampling, bad samples, batch dicts."""
import logging

import lmdb
import numpy as np
import pytest

import data_samples as ds
from paddle_pp.config import load_config
from paddle_pp.data import DataError, LMDBDataSet, SimpleDataSet, build_dataloader
from paddle_pp.utils.text_render import render_line

REC_GLOBAL = {"character_dict_path": "official", "use_space_char": True, "max_text_length": 25}
REC_OPS = [{"DecodeImage": {"img_mode": "BGR"}}, {"CTCLabelEncode": None},
           {"RecResizeImg": {"image_shape": [3, 32, 320]}}, {"KeepKeys": {"keep_keys": ["image", "label", "length"]}}]
RAW_OPS = [{"DecodeImage": {"img_mode": "BGR"}}, {"KeepKeys": {"keep_keys": ["image", "label", "img_path"]}}]


def write_lmdb(path, samples, complete=True):
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=32 << 20)
    with env.begin(write=True) as txn:
        for i, (img, label) in enumerate(samples, 1):
            txn.put(b"image-%09d" % i, ds.encode(img))
            txn.put(b"label-%09d" % i, label.encode("utf-8"))
        if complete:
            txn.put(b"num-samples", str(len(samples)).encode())
    env.close()


def test_lmdb_dataset_reads_every_env(tmp_path):
    write_lmdb(tmp_path / "lmdb" / "a", [(render_line(w), w) for w in ["Hello", "TOTAL 27.30"]])
    write_lmdb(tmp_path / "lmdb" / "sub" / "b", [(render_line(w), w) for w in ["fox", "x" * 30, "Milk 1L"]])
    dset = LMDBDataSet(str(tmp_path / "lmdb"), transforms=REC_OPS, global_config=REC_GLOBAL)
    assert len(dset) == 4 and dset.dropped_labels == {"too long (> 25 characters)": 1}
    lengths = sorted(int(dset[i]["length"]) for i in range(len(dset)))
    assert lengths == [3, 5, 7, 11]
    assert dset[0]["image"].shape == (3, 32, 320)
    write_lmdb(tmp_path / "lmdb" / "partial", [(render_line("a"), "a")], complete=False)
    with pytest.raises(DataError, match="num-samples"):
        LMDBDataSet(str(tmp_path / "lmdb"), transforms=REC_OPS, global_config=REC_GLOBAL)


def test_ratio_list_sampling_per_file_and_epoch(tmp_path):
    a = ds.write_rec_dataset(tmp_path, ["a%d" % i for i in range(10)], name="a.txt", prefix="a")
    b = ds.write_rec_dataset(tmp_path, ["b%d" % i for i in range(4)], name="b.txt", prefix="b")
    make = lambda: SimpleDataSet(str(tmp_path), [str(a), str(b)], RAW_OPS, ratio_list=[0.5, 0.5], seed=3)
    dset = make()
    assert len(dset) == 5 + 2
    labels = [dset[i]["label"] for i in range(len(dset))]
    assert sum(l.startswith("a") for l in labels) == 5 and sum(l.startswith("b") for l in labels) == 2
    assert len(set(labels)) == 7
    epoch0 = list(dset.index)
    assert make().index == epoch0  # same seed, same draw
    draws = set()
    for epoch in range(1, 6):
        dset.set_epoch(epoch)
        assert len(dset) == 7
        draws.add(tuple(sorted(dset.index)))
    assert len(draws | {tuple(sorted(epoch0))}) > 1  # re-sampled across epochs
    full = SimpleDataSet(str(tmp_path), [str(a), str(b)], RAW_OPS, mode="Eval")
    assert full.index == list(range(14))
    with pytest.raises(ValueError, match="ratio_list"):
        SimpleDataSet(str(tmp_path), [str(a), str(b)], RAW_OPS, ratio_list=[1.0])


def test_label_drops_are_counted(tmp_path):
    words = ["Hello", "y" * 26, "\U0001F600\U0001F600", "fox"]
    label = ds.write_rec_dataset(tmp_path, words)
    dset = SimpleDataSet(str(tmp_path), [str(label)], REC_OPS, global_config=REC_GLOBAL)
    assert len(dset) == 2
    assert dset.dropped_labels == {"too long (> 25 characters)": 1, "no known characters": 1}
    assert dset.drop_summary().startswith("2 labels dropped")


def test_broken_image_reported_once_and_replaced(tmp_path, caplog):
    label = ds.write_rec_dataset(tmp_path, ["Hello", "fox", "TOTAL"])
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG not really")
    with open(label, "a", encoding="utf-8") as f:
        f.write("imgs/broken.png\tbroken\nimgs/missing.png\tmissing\n")
    dset = SimpleDataSet(str(tmp_path), [str(label)], RAW_OPS, mode="Eval")
    assert len(dset) == 5
    with caplog.at_level(logging.WARNING, logger="paddle_pp.data"):
        for _ in range(3):
            for i in range(len(dset)):
                assert dset[i]["label"] in ("Hello", "fox", "TOTAL")
    broken = [r for r in caplog.records if "broken.png" in r.getMessage()]
    missing = [r for r in caplog.records if "missing.png" in r.getMessage()]
    assert len(broken) == 1 and len(missing) == 1
    assert "decodable" in broken[0].getMessage()
    assert dset.bad_samples() == {"failed": 2, "rejected": 0}

    bad = tmp_path / "bad.txt"
    bad.write_text("imgs/broken.png\tx\nimgs/missing.png\ty\n", encoding="utf-8")
    dead = SimpleDataSet(str(tmp_path), [str(bad)], RAW_OPS, max_consecutive_failures=10)
    with pytest.raises(DataError, match="10 consecutive samples"):
        dead[0]


def _config(name, tmp_path, writer):
    cfg = load_config(name)
    for mode in ("Train", "Eval"):
        label = writer(tmp_path, name=f"{mode}.txt")
        cfg[mode]["dataset"]["data_dir"] = str(tmp_path)
        cfg[mode]["dataset"]["label_file_list"] = [str(label)]
        cfg[mode]["loader"]["num_workers"] = 2
        if cfg[mode]["loader"]["batch_size_per_card"] > 1:
            cfg[mode]["loader"]["batch_size_per_card"] = 2
    return cfg


def _np(v):
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


def test_dataloader_det(tmp_path):
    cfg = _config("det", tmp_path, lambda root, name: ds.write_det_dataset(root, n=4, name=name))
    cfg["Train"]["dataset"]["transforms"][3]["EastRandomCropData"]["size"] = [320, 320]
    batches = list(build_dataloader(cfg, "Train"))
    assert len(batches) == 2
    b = batches[0]
    assert list(b) == ["image", "threshold_map", "threshold_mask", "shrink_map", "shrink_mask"]
    assert tuple(b["image"].shape) == (2, 3, 320, 320) and _np(b["image"]).dtype == np.float32
    for key in ("threshold_map", "threshold_mask", "shrink_map", "shrink_mask"):
        assert tuple(b[key].shape) == (2, 320, 320)
    assert _np(b["shrink_map"]).max() == 1
    ev = next(iter(build_dataloader(cfg, "Eval")))
    assert list(ev) == ["image", "shape", "polys", "ignore_tags"]
    assert tuple(ev["image"].shape)[:2] == (1, 3) and tuple(ev["shape"].shape) == (1, 4)
    assert isinstance(ev["polys"], list) and np.asarray(ev["polys"][0]).shape == (4, 4, 2)
    assert ev["ignore_tags"] == [[False, False, False, True]]


def test_dataloader_rec(tmp_path):
    cfg = _config("rec", tmp_path, lambda root, name: ds.write_rec_dataset(root, name=name))
    batches = list(build_dataloader(cfg, "Train"))
    assert len(batches) == 3
    b = batches[0]
    assert list(b) == ["image", "label", "length"]
    assert tuple(b["image"].shape) == (2, 3, 32, 320)
    assert tuple(b["label"].shape) == (2, 25) and _np(b["label"]).dtype == np.int64
    assert tuple(b["length"].shape) == (2,) and _np(b["length"]).dtype == np.int64
    ev = list(build_dataloader(cfg, "Eval"))
    assert sorted(int(v) for b in ev for v in _np(b["length"])) == sorted(len(w) for w in ds.REC_WORDS)


def test_dataloader_cls(tmp_path):
    cfg = _config("cls", tmp_path, lambda root, name: ds.write_cls_dataset(root, name=name))
    b = next(iter(build_dataloader(cfg, "Train")))
    assert list(b) == ["image", "label"]
    assert tuple(b["image"].shape) == (2, 3, 48, 192) and tuple(b["label"].shape) == (2,)
    ev = list(build_dataloader(cfg, "Eval"))
    assert [int(v) for b in ev for v in _np(b["label"])] == [0, 1, 0, 1, 0, 1]


def test_loader_rejects_unknown_keys(tmp_path):
    cfg = _config("cls", tmp_path, lambda root, name: ds.write_cls_dataset(root, name=name))
    cfg["Train"]["loader"]["batchsize"] = 4
    with pytest.raises(KeyError, match="batchsize"):
        build_dataloader(cfg, "Train")
    cfg = _config("cls", tmp_path, lambda root, name: ds.write_cls_dataset(root, name=name))
    cfg["Train"]["dataset"]["label_files"] = []
    with pytest.raises(TypeError, match="SimpleDataSet"):
        build_dataloader(cfg, "Train")
