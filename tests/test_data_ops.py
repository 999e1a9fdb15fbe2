"""Data operators keep labels consistent with the image (shrink/border maps, crops, imgaug), encode labels
like PaddleOCR, and the pipeline rejects undeclared keys and unknown operators at build time."""
import random

import cv2
import numpy as np
import pytest

import data_samples as ds
from paddle_pp.config import load_config
from paddle_pp.data import build_transforms
from paddle_pp.data.imaug.iaa_augment import IaaAugment
from paddle_pp.data.imaug.label_ops import CTCLabelEncode, ClsLabelEncode, DetLabelEncode
from paddle_pp.data.imaug.make_border_map import MakeBorderMap
from paddle_pp.data.imaug.make_shrink_map import MakeShrinkMap
from paddle_pp.data.imaug.random_crop_data import EastRandomCropData
from paddle_pp.data.imaug.rec_img_aug import ClsResizeImg, RecAug, RecResizeImg, warp_mls
from paddle_pp.data.imaug.randaugment import RandAugment
from paddle_pp.data.imaug.rec_ops import resize_norm_cls
from paddle_pp.postprocess.ctc_decode import CTCLabelDecode
from paddle_pp.utils.dicts import resolve_dict_path
from paddle_pp.utils.text_render import render_line


def det_sample(ignore_last=True):
    img, polys, texts = ds.det_image()
    tags = np.zeros(len(polys), dtype=bool)
    if ignore_last:
        tags[-1] = True
        texts = texts[:-1] + ["###"]
    return {"image": img, "polys": polys, "ignore_tags": tags, "texts": texts}


def poly_mask(shape, polys):
    mask = np.zeros(shape[:2], dtype=np.uint8)
    for p in polys:
        cv2.fillPoly(mask, [np.round(np.asarray(p)).astype(np.int32)], 1)
    return mask.astype(bool)


def ink(img):
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return (gray < 128) & (gray > 0)  # > 0: keep_ratio padding is exactly 0


def test_det_label_encode_parses_json_and_ignore_tags():
    _, polys, texts = ds.det_image()
    texts = texts[:2] + ["###", "*"]
    out = DetLabelEncode()({"label": ds.det_label(polys, texts)})
    assert out["polys"].dtype == np.float32 and out["polys"].shape == (4, 4, 2)
    np.testing.assert_allclose(out["polys"], polys)
    assert out["ignore_tags"].tolist() == [False, False, True, True]
    assert out["texts"] == texts
    # polygons with different point counts are padded by repeating their last point
    label = '[{"transcription": "a", "points": [[0,0],[9,0],[9,9],[0,9]]}, ' \
            '{"transcription": "b", "points": [[0,0],[4,0],[8,0],[8,8],[4,8],[0,8]]}]'
    out = DetLabelEncode()({"label": label})
    assert out["polys"].shape == (2, 6, 2) and out["polys"][0, 4:].tolist() == [[0, 9], [0, 9]]
    assert DetLabelEncode()({"label": "[]"}) is None


def test_shrink_map_inside_polygons_and_ignored_masked():
    data = det_sample()
    polys, tags = data["polys"].copy(), data["ignore_tags"].copy()
    out = MakeShrinkMap(shrink_ratio=0.4, min_text_size=8)(dict(data))
    smap, smask = out["shrink_map"], out["shrink_mask"]
    assert smap.shape == smask.shape == data["image"].shape[:2] and smap.dtype == np.float32
    cared = [p for p, t in zip(polys, tags) if not t]
    inside = poly_mask(smap.shape, cared)
    assert smap.sum() > 0 and np.all(inside[smap > 0]), "shrink map pixels outside their polygon"
    for p in cared:  # every cared-for box has a shrunk kernel, smaller than the box
        m = poly_mask(smap.shape, [p])
        assert 0 < smap[m].sum() < 0.8 * m.sum()
    ignored = poly_mask(smap.shape, [polys[-1]])
    assert smask[ignored].max() == 0 and smap[ignored].max() == 0
    assert smask[~ignored].min() == 1
    np.testing.assert_array_equal(data["polys"], polys)  # the input polygons are not modified in place
    # a box thinner than min_text_size is masked out too
    tiny = {"image": data["image"], "polys": np.array([[[10, 10], [200, 10], [200, 15], [10, 15]]], np.float32),
            "ignore_tags": np.array([False])}
    out = MakeShrinkMap(min_text_size=8)(tiny)
    assert out["shrink_map"].max() == 0 and out["shrink_mask"][11:14, 20:190].max() == 0


