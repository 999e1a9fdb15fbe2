"""paddle-pp batch: the listing, pages (PDFs, multi-page TIFFs), parts and resume by (input, page) without Ray;
then real jobs, each bounded in time: local Ray (2 CPUs, documents and word boxes among the inputs), a 2-node
cluster on this machine (tasks on both nodes), a worker killed mid-job, a driver killed and re-run. Every job's
output is counted against its inputs: each (input, page) exactly once."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp.batch import inputs as batch_inputs
from paddle_pp.batch import shards as batch_shards
from paddle_pp.utils.image_io import ImageOptions

JOB_TIMEOUT = 300   # seconds any one job may take on a busy 2-core machine


def text_image(path: Path, text: str, width: int = 360) -> Path:
    image = np.full((80, width, 3), 255, np.uint8)
    cv2.putText(image, text, (12, 52), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return path


def multipage_tiff(path: Path) -> Path:
    from PIL import Image

    pages = [Image.new("RGB", (40, 30), "white") for _ in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def three_page_pdf(path: Path, password=None) -> Path:
    """Two pages of text, then a blank one (fixtures.text_pdf, upright)."""
    return fixtures.text_pdf(path, pages=fixtures.PDF_PAGE_LINES[:2], rotate=(0, 0), turned=(False, False),
                             password=password)


def two_frame_tiff(path: Path) -> Path:
    img, _ = fixtures.document((320, 200))
    return fixtures.multipage_tiff(path, [img, img])


def make_inputs(folder: Path, images: int, bad: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        text_image(folder / f"img{i:02d}.png", f"BATCH {i}")
    if bad:
        (folder / "bad.png").write_bytes(b"not an image at all")
        (folder / "empty.jpg").write_bytes(b"")
        (folder / "doc.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        multipage_tiff(folder / "fax.tif")
        text_image(folder / "wide.png", "TOO WIDE", width=4000)   # over the --max_pixels of the test
    return folder


def batch(args, env=None, timeout=JOB_TIMEOUT):
    return subprocess.run([sys.executable, "-m", "paddle_pp.cli", "batch", "--no_progress", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def summary_of(output: Path) -> dict:
    return json.loads((output / batch_shards.SUMMARY_FILE).read_text())


def assert_exactly_once(output: Path, sources, pages=None) -> list:
    """Every (source, page) once: an image is page 1; `pages` gives documents' page numbers ({name: [..]})."""
    rows = batch_shards.read_rows(str(output))
    counts = collections.Counter((row["source"], row["page"]) for row in rows)
    pages = pages or {}
    assert sorted(counts) == sorted((name, page) for name in sources for page in pages.get(name, [1]))
    assert set(counts.values()) == {1}
    return rows


# ---------------------------------------------------------------- without Ray

def test_pages_of_reads_images_and_documents_page_by_page(tmp_path):
    png = text_image(tmp_path / "a.png", "HI").read_bytes()
    [page] = list(batch_inputs.pages_of(png, "a.png", 0))
    assert (page.number, page.page_id, page.error) == (1, "a.png", None) and page.image.shape == (80, 360, 3)
    pdf = three_page_pdf(tmp_path / "d.pdf")
    for source in (str(pdf), pdf.read_bytes()):   # a local path (read lazily) or bytes
        pages = list(batch_inputs.pages_of(source, "d.pdf", 0, pdf_dpi=72))
        assert [(p.number, p.page_id) for p in pages] == [(n, f"d.pdf#page={n}") for n in (1, 2, 3)]
        assert all(p.error is None and p.image.shape == (300, 420, 3) for p in pages)
    # --pages as in paddle-pp ocr; skip: pages a killed run committed, not read again
    assert [p.number for p in batch_inputs.pages_of(str(pdf), "d.pdf", 0, 72, pages="2-")] == [2, 3]
    assert [p.number for p in batch_inputs.pages_of(str(pdf), "d.pdf", 0, 72, skip={1, 3})] == [2]
    tiff = [p.page_id for p in batch_inputs.pages_of(str(two_frame_tiff(tmp_path / "f.tif")), "f.tif", 0)]
    assert tiff == ["f.tif#page=1", "f.tif#page=2"]
    locked = three_page_pdf(tmp_path / "locked.pdf", password="pw")
    [denied] = list(batch_inputs.pages_of(str(locked), "locked.pdf", 0, 72))
    assert (denied.number, denied.page_id, type(denied.error).__name__) == (0, "locked.pdf", "PDFPasswordError")
    assert len(list(batch_inputs.pages_of(str(locked), "locked.pdf", 0, 72, pdf_password="pw"))) == 3
    [corrupt] = list(batch_inputs.pages_of(b"%PDF-1.4\n%%EOF\n", "c.pdf", 0))
    assert (corrupt.number, type(corrupt.error).__name__) == (0, "DocumentReadError")
    [big] = list(batch_inputs.pages_of(png, "a.png", 100))
    assert type(big.error).__name__ == "ImageTooLargeError" and big.image is None and big.number == 1
    [bad] = list(batch_inputs.pages_of(b"junk", "b.png", 0))
    assert type(bad.error).__name__ == "ImageReadError"


