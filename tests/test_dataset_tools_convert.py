"""convert.py: ICDAR 2015 ground truth, detection crops, statistics."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from paddle_pp.dataset_tools.convert import (PHONE_FRAME, convert_icdar2015, crop_quad, det_to_crops,
                                             label_statistics, parse_icdar2015_gt, photograph_pages, stack_images)

ROOT = Path(__file__).resolve().parents[1]


def make_icdar_fixture(root: Path) -> None:
    """Two images with gt files in the ICDAR 2015 style (BOM, comma in a transcription, ### boxes) and
    one gt file whose image is missing."""
    (root / "gt").mkdir()
    (root / "ch4_training_images").mkdir()
    for index in (1, 2):
        cv2.imwrite(str(root / "ch4_training_images" / f"img_{index}.jpg"), np.full((60, 80, 3), 255, np.uint8))
    (root / "gt" / "gt_img_1.txt").write_bytes(
        "\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\r\n"
        "493,115,519,115,519,131,493,131,[06]\r\n"
        "374,155,409,155,409,170,374,170,###\r\n".encode("utf-8"))
    (root / "gt" / "gt_img_2.txt").write_text("10,10,50,10,50,30,10,30,9,99,AB\n", encoding="utf-8")
    (root / "gt" / "gt_img_3.txt").write_text("1,1,2,1,2,2,1,2,lost\n", encoding="utf-8")


def test_parse_keeps_commas_and_strips_bom(tmp_path):
    make_icdar_fixture(tmp_path)
    items = parse_icdar2015_gt(tmp_path / "gt" / "gt_img_2.txt")
    assert items == [{"transcription": "9,99,AB", "points": [[10, 10], [50, 10], [50, 30], [10, 30]]}]
    first = parse_icdar2015_gt(tmp_path / "gt" / "gt_img_1.txt")
    assert first[0]["transcription"] == "Genaxis Theatre" and first[2]["transcription"] == "###"


def test_icdar2015_conversion(tmp_path):
    make_icdar_fixture(tmp_path)
    out = tmp_path / "label.txt"
    result = convert_icdar2015(tmp_path / "gt", tmp_path / "ch4_training_images", out)
    assert result["images"] == 2 and result["boxes"] == 4 and result["dont_care"] == 1
    assert len(result["problems"]) == 1 and "img_3" in result["problems"][0]
    lines = out.read_text(encoding="utf-8").splitlines()
    path, label = lines[0].split("\t")
    assert path == "ch4_training_images/img_1.jpg"
    assert json.loads(label)[1] == {"transcription": "[06]", "points": [[493, 115], [519, 115], [519, 131],
                                                                        [493, 131]]}
    assert lines[1].startswith("ch4_training_images/img_2.jpg\t")


def test_icdar2015_command_line(tmp_path):
    make_icdar_fixture(tmp_path)
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "convert.py"), "icdar2015", "--gt_dir",
                             str(tmp_path / "gt"), "--image_dir", str(tmp_path / "ch4_training_images"), "--out",
                             str(tmp_path / "out.txt")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "2 images, 4 boxes (1 '###')" in result.stdout and "img_3" in result.stderr
    (tmp_path / "gt" / "gt_img_2.txt").write_text("10,10,oops\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "convert.py"), "icdar2015", "--gt_dir",
                             str(tmp_path / "gt"), "--image_dir", str(tmp_path / "ch4_training_images"), "--out",
                             str(tmp_path / "out.txt")], capture_output=True, text=True)
    assert result.returncode == 0 and "gt_img_2.txt:1" in result.stderr  # reported; img_1 still converted
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 1


def test_crop_quad_matches_axis_aligned_region():
    image = np.random.default_rng(0).integers(0, 256, (100, 200, 3), dtype=np.uint8)
    crop = crop_quad(image, [[20, 30], [120, 30], [120, 60], [20, 60]])
    assert crop.shape == (30, 100, 3)
    assert np.abs(crop.astype(int) - image[30:60, 20:120].astype(int)).mean() < 1.0
    tall = crop_quad(image, [[10, 10], [30, 10], [30, 90], [10, 90]])
    assert tall.shape[:2] == (20, 80)  # turned like the system turns tall crops


def test_det_to_rec_and_cls_crops(tmp_path):
    image = np.full((80, 160, 3), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    items = [{"transcription": "HELLO", "points": [[10, 10], [90, 10], [90, 30], [10, 30]]},
             {"transcription": "###", "points": [[10, 40], [50, 40], [50, 60], [10, 60]]}]
    (tmp_path / "det.txt").write_text(f"a.png\t{json.dumps(items)}\nmissing.png\t[]\n", encoding="utf-8")
    result = det_to_crops(tmp_path / "det.txt", tmp_path, tmp_path / "out", with_180=True)
    assert result["crops"] == 1 and result["cls_samples"] == 2 and len(result["problems"]) == 1
    rec_lines = (tmp_path / "out" / "label.txt").read_text().splitlines()
    assert len(rec_lines) == 1 and rec_lines[0].endswith("\tHELLO")
    cls_lines = (tmp_path / "out" / "cls_label.txt").read_text().splitlines()
    assert [line.split("\t")[1] for line in cls_lines] == ["0", "180"]


def test_stack_makes_long_images_with_their_labels_moved(tmp_path):
    """Every --group images stacked top to bottom at the narrowest width, each label scaled and moved down with its
    image; a missing image is named and skipped, and the last stack holds what is left."""
    widths = {"a.png": 200, "b.png": 400, "c.png": 200, "d.png": 200}
    lines = []
    for index, (name, width) in enumerate(widths.items()):
        image = np.full((100, width, 3), 255, np.uint8)
        cv2.rectangle(image, (20, 40), (60, 60), (0, 0, 0), -1)
        cv2.imwrite(str(tmp_path / name), image)
        item = {"transcription": f"T{index}", "points": [[20, 40], [60, 40], [60, 60], [20, 60]]}
        lines.append(f"{name}\t{json.dumps([item])}")
    lines.insert(1, "missing.png\t[]")
    (tmp_path / "det.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = stack_images(tmp_path / "det.txt", tmp_path, tmp_path / "long", group=3)
    assert (result["images"], result["pages"]) == (2, 4) and "missing.png" in result["problems"][0]
    labels = [line.split("\t") for line in (tmp_path / "long" / "label.txt").read_text().splitlines()]
    assert [name for name, _ in labels] == ["images/long_000.jpg", "images/long_001.jpg"]
    first = cv2.imread(str(tmp_path / "long" / labels[0][0]))
    assert first.shape[:2] == (100 + 50 + 100, 200)              # b.png scaled to 200 px wide: 50 px high
    items = json.loads(labels[0][1])
    assert [item["transcription"] for item in items] == ["T0", "T1", "T2"]   # the missing one is skipped
    assert [item["points"][0] for item in items] == [[20, 40], [10, 120], [20, 190]]
    for item in items:                                            # each box still lies on its black bar
        (x0, y0), (x1, y1) = item["points"][0], item["points"][2]
        assert first[y0 + 2:y1 - 2, x0 + 2:x1 - 2].max() < 60
    assert [item["transcription"] for item in json.loads(labels[1][1])] == ["T3"]      # what is left
    assert cv2.imread(str(tmp_path / "long" / labels[1][0])).shape[:2] == (100, 200)
    result = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "convert.py"), "stack", "--label_file",
                             str(tmp_path / "det.txt"), "--image_root", str(tmp_path), "--out", str(tmp_path / "two"),
                             "--group", "2"], capture_output=True, text=True)
    assert result.returncode == 0 and "2 long images of 4 labelled ones" in result.stdout, result.stderr
    assert "missing.png" in result.stderr
    across = stack_images(tmp_path / "det.txt", tmp_path, tmp_path / "wide", group=2, across=True)
    name, label = (tmp_path / "wide" / "label.txt").read_text().splitlines()[0].split("\t")
    assert across["images"] == 2 and cv2.imread(str(tmp_path / "wide" / name)).shape[:2] == (100, 200 + 400)
    assert [item["points"][0] for item in json.loads(label)] == [[20, 40], [220, 40]]   # b to the right of a


def test_photograph_puts_each_page_in_a_phone_frame_with_its_labels_moved(tmp_path):
    """Each page in a 3024x4032 frame, `fill` of its height, turned a little: every label's box still lies on its
    black bar, the page's white on the table's colour around it; a missing image is named and skipped; the same
    seed gives the same photos."""
    lines = []
    for name, (h, w) in {"tall.png": (1000, 400), "short.png": (300, 600)}.items():
        image = np.full((h, w, 3), 255, np.uint8)
        cv2.rectangle(image, (50, 100), (250, 140), (0, 0, 0), -1)
        cv2.imwrite(str(tmp_path / name), image)
        lines.append(f"{name}\t" + json.dumps([{"transcription": "BAR", "points": [[50, 100], [250, 100], [250, 140],
                                                                                  [50, 140]]}]))
    lines.append("missing.png\t[]")
    (tmp_path / "det.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = photograph_pages(tmp_path / "det.txt", tmp_path, tmp_path / "photos", fill=0.5)
    assert result["images"] == 2 and "missing.png" in result["problems"][0]
    labels = [line.split("\t") for line in (tmp_path / "photos" / "label.txt").read_text().splitlines()]
    assert [name for name, _ in labels] == ["images/0000_tall.jpg", "images/0001_short.jpg"]
    for (name, label), page_height in zip(labels, (1000, 300)):
        photo = cv2.imread(str(tmp_path / "photos" / name))
        assert photo.shape[:2] == PHONE_FRAME[::-1]
        points = np.array(json.loads(label)[0]["points"])
        centre = points.mean(axis=0).astype(int)
        assert photo[centre[1] - 3:centre[1] + 4, centre[0] - 3:centre[0] + 4].mean() < 40     # on the bar
        scale = np.linalg.norm(points[1] - points[0]) / 200
        assert abs(scale - min(0.5 * 4032 / page_height, 0.9 * 3024 / (400 if page_height == 1000 else 600))) < 0.02
        assert photo[5:50, 5:50].std(axis=(0, 1)).max() < 10 and 40 < photo[5:50, 5:50].mean() < 160   # the table
    again = photograph_pages(tmp_path / "det.txt", tmp_path, tmp_path / "again", fill=0.5)
    assert again["images"] == 2 and (tmp_path / "again" / "label.txt").read_text() == \
        (tmp_path / "photos" / "label.txt").read_text()
    run = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "convert.py"), "photograph", "--label_file",
                          str(tmp_path / "det.txt"), "--image_root", str(tmp_path), "--out", str(tmp_path / "cli"),
                          "--fill", "1.5"], capture_output=True, text=True)
    assert run.returncode != 0 and "--fill" in run.stderr and "Traceback" not in run.stderr


def test_photograph_holds_a_page_at_an_angle_under_a_side_light(tmp_path):
    """--tilt: the page's top edge comes out narrower than its bottom by about that share (a perspective), every
    label's box still on its bar; --light: one side of the frame darker than the other; a value out of range is an
    error naming the flag."""
    image = np.full((1000, 700, 3), 255, np.uint8)
    items = []
    for y in (100, 850):
        cv2.rectangle(image, (50, y), (650, y + 40), (0, 0, 0), -1)
        items.append({"transcription": "BAR", "points": [[50, y], [650, y], [650, y + 40], [50, y + 40]]})
    cv2.imwrite(str(tmp_path / "page.png"), image)
    (tmp_path / "det.txt").write_text("page.png\t" + json.dumps(items) + "\n", encoding="utf-8")
    flat = photograph_pages(tmp_path / "det.txt", tmp_path, tmp_path / "flat", fill=0.8)
    tilted = photograph_pages(tmp_path / "det.txt", tmp_path, tmp_path / "tilted", fill=0.8, tilt=0.2, light=0.5)
    assert flat["images"] == tilted["images"] == 1

    def bars(folder):
        name, label = (tmp_path / folder / "label.txt").read_text().split("\t")
        return cv2.imread(str(tmp_path / folder / name)), [np.array(item["points"]) for item in json.loads(label)]

    photo, (top, bottom) = bars("tilted")
    width = [np.linalg.norm(box[1] - box[0]) for box in (top, bottom)]
    assert 0.75 < width[0] / width[1] < 0.9                      # 0.2 of the page narrower at the top, less here
    for box in (top, bottom):
        centre = box.mean(axis=0).astype(int)
        assert photo[centre[1] - 3:centre[1] + 4, centre[0] - 3:centre[0] + 4].mean() < 40
    flat_photo, (flat_top, flat_bottom) = bars("flat")
    assert abs(np.linalg.norm(flat_top[1] - flat_top[0]) / np.linalg.norm(flat_bottom[1] - flat_bottom[0]) - 1) < 0.01
    corners = [photo[:40, :40], photo[:40, -40:], photo[-40:, :40], photo[-40:, -40:]]   # the table, lit unevenly
    flat_corners = [flat_photo[:40, :40], flat_photo[:40, -40:], flat_photo[-40:, :40], flat_photo[-40:, -40:]]
    assert np.ptp([c.mean() for c in corners]) > 15 > np.ptp([c.mean() for c in flat_corners])
    for flag, value in (("--tilt", "0.6"), ("--light", "1")):
        run = subprocess.run([sys.executable, str(ROOT / "dataset_tools" / "convert.py"), "photograph",
                              "--label_file", str(tmp_path / "det.txt"), "--image_root", str(tmp_path), "--out",
                              str(tmp_path / "cli"), flag, value], capture_output=True, text=True)
        assert run.returncode != 0 and flag in run.stderr and "Traceback" not in run.stderr


def test_label_statistics_against_dictionary(tmp_path):
    (tmp_path / "rec.txt").write_text("a.jpg\tAB1\nb.jpg\tA€\n", encoding="utf-8")
    stats = label_statistics([tmp_path / "rec.txt"], ["A", "B", "1"], det=False)
    assert stats["missing"] == {"€": 1}
    assert stats["lengths"] == {3: 1, 2: 1}