def test_border_map_range_and_masks():
    data = det_sample()
    polys, tags = data["polys"], data["ignore_tags"]
    out = MakeBorderMap(shrink_ratio=0.4, thresh_min=0.3, thresh_max=0.7)(dict(data))
    tmap, tmask = out["threshold_map"], out["threshold_mask"]
    assert tmap.dtype == np.float32 and tmap.shape == data["image"].shape[:2]
    assert tmap.min() >= 0.3 - 1e-6 and tmap.max() <= 0.7 + 1e-6
    for p in polys[~tags]:
        m = poly_mask(tmap.shape, [p])
        assert tmask[m].min() == 1  # the dilated polygon covers the polygon
        x0, y0 = p.min(0)
        x1, y1 = p.max(0)
        top_mid = (int(round(y0)), int(round((x0 + x1) / 2)))
        assert tmap[top_mid] > 0.65  # on the text border: close to thresh_max
        centre = (int((y0 + y1) / 2), int((x0 + x1) / 2))
        assert tmap[centre] < 0.45  # deep inside: towards thresh_min
        assert tmask.sum() > m.sum()  # dilated beyond the polygon
    ignored = poly_mask(tmap.shape, [polys[-1]])
    assert tmask[ignored].max() == 0
    outside = tmap[tmask == 0]
    assert np.mean(np.isclose(outside, 0.3)) > 0.999 and outside.max() < 0.4  # (fillPoly truncation at the rim)