def test_list_inputs_directory_glob_and_manifest(tmp_path):
    folder = make_inputs(tmp_path / "in", 2)
    (folder / "notes.txt").write_text("not an input")
    (folder / "sub").mkdir()
    text_image(folder / "sub" / "c.jpg", "C")
    _, found, problems = batch_inputs.list_inputs(str(folder))
    assert [i.source for i in found] == ["img00.png", "img01.png", "sub/c.jpg"] and problems == []
    _, globbed, _ = batch_inputs.list_inputs(str(folder / "*.png"))
    assert [i.source for i in globbed] == ["img00.png", "img01.png"]
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# inputs\nin/img01.png\n{folder / 'sub' / 'c.jpg'}\nin/missing.png\nin/img01.png\n")
    _, listed, problems = batch_inputs.list_inputs(str(manifest))
    assert [Path(i.path).name for i in listed] == ["img01.png", "c.jpg"]
    assert len(problems) == 1 and "missing.png" in problems[0]
    with pytest.raises(FileNotFoundError):
        batch_inputs.list_inputs(str(tmp_path / "nothing"))


def test_key_changes_with_the_file_unless_hashed(tmp_path):
    path = text_image(tmp_path / "a.png", "A")
    _, [before], _ = batch_inputs.list_inputs(str(path))
    _, [hashed], _ = batch_inputs.list_inputs(str(path), content_hash=True)
    os.utime(path, ns=(before.mtime_ns + 10**9, before.mtime_ns + 10**9))
    _, [touched], _ = batch_inputs.list_inputs(str(path))
    _, [touched_hashed], _ = batch_inputs.list_inputs(str(path), content_hash=True)
    assert touched.key != before.key            # path + size + mtime: a touched file is new
    assert touched_hashed.key == hashed.key     # --hash: same bytes, same input
    assert hashed.content_hash.startswith("sha256:")


def _item(name: str) -> batch_inputs.InputFile:
    return batch_inputs.InputFile(f"/x/{name}", name, 1, 1, batch_inputs.input_key(f"/x/{name}", 1, 1))


def test_plan_skips_committed_and_keeps_shard_names(tmp_path):
    items = [_item(f"{i}.png") for i in range(5)]
    first = batch_shards.plan_shards(items, {}, 2)
    assert [[i.source for i in s.inputs] for s in first] == [["0.png", "1.png"], ["2.png", "3.png"], ["4.png"]]
    again = batch_shards.plan_shards(items, {items[0].key: "s", items[2].key: "s"}, 2)
    assert [[i.source for i in s.inputs] for s in again] == [["1.png"], ["3.png"], ["4.png"]]
    # a re-run of an unchanged listing cuts the same shards, named by their whole chunk: a straggler of the
    # killed run (or a retried task) writes the same part names, never new ones that overlap
    assert [s.id for s in again] == [s.id for s in first]


