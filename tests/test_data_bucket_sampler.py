"""Width-bucketed recognition batches: RecResizeImg max_width, the bucket sampler, collate padding, and one
training run through the trainer on crops of very different widths."""
from collections import Counter
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from paddle_pp.config import load_config
from paddle_pp.data import SimpleDataSet, WidthBucketBatchSampler, build_dataloader, collate_batch
from paddle_pp.data.imaug.rec_img_aug import RecResizeImg
from paddle_pp.utils.text_render import render_line

REC_GLOBAL = {"character_dict_path": "official", "use_space_char": True, "max_text_length": 100}


def _image(width, height=32):
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.line(img, (2, height // 2), (width - 3, height // 2), (0, 0, 0), 2)
    return img


# ------------------------------------------------------------------------------------------------ RecResizeImg

def test_max_width_keeps_wide_crops_at_their_width_and_pads_to_the_step():
    plain = RecResizeImg(image_shape=[3, 32, 320])
    wide = RecResizeImg(image_shape=[3, 32, 320], max_width=1280)
    for width in (100, 320):  # not wider than W: exactly today's tensor
        a, b = plain({"image": _image(width)}), wide({"image": _image(width)})
        np.testing.assert_array_equal(a["image"], b["image"])
        assert a["valid_ratio"] == b["valid_ratio"] == pytest.approx(width / 320)
    out = wide({"image": _image(700)})          # natural width 700 -> padded to 704 (22 x 32)
    assert out["image"].shape == (3, 32, 704)
    assert out["valid_ratio"] == pytest.approx(700 / 704)
    assert out["image"][:, :, :700].max() > 0.9 and not out["image"][:, :, 700:].any()
    out = wide({"image": _image(1500, 30)})     # natural 1600 > max_width: squeezed to 1280, no padding
    assert out["image"].shape == (3, 32, 1280) and out["valid_ratio"] == 1.0
    assert plain({"image": _image(700)})["image"].shape == (3, 32, 320)   # default: squeezed as before
    assert wide.output_width(700, 32) == 704 and wide.output_width(100, 32) == 320
    assert RecResizeImg(max_width=1000, width_step=64).output_width(990, 32) == 1000   # never past max_width
    with pytest.raises(ValueError, match="max_width"):
        RecResizeImg(image_shape=[3, 32, 320], max_width=200)
    with pytest.raises(ValueError, match="padding"):
        RecResizeImg(max_width=1280, padding=False)


def test_max_width_is_range_checked_by_the_config(tmp_path):
    from paddle_pp.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="max_width"):
        load_config("rec_en_v2", ["Train.dataset.transforms=[{RecResizeImg: {max_width: -5}}]"])
    cfg = tmp_path / "c.yml"
    cfg.write_text("_base_: rec\nTrain:\n  dataset:\n    transforms:\n      - RecResizeImg: {max_width: 0}\n")
    with pytest.raises((ConfigError, ValueError), match=r"RecResizeImg\.max_width"):
        load_config(str(cfg))


# ------------------------------------------------------------------------------------------------ collate

def test_collate_pads_images_of_one_batch_to_the_widest_and_rescales_valid_ratio():
    a = {"image": np.ones((3, 32, 320), np.float32), "valid_ratio": np.float32(0.5), "length": np.int64(2)}
    b = {"image": np.ones((3, 32, 640), np.float32), "valid_ratio": np.float32(1.0), "length": np.int64(5)}
    batch = collate_batch([a, b])
    assert batch["image"].shape == (2, 3, 32, 640)
    assert batch["image"][0, :, :, :320].all() and not batch["image"][0, :, :, 320:].any()
    np.testing.assert_allclose(batch["valid_ratio"], [0.25, 1.0])
    assert a["image"].shape == (3, 32, 320)  # the samples themselves are untouched
    same = collate_batch([a, dict(a)])
    assert same["image"].shape == (2, 3, 32, 320) and same["valid_ratio"].tolist() == [0.5, 0.5]


# ------------------------------------------------------------------------------------------------ sampler

def _fake_dataset(widths, index=None):
    return SimpleNamespace(index=list(range(len(widths))) if index is None else index)


WIDTHS = [320] * 50 + [640] * 21 + [1280] * 9 + [960] * 4   # by sample id


def _sampler(**kw):
    args = dict(base_width=320, batch_size=8, shuffle=True, drop_last=False, seed=5)
    args.update(kw)
    return WidthBucketBatchSampler(_fake_dataset(WIDTHS), WIDTHS, **args)


def test_every_position_once_per_epoch_in_batches_of_one_width():
    sampler = _sampler()
    assert [sampler.bucket_batch_size(w) for w in (320, 640, 960, 1280, 2000)] == [8, 4, 2, 2, 1]
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == 7 + 6 + 5 + 2   # ceil(50/8), ceil(21/4), ceil(9/2), 4/2
        assert sorted(p for b in batches for p in b) == list(range(len(WIDTHS)))
        for batch in batches:
            widths = {WIDTHS[p] for p in batch}
            assert len(widths) == 1 and len(batch) <= sampler.bucket_batch_size(widths.pop())
    sizes = Counter(len(b) for b in batches)
    # 320: 6 x 8 + 2; 640: 5 x 4 + 1; 960: 2 x 2; 1280: 4 x 2 + 1
    assert sizes == {8: 6, 4: 5, 2: 1 + 2 + 4, 1: 1 + 1}


def test_drop_last_keeps_only_full_batches():
    sampler = _sampler(drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 6 + 5 + 4 + 2
    assert all(len(b) == sampler.bucket_batch_size(WIDTHS[b[0]]) for b in batches)


def test_shuffle_is_deterministic_by_seed_and_epoch():
    first = list(_sampler(seed=5))
    assert list(_sampler(seed=5)) == first
    assert list(_sampler(seed=6)) != first
    other_epoch = _sampler(seed=5)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != first
    ordered = list(_sampler(shuffle=False))
    assert [p for b in ordered for p in b] == sorted(range(len(WIDTHS)), key=lambda p: (WIDTHS[p], p))


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_get_disjoint_batches_of_equal_number(drop_last):
    ranks = [list(_sampler(num_replicas=3, rank=r, drop_last=drop_last)) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1 and len(ranks[0]) == len(_sampler(num_replicas=3, drop_last=drop_last))
    planned = len(list(_sampler(drop_last=drop_last)))
    batches = [tuple(b) for r in ranks for b in r]
    if drop_last:   # 17 batches: 15 used, none twice
        assert len(set(batches)) == len(batches) == planned // 3 * 3
    else:           # 20 batches: 21 wanted, one repeated (as Paddle's DistributedBatchSampler pads)
        assert len(batches) == 21 and len(set(batches)) == planned
        for r in ranks:  # no rank sees a sample twice
            flat = [p for b in r for p in b]
            assert len(flat) == len(set(flat))


def test_length_stays_fixed_when_the_epoch_draw_changes():
    dataset = _fake_dataset(WIDTHS, index=list(range(50)) + list(range(70, 84)))  # epoch 0's draw
    sampler = WidthBucketBatchSampler(dataset, WIDTHS, 320, 8, seed=1)
    planned = len(sampler)
    dataset.index = list(range(40)) + list(range(50, 84))    # a draw with more wide samples: more batches
    assert len(list(sampler)) == planned
    dataset.index = list(range(30))                           # fewer batches: some repeated
    batches = list(sampler)
    assert len(batches) == planned and {p for b in batches for p in b} == set(range(30))


# ------------------------------------------------------------------------------------------------ loader + trainer

WORDS = ["Hi", "ok", "cab", "The quick brown fox jumps over the lazy dog again", "on",
         "Another distinctive feature of the levelling process is", "abc", "door"]


@pytest.fixture()
def wide_data(tmp_path):
    (tmp_path / "imgs").mkdir()
    lines = []
    for i, word in enumerate(WORDS):
        cv2.imwrite(str(tmp_path / "imgs" / f"{i}.png"), render_line(word))
        lines.append(f"imgs/{i}.png\t{word}")
    (tmp_path / "label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _bucket_config(data_dir, out_dir):
    """rec_en_v2.yml with long lines at their width (RecResizeImg max_width) in width-bucketed batches."""
    cfg = load_config("rec_en_v2", ["Global.max_text_length=100",  # the long lines of WORDS are kept
                                    "Train.dataset.transforms.3.RecResizeImg.max_width=1280",
                                    "Eval.dataset.transforms.2.RecResizeImg.max_width=1280"])
    cfg["Global"].update(pretrained_model=None, checkpoints=None, save_model_dir=str(out_dir), epoch_num=1,
                         print_batch_step=1, eval_batch_step=[0, 100], progress_bar=False, max_train_minutes=None,
                         save_epoch_step=100)
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=str(data_dir), label_file_list=[str(data_dir / "label.txt")],
                                    ratio_list=[1.0])
        cfg[mode]["loader"].update(batch_size_per_card=4, num_workers=0, drop_last=False, bucket_by_width=True)
    return cfg


def test_loader_batches_by_width_and_reads_widths_from_headers(wide_data):
    cfg = _bucket_config(wide_data, wide_data / "out")
    loader = build_dataloader(cfg, "Eval")
    sampler = loader.batch_sampler
    assert isinstance(sampler, WidthBucketBatchSampler)
    sizes = loader.dataset.image_sizes()
    assert sizes[0] == render_line("Hi").shape[1::-1]
    batches = list(loader)
    widths = sorted(int(b["image"].shape[-1]) for b in batches)
    assert widths[0] == 320 and widths[-1] > 480 and all(w % 32 == 0 for w in widths)
    assert sum(int(b["image"].shape[0]) for b in batches) == len(WORDS)
    cfg["Eval"]["loader"]["bucket_by_width"] = False  # off: Paddle's batch sampler, one batch size
    assert not isinstance(build_dataloader(cfg, "Eval").batch_sampler, WidthBucketBatchSampler)


def test_lmdb_sizes_come_from_the_stored_headers(tmp_path):
    import lmdb

    from paddle_pp.data import LMDBDataSet

    images = [render_line("Hi"), render_line("a much longer line of text")]
    env = lmdb.open(str(tmp_path / "db"), map_size=32 << 20)
    with env.begin(write=True) as txn:
        for i, img in enumerate(images + [None], 1):
            txn.put(b"image-%09d" % i, cv2.imencode(".png", img)[1].tobytes() if img is not None else b"junk")
            txn.put(b"label-%09d" % i, b"x")
        txn.put(b"num-samples", b"3")
    env.close()
    ops = [{"DecodeImage": {"img_mode": "BGR"}}, {"KeepKeys": {"keep_keys": ["image"]}}]
    sizes = LMDBDataSet(str(tmp_path / "db"), transforms=ops).image_sizes()
    assert sizes == [images[0].shape[1::-1], images[1].shape[1::-1], (0, 0)]   # unreadable: (0, 0)


def test_bucket_by_width_needs_a_resize_that_knows_widths(wide_data):
    cfg = _bucket_config(wide_data, wide_data / "out")
    cfg["Eval"]["dataset"]["transforms"] = [{"DecodeImage": {"img_mode": "BGR"}}, {"CTCLabelEncode": None},
                                            {"KeepKeys": {"keep_keys": ["image", "label", "length"]}}]
    with pytest.raises(ValueError, match="RecResizeImg"):
        build_dataloader(cfg, "Eval")


def test_training_steps_on_batches_of_different_widths(wide_data):
    from paddle_pp.training import Trainer

    cfg = _bucket_config(wide_data, wide_data / "out")
    cfg["Global"]["max_steps"] = 3
    trainer = Trainer(cfg)
    seen = []
    original = trainer.train_step

    def record(batch):
        seen.append(tuple(batch["image"].shape))
        return original(batch)

    trainer.train_step = record
    summary = trainer.train()
    assert summary["global_step"] == 3
    assert len({shape[-1] for shape in seen}) > 1, seen       # the steps ran on different widths
    assert all(shape[0] * shape[-1] <= 4 * 320 for shape in seen)  # pixels per batch bounded