@pytest.mark.parametrize("seed", range(6))
def test_east_random_crop_keeps_text_whole(seed):
    np.random.seed(seed)
    random.seed(seed)
    data = det_sample()
    op = EastRandomCropData(size=[320, 320], max_tries=50, keep_ratio=True)
    out = op({k: (v.copy() if hasattr(v, "copy") else v) for k, v in data.items()})
    img, polys, tags, texts = out["image"], out["polys"], out["ignore_tags"], out["texts"]
    assert img.shape == (320, 320, 3)
    assert polys.shape[1:] == (4, 2) and len(polys) == len(tags) == len(texts)
    assert (~tags).sum() >= 1, "the crop must keep at least one cared-for box"
    valid = np.argwhere(img.sum(2) > 0)
    h, w = valid.max(0) + 1
    original = dict(zip(data["texts"], data["polys"]))
    for p, t, tag in zip(polys, texts, tags):
        assert t in original
        if not tag:  # cared-for boxes are whole: inside the crop, and still cover their text
            assert p[:, 0].min() >= -1 and p[:, 0].max() <= w + 1 and p[:, 1].min() >= -1 and p[:, 1].max() <= h + 1
            assert ink(img)[poly_mask(img.shape, [p])].mean() > 0.05
    # no cared-for text was cut: every ink pixel of the crop lies in a kept box (ignored ones may be cut)
    covered = cv2.dilate(poly_mask(img.shape, polys).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert ink(img)[~covered].sum() <= 3


def test_iaa_augment_moves_polygons_with_text():
    data = det_sample(ignore_last=False)
    before = ink(data["image"])[poly_mask(data["image"].shape, data["polys"])].sum()
    assert before > 0
    op = IaaAugment(augmenter_args=[{"type": "Fliplr", "args": {"p": 1}},
                                    {"type": "Affine", "args": {"rotate": [12, 12], "cval": 255}},
                                    {"type": "Resize", "args": {"size": [0.5, 0.5]}}])
    out = op({"image": data["image"], "polys": data["polys"]})
    img, polys = out["image"], out["polys"]
    assert img.shape[:2] == (data["image"].shape[0] // 2, data["image"].shape[1] // 2)
    assert polys.shape == data["polys"].shape and polys.dtype == np.float32
    boxes = poly_mask(img.shape, polys)
    dark = ink(img)
    assert dark[boxes].mean() > 0.05
    grown = cv2.dilate(boxes.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert dark[~grown].sum() <= 0.02 * dark.sum(), "text left its polygons"
    # the flip mirrored the layout: the first line's box now starts on the right half
    assert polys[0][:, 0].mean() > img.shape[1] / 2


@pytest.fixture(scope="module")
def rec_global():
    return load_config("rec")["Global"]


def test_ctc_label_encode_round_trips_with_decode(rec_global):
    enc = CTCLabelEncode(global_config=rec_global)
    dec = CTCLabelDecode(str(resolve_dict_path({"Global": rec_global}, None)), use_space_char=True)
    assert enc.num_classes == dec.num_classes == 6625
    for text in ["TOTAL 27.30", "Hello", "aab  c", "营业时间9:00"]:
        out = enc({"label": text})
        label, length = out["label"], out["length"]
        assert label.dtype == np.int64 and label.shape == (25,) and length.dtype == np.int64
        assert int(length) == len(text) and label[length:].sum() == 0 and label[:length].min() >= 1
        steps = []
        for idx in label[:length]:  # blank between steps so repeated characters survive the collapse
            steps += [idx, 0]
        preds = np.eye(dec.num_classes, dtype=np.float32)[steps][None]
        assert dec(preds)[0][0] == text
    out = enc({"label": "A\U0001F600B"})  # unknown characters are dropped
    assert int(out["length"]) == 2
    assert enc({"label": "x" * 26}) is None
    assert enc.label_problem("x" * 26).startswith("too long")
    assert enc({"label": "\U0001F600"}) is None and enc.label_problem("\U0001F600") == "no known characters"
    assert enc({"label": ""}) is None


def test_cls_label_encode():
    enc = ClsLabelEncode(global_config={"label_list": ["0", "180"]})
    assert int(enc({"label": "180"})["label"]) == 1 and enc({"label": "90"}) is None


def test_rec_and_cls_resize():
    op = RecResizeImg(image_shape=[3, 32, 320])
    short = render_line("Hi")  # 40 px high
    out = op({"image": short})
    w = int(np.ceil(32 * short.shape[1] / short.shape[0]))
    assert out["image"].shape == (3, 32, 320) and out["image"].dtype == np.float32
    assert np.all(out["image"][:, :, w:] == 0) and np.abs(out["image"][:, :, :w]).max() <= 1
    assert out["valid_ratio"] == pytest.approx(w / 320)
    expect = cv2.resize(short, (w, 32)).astype(np.float32).transpose(2, 0, 1)
    np.testing.assert_allclose(out["image"][:, :, :w], (expect / 255 - 0.5) / 0.5, atol=1e-6)
    wide = render_line("The quick brown fox jumps over the lazy dog")
    out = op({"image": wide})
    assert out["image"].shape == (3, 32, 320) and out["valid_ratio"] == 1.0 and out["image"][:, :, -1].any()
    cls = ClsResizeImg(image_shape=[3, 48, 192])({"image": short})["image"]
    np.testing.assert_array_equal(cls, resize_norm_cls(short, (3, 48, 192)))


def test_rec_aug_and_randaugment_keep_an_image():
    img = render_line("Invoice 0142")
    np.testing.assert_array_equal(warp_mls(img, [[0, 0], [10, 0]], [[0, 0], [10, 0]]), img)  # identity warp
    for seed in range(4):
        np.random.seed(seed)
        random.seed(seed)
        out = RecAug(use_tia=True, aug_prob=1.0)({"image": img.copy()})["image"]
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[1] == img.shape[1]
        assert img.shape[0] - 8 <= out.shape[0] <= img.shape[0]
        out = RandAugment(prob=1.0)({"image": img.copy()})["image"]
        assert out.dtype == np.uint8 and out.shape == img.shape


def test_declared_keys_errors():
    with pytest.raises(KeyError, match=r"KeepKeys.*'imgae'"):
        build_transforms([{"DecodeImage": {"img_mode": "BGR"}}, {"KeepKeys": {"keep_keys": ["imgae", "label"]}}])
    with pytest.raises(KeyError, match=r"MakeShrinkMap.*'polys'"):
        build_transforms([{"DecodeImage": None}, {"MakeShrinkMap": None}, {"DetLabelEncode": None}])
    with pytest.raises(KeyError, match=r"unknown data operator 'DecodeImg'.*DecodeImage"):
        build_transforms([{"DecodeImg": None}])
    with pytest.raises(TypeError, match=r"EastRandomCropData.*max_trys.*max_tries"):
        build_transforms([{"EastRandomCropData": {"max_trys": 3}}])
    ops = build_transforms(load_config("det")["Train"]["dataset"]["transforms"], {})
    assert ops.output_keys == ("image", "threshold_map", "threshold_mask", "shrink_map", "shrink_mask")