def test_summary_counts_what_the_run_committed_not_the_rows_it_received(monkeypatch):
    """An actor killed after committing a part, before its row reached the driver: the retry skips the part and
    sends no row for it. The summary counts the part anyway, from the manifests."""
    from paddle_pp.batch import run as batch_run

    items = [_item(f"{i}.pdf") for i in range(3)]
    before = batch_shards.Committed()
    before.add({"part": "p0", "rows": 2, "inputs": [{"key": items[0].key, "pages": [1, 2]},
                                                     {"key": items[1].key, "pages": [1], "complete": False}]})
    after = batch_shards.Committed()
    for manifest in ({"part": "p0", "rows": 2, "inputs": [{"key": items[0].key, "pages": [1, 2]},
                                                          {"key": items[1].key, "pages": [1], "complete": False}]},
                     {"part": "p1", "rows": 4, "inputs": [{"key": items[1].key, "pages": [2, 3]},
                                                          {"key": items[2].key, "pages": [1, 2]}]}):
        after.add(manifest)
    monkeypatch.setattr(batch_run, "committed_inputs", lambda *args: after)
    lost_row = dict(batch_run._empty_tally(), seconds=1.0)       # the driver received no row of part p1
    summary = batch_run._summarize(items, 2, lost_row, before, None, "out", "parquet", 1.0, [])
    assert (summary["processed_inputs"], summary["pages"], summary["skipped_committed"]) == (2, 4, 1)
    assert (summary["missing"], summary["duplicates"], summary["pages_per_s"]) == (0, 0, 4.0)


def _row(item, page=1, **extra):
    row = {name: None for name in batch_shards.SCHEMA.names}
    row.update(source=item.source, input_key=item.key, page=page, page_id=item.source, lines=[
        {"text": "HI", "score": 0.9, "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}], text="HI", path=item.path)
    row.update(extra)
    return row


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parts_commit_and_resume_without_a_manifest(tmp_path, fmt):
    from pyarrow import fs as pafs

    fs, out = pafs.LocalFileSystem(), str(tmp_path / "out")
    assert batch_shards.check_format(fs, out, fmt) is None
    a, b, c = _item("a.png"), _item("b.pdf"), _item("c.png")
    entry = batch_shards.manifest_entry
    batch_shards.write_part(fs, out, "s1-00000", [entry(a, [1]), entry(b, [1, 2])],
                            [_row(a), _row(b), _row(b, page=2)], fmt)
    batch_shards.write_part(fs, out, "s2-00000", [entry(c, [1])],
                            [_row(c, error="c.png: bad", error_type="ImageReadError")], fmt)
    (tmp_path / "out" / batch_shards.MANIFESTS / "s2-00000.json").unlink()      # died between the two renames
    (tmp_path / "out" / ".part-s3-00000.parquet.x.tmp").write_bytes(b"half")    # died while writing
    assert batch_shards.remove_stale_temporaries(fs, out) == 1
    committed = batch_shards.committed_inputs(fs, out, fmt)
    assert committed.complete == {a.key: "s1-00000", b.key: "s1-00000"}
    # the rebuilt manifest cannot know whether its last input had more pages: it is not complete, its page is
    assert committed.pages[c.key] == {1} and (committed.rows, committed.duplicates) == (4, 0)
    assert (tmp_path / "out" / batch_shards.MANIFESTS / "s2-00000.json").is_file()   # rebuilt from the part
    assert [m["part"] for m in batch_shards.shard_parts(fs, out, "s1", fmt)] == ["s1-00000"]
    rows = batch_shards.read_rows(out)
    assert sorted((r["source"], r["page"]) for r in rows) == [("a.png", 1), ("b.pdf", 1), ("b.pdf", 2), ("c.png", 1)]
    assert rows[0]["lines"][0]["points"] == [[0, 0], [1, 0], [1, 1], [0, 1]]
    other = "jsonl" if fmt == "parquet" else "parquet"
    assert "--format " + fmt in batch_shards.check_format(fs, out, other)
    settings = tmp_path / "out" / batch_shards.SETTINGS_FILE   # an older version's output: no angle column
    older = [name for name in batch_shards.SCHEMA.names if name != "angle"]
    settings.write_text(json.dumps({"format": fmt, "schema": older}))
    assert "other columns (differing: angle)" in batch_shards.check_format(fs, out, fmt)


class _FakeOcr:
    """What the worker needs of PPOCR, without models: one line with two words a page."""
    pdf_dpi, return_word_box = 72.0, True

    def ocr_results(self, image):
        from paddle_pp.pipeline import OCRResult, OCRWord, PageLines

        words = [OCRWord([[x, 0], [x + 5, 0], [x + 5, 4], [x, 4]], w, 0.9) for w, x in (("AB", 0), ("CD", 6))]
        return PageLines([OCRResult([[0, 0], [11, 0], [11, 4], [0, 4]], "AB CD", 0.95, words)])

    def page_angle(self, read):
        return None  # use_doc_orientation_classify off


def _worker(out: Path, fmt: str):
    from pyarrow import fs as pafs

    from paddle_pp.batch.worker import OcrShardWorker

    worker = OcrShardWorker.__new__(OcrShardWorker)   # no PPOCR: the fake gives every page one line
    worker.ocr, worker.max_pixels, worker.pages, worker.pdf_password, worker.fmt = _FakeOcr(), 0, None, None, fmt
    worker.image = ImageOptions()
    worker.out_fs, worker.output, worker.in_fs = pafs.LocalFileSystem(), str(out), pafs.LocalFileSystem()
    worker.models, worker.version, worker.node_id = "fake", "0", "local"
    return worker


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_document_is_committed_in_parts_and_resumed_by_page(tmp_path, fmt):
    from pyarrow import fs as pafs

    folder = tmp_path / "in"
    folder.mkdir()
    text_image(folder / "a.png", "A")
    three_page_pdf(folder / "b.pdf")
    two_frame_tiff(folder / "c.tif")
    _, items, _ = batch_inputs.list_inputs(str(folder))
    out = tmp_path / "out"
    fs = pafs.LocalFileSystem()
    batch_shards.check_format(fs, str(out), fmt)
    [shard] = batch_shards.plan_shards(items, {}, 4)
    task = {"inputs": [item.to_dict() for item in shard.inputs], "done": {}, "part_pages": 2}
    parts = _worker(out, fmt).run_shard(shard.id, task)
    first = next(parts)        # a.png, b.pdf#1 committed; then the actor dies (the generator is dropped)
    assert [(e["source"], e["pages"], e["complete"]) for e in first["inputs"]] == [("a.png", [1], True),
                                                                                  ("b.pdf", [1], False)]
    del parts
    committed = batch_shards.committed_inputs(fs, str(out), fmt)
    assert set(committed.complete) == {items[0].key}
    # the retry (or a re-run) of the same shard reads its committed parts and goes on at the next one
    rest = list(_worker(out, fmt).run_shard(shard.id, task))
    assert [m["part"] for m in rest] == [f"{shard.id}-0000{n}" for n in (1, 2)]
    rows = assert_exactly_once(out, ["a.png", "b.pdf", "c.tif"], {"b.pdf": [1, 2, 3], "c.tif": [1, 2]})
    assert max(len([r for r in rows if r["page_id"] == p]) for p in {r["page_id"] for r in rows}) == 1
    committed = batch_shards.committed_inputs(fs, str(out), fmt)
    assert set(committed.complete) == {item.key for item in items} and committed.duplicates == 0
    assert committed.pages[items[1].key] == {1, 2, 3}
    pdf_row = next(r for r in rows if r["page_id"] == "b.pdf#page=2")
    assert [(w["text"], w["line"]) for w in pdf_row["words"]] == [("AB", 0), ("CD", 0)]
    assert pdf_row["words"][1]["points"] == [[6, 0], [11, 0], [11, 4], [6, 4]]
    # a shard done again with everything committed writes nothing more
    assert list(_worker(out, fmt).run_shard(shard.id, task)) == []


def test_without_ray_the_command_says_how_to_install_it(monkeypatch, capsys):
    import paddle_pp.batch.cli as cli

    monkeypatch.setattr(cli, "ray_available", lambda: "paddle-pp batch needs Ray: pip install 'paddle-pp[batch]'")
    assert cli.main(["--input", "x", "--output", "y"]) == cli.EXIT_USAGE
    assert "pip install 'paddle-pp[batch]'" in capsys.readouterr().err


def test_batch_takes_the_ocr_flags():
    from paddle_pp.batch.cli import build_parser, ocr_options

    args = build_parser().parse_args(["--input", "i", "--output", "o", "--lang", "en", "--det_db_thresh", "0.4",
                                      "--cpu_threads", "2", "--pdf_dpi", "150", "--pages", "1-3,7",
                                      "--pdf_password", "pw", "--return_word_box", "true", "--as_paddleocr", "true"])
    options = ocr_options(args)
    assert options["lang"] == "en" and options["det_db_thresh"] == 0.4 and "cpu_threads" not in options
    assert options["as_paddleocr"] is True and options["reading_order"] is None
    assert options["pdf_dpi"] == 150 and options["return_word_box"] is True
    assert (args.pages, args.pdf_password) == ("1-3,7", "pw")
    image = build_parser().parse_args(["--input", "i", "--output", "o", "--invert", "true", "--alphacolor", "0,0,0"])
    assert (image.invert, image.binarize, image.alphacolor) == (True, False, [0, 0, 0])   # PaddleOCR's image options
    paddleocr = build_parser().parse_args(["--input", "i", "--output", "o", "--page_num", "2", "--use_onnx", "false"])
    assert paddleocr.pages == "1-2" and ocr_options(paddleocr)["engine"] == "paddle"  # PaddleOCR's flags
    for wrong in (["--image_dir", "x"], ["--output_format", "txt"], ["--pages", "3-1"],
                  ["--save_crop_res", "true"], ["--crop_res_save_dir", "c"], ["--draw_img_save_dir", "d"],
                  ["--det", "false"], ["--rec", "false"], ["--use_mp", "true"]):   # one ocr run's shape
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--input", "i", "--output", "o", *wrong])


# ---------------------------------------------------------------- real jobs

@pytest.fixture
def job_env(models_dir):
    pytest.importorskip("ray")
    from paddle_pp.batch.local_cluster import cluster_env

    return cluster_env(dict(os.environ, PADDLE_PP_MODELS=models_dir))


def mixed_size_pdf(path: Path) -> Path:
    """Three blank pages, the middle one far over any pixel limit (2000 x 2000 points)."""
    import pikepdf

    pdf = pikepdf.new()
    for size in (200, 2000, 200):
        pdf.add_blank_page(page_size=(size, size))
    pdf.save(str(path))
    return path


def test_local_ray_documents_bad_inputs_and_words_are_rows_and_a_rerun_does_nothing(tmp_path, job_env):
    folder = make_inputs(tmp_path / "in", 3, bad=True)
    three_page_pdf(folder / "three.pdf")                          # two pages of text, then a blank one
    three_page_pdf(folder / "locked.pdf", password="secret")      # encrypted, no --pdf_password
    two_frame_tiff(folder / "scan.tif")
    mixed_size_pdf(folder / "mixed.pdf")                          # page 2 alone is too large
    out = tmp_path / "out"
    args = ["--input", str(folder), "--output", str(out), "--format", "jsonl", "--num_cpus", "2",
            "--shard_size", "3", "--max_pixels", "300000", "--pdf_dpi", "100", "--return_word_box", "true",
            "--lang", "en"]
    first = batch(args, job_env)
    assert first.returncode == 1, first.stderr[-2000:]   # some pages failed: exit 1, as paddle-pp ocr
    sources = sorted(p.name for p in folder.iterdir())
    documents = {"doc.pdf": [0], "locked.pdf": [0], "fax.tif": [1, 2, 3], "three.pdf": [1, 2, 3],
                 "scan.tif": [1, 2], "mixed.pdf": [1, 2, 3]}
    rows = assert_exactly_once(out, sources, documents)
    by_id = {r["page_id"]: r for r in rows}
    for i in range(3):
        image = by_id[f"img{i:02d}.png"]
        assert image["error"] is None and image["width"] == 360 and image["page"] == 1
        assert "BATCH" in image["text"].replace(" ", "").upper()
    page1 = by_id["three.pdf#page=1"]
    assert page1["error"] is None and (page1["width"], page1["height"]) == (584, 417)   # 420x300 pt at 100 dpi
    assert "TOTAL" in page1["text"].upper()
    assert by_id["three.pdf#page=3"]["lines"] == [] and by_id["three.pdf#page=3"]["error"] is None   # blank
    assert all(row["angle"] is None for row in rows)   # not asked for (--use_doc_orientation_classify)
    # words: every line's words, each pointing at its line, in order
    assert page1["words"] and {w["line"] for w in page1["words"]} == set(range(len(page1["lines"])))
    for index, line in enumerate(page1["lines"]):
        assert [w["text"] for w in page1["words"] if w["line"] == index] == line["text"].split()
    causes = {page_id: by_id[page_id]["error_type"] for page_id in
              ("bad.png", "empty.jpg", "doc.pdf", "wide.png", "locked.pdf", "mixed.pdf#page=2")}
    assert causes == {"bad.png": "ImageReadError", "empty.jpg": "ImageReadError", "doc.pdf": "DocumentReadError",
                      "wide.png": "ImageTooLargeError", "locked.pdf": "PDFPasswordError",
                      "mixed.pdf#page=2": "ImageTooLargeError"}
    assert by_id["mixed.pdf#page=1"]["error"] is None and by_id["mixed.pdf#page=3"]["error"] is None
    assert all(by_id[p]["error"] is None for p in ("fax.tif#page=3", "scan.tif#page=2"))
    summary = summary_of(out)
    assert summary["failures_by_cause"] == {"ImageReadError": 2, "DocumentReadError": 1, "ImageTooLargeError": 2,
                                            "PDFPasswordError": 1}
    assert (summary["processed_inputs"], summary["pages"], summary["missing"], summary["duplicates"]) == \
        (12, 19, 0, 0)
    assert summary["dataset_rows"] == 19 and "rec=rec_en" in by_id["img00.png"]["models"]

    again = batch(args, job_env, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "12 already committed" in again.stderr and summary_of(out)["processed_inputs"] == 0
    assert_exactly_once(out, sources, documents)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two Ray nodes of 1 CPU each on this machine, stopped at the end even when a test fails."""
    pytest.importorskip("ray")
    from paddle_pp.batch.local_cluster import cluster_env, two_node_cluster

    cache = os.environ.get("PADDLE_PP_TEST_MODELS") or str(tmp_path_factory.mktemp("models"))
    env = cluster_env(dict(os.environ, PADDLE_PP_MODELS=cache))  # each node's own cache (one machine: one path)
    with two_node_cluster(env) as address:
        yield address, env


def test_cluster_job_runs_on_both_nodes(tmp_path, cluster):
    address, env = cluster
    folder = make_inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    run = batch(["--input", str(folder), "--output", str(out), "--address", address, "--shard_size", "1",
                 "--lang", "en", "--use_doc_orientation_classify", "true"], env)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = assert_exactly_once(out, [f"img{i:02d}.png" for i in range(6)])
    assert [row["angle"] for row in rows] == [0] * 6     # upright pages, asked: 0 (null when not asked)
    assert len({row["node_id"] for row in rows}) == 2     # both nodes did some of it
    assert len(summary_of(out)["pages_by_node"]) == 2


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_worker_killed_mid_job_loses_and_duplicates_nothing(tmp_path, cluster):
    from paddle_pp.batch.worker import ANNOUNCE_ENV

    address, env = cluster
    folder = make_inputs(tmp_path / "in", 6)
    out, announce = tmp_path / "out", tmp_path / "announce"
    announce.mkdir()
    driver = subprocess.Popen([sys.executable, "-m", "paddle_pp.cli", "batch", "--no_progress", "--input",
                               str(folder), "--output", str(out), "--address", address, "--shard_size", "2",
                               "--lang", "en"], env=dict(env, **{ANNOUNCE_ENV: str(announce)}),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: any(announce.iterdir()), JOB_TIMEOUT, "an actor to start a shard")
        victim = int(sorted(announce.iterdir())[0].name)
        os.kill(victim, signal.SIGKILL)                     # mid-shard: it has not committed it
        stdout, stderr = driver.communicate(timeout=JOB_TIMEOUT)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, stderr[-2000:]
    assert_exactly_once(out, [f"img{i:02d}.png" for i in range(6)])
    pids = {p.name for p in announce.iterdir()}
    assert str(victim) in pids and len(pids) >= 2          # the shard was redone by another (or restarted) actor
    summary = summary_of(out)
    assert (summary["processed_inputs"], summary["missing"], summary["duplicates"]) == (6, 0, 0)


def test_driver_killed_then_rerun_does_only_the_rest(tmp_path, cluster):
    address, env = cluster
    folder = make_inputs(tmp_path / "in", 8)
    three_page_pdf(folder / "a.pdf")    # first in the listing: the kill most likely falls inside it
    out = tmp_path / "out"
    args = ["--input", str(folder), "--output", str(out), "--address", address, "--shard_size", "1",
            "--actors", "1", "--pdf_dpi", "72", "--lang", "en"]
    driver = subprocess.Popen([sys.executable, "-m", "paddle_pp.cli", "batch", "--no_progress", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait(lambda: any(out.glob("part-*.parquet")), JOB_TIMEOUT, "the first committed shard")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)               # kill -9 of the driver (its own process group)
        driver.wait()
    rerun = batch(args, env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = summary_of(out)
    # what the killed run committed is kept, part by part (a.pdf's first pages too), and only the rest is done
    assert summary["pages"] < 11 and summary["dataset_rows"] == 11
    assert summary["skipped_committed"] + summary["processed_inputs"] == 9
    assert (summary["missing"], summary["duplicates"]) == (0, 0)
    assert_exactly_once(out, ["a.pdf"] + [f"img{i:02d}.png" for i in range(8)], {"a.pdf": [1, 2, 3]})


class _TurnedPageOcr(_FakeOcr):
    """A page read turned upright by 90 degrees: two lines of one upright row, whose points in the page as given
    are one above the other (the row runs bottom to top)."""

    def ocr_results(self, image):
        from paddle_pp.pipeline import OCRResult, PageLines

        label = OCRResult([[0, 99], [0, 60], [9, 60], [9, 99]], "TOTAL", 0.9)    # upright: left of the row
        value = OCRResult([[0, 39], [0, 0], [9, 0], [9, 39]], "27.30", 0.9)      # upright: right of it
        return PageLines([label, value], angle=90)

    def page_angle(self, read):
        return read.angle


class _SeeingOcr(_FakeOcr):
    """The fake that keeps the images it was given."""

    def __init__(self):
        self.seen = []

    def ocr_results(self, image):
        self.seen.append(image.copy())
        return super().ocr_results(image)


def test_image_options_decode_over_their_colour_and_adjust_what_is_read(tmp_path):
    """--alphacolor is the ground a transparent PNG is decoded over; --invert and --binarize change what the
    models read, and the row's size is the page's."""
    img, _ = fixtures.document()
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "logo.png"), fixtures.white_text_on_transparency(img))
    worker = _worker(tmp_path / "out", "jsonl")
    worker.ocr = _SeeingOcr()
    worker.image = ImageOptions(invert=True, binarize=True, alphacolor=(0, 0, 0))
    _, [item], _ = batch_inputs.list_inputs(str(folder))
    [row] = list(worker.rows_of(item, set()))
    assert row["error"] is None and (row["height"], row["width"]) == img.shape[:2]
    [seen] = worker.ocr.seen
    assert set(np.unique(seen).tolist()) == {0, 255}                      # binarized
    assert seen[5, 5].tolist() == [255, 255, 255]                         # the black ground, inverted
    expected = cv2.threshold(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    assert np.mean(seen[:, :, 0] == expected) > 0.99                      # the page as dark text on white
    worker.ocr.seen.clear()
    worker.image = ImageOptions()
    list(worker.rows_of(item, set()))
    assert worker.ocr.seen[0].min() == 255                                # over white: nothing left to read


def test_run_batch_refuses_a_bad_alphacolor(tmp_path):
    from paddle_pp.batch.run import BatchError, run_batch

    with pytest.raises(BatchError, match="alpha_color must be three integers"):
        run_batch(str(tmp_path), str(tmp_path / "out"), alphacolor=[0, 0])


def test_a_page_turned_upright_gives_the_text_rows_of_the_upright_page(tmp_path):
    from paddle_pp.batch.inputs import PageImage

    worker = _worker(tmp_path / "out", "jsonl")
    worker.ocr = _TurnedPageOcr()
    row = worker._ocr_page({}, PageImage(1, "a.png", np.zeros((100, 10, 3), np.uint8)), 0.0)
    assert row["text"] == "TOTAL\t27.30"                 # one row, as upright; not a line each
    assert row["angle"] == 90
    assert row["lines"][0]["points"] == [[0, 99], [0, 60], [9, 60], [9, 99]]    # in the page as given
