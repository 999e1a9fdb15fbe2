"""The ONNX Runtime path on aarch64 Linux (docs/deploy.md, "ONNX Runtime on ARM"): paddle-pp run by an aarch64
Python under qemu-user (deploy/arm/setup_python.sh) gives the x86 results on the same images.

Skipped when the aarch64 Python is not set up: $PADDLE_PP_AARCH64_PYTHON, or ~/.paddle_pp/aarch64/python.
"""
import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp import PPOCR

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = Path(os.environ.get("PADDLE_PP_AARCH64_PYTHON") or Path.home() / ".paddle_pp" / "aarch64" / "python")
TIMEOUT = 600   # seconds: emulated, a page takes 5 to 30 s
# Run under qemu: OCR the images with the PPOCR options given, print each image's lines as JSON.
SCRIPT = """
import json, platform, sys
from paddle_pp import PPOCR
ocr = PPOCR(**json.loads(sys.argv[1]))
print(json.dumps({"machine": platform.machine(),
                  "pages": [[[r["transcription"], r["score"], r["points"]] for r in ocr(p)] for p in sys.argv[2:]]}))
"""


@pytest.fixture(scope="module")
def aarch64(models_dir):
    if not os.access(LAUNCHER, os.X_OK):
        pytest.skip(f"no aarch64 Python at {LAUNCHER}: bash deploy/arm/setup_python.sh (or set PADDLE_PP_AARCH64_PYTHON)")

    def run(options, images):
        env = dict(os.environ, PYTHONPATH=str(REPO), PADDLE_PP_MODELS=models_dir)
        proc = subprocess.run([str(LAUNCHER), "-c", SCRIPT, json.dumps(options), *map(str, images)],
                              capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.splitlines()[-1])
        assert out["machine"] == "aarch64"
        return out["pages"]

    return run


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arm")
    paths = []
    for name, img in (("receipt.png", fixtures.document()[0]), ("article.png", fixtures.two_column_page()[0])):
        cv2.imwrite(str(folder / name), img)
        paths.append(folder / name)
    return paths


def x86_pages(options, images):
    ocr = PPOCR(**options)
    return [[[r["transcription"], r["score"], r["points"]] for r in ocr(str(p))] for p in images]


@pytest.mark.parametrize("options, score_tol", [
    ({"lang": "en", "reading_order": "columns"}, 1e-3),   # float32 everywhere: the same numbers to rounding
    ({"lang": "en", "slim": True}, 0.2),                  # int8 QDQ recognizer: ARM's int8 kernels round otherwise
])
def test_aarch64_reads_what_x86_reads(aarch64, pages, options, score_tol):
    x86 = x86_pages(options, pages)          # first: it prepares the model cache (the emulated Python has no Paddle)
    arm = aarch64(options, pages)
    for page_arm, page_x86 in zip(arm, x86):
        assert [line[0] for line in page_arm] == [line[0] for line in page_x86]          # texts, in the same order
        assert np.array_equal([line[2] for line in page_arm], [line[2] for line in page_x86])   # boxes, to the pixel
        assert max(abs(a[1] - b[1]) for a, b in zip(page_arm, page_x86)) < score_tol
    assert any("27.30" in line[0] for line in arm[0])


def test_compare_results_names_the_images_and_lines_that_differ(tmp_path, capsys):
    from paddle_pp.tools import compare_results as tool

    def line(text, score, x=0):
        return {"transcription": text, "score": score, "points": [[x, 0], [x + 9, 0], [x + 9, 5], [x, 5]]}

    x86 = {"a.jpg": [line("TOTAL", 0.99), line("27.30", 0.98, 20)], "b.jpg": [line("HI", 0.9)]}
    arm = {"a.jpg": [line("TOTAL", 0.97), line("27.30", 0.98, 20), line("22%", 0.503, 40)], "b.jpg": [line("HI", 0.9)]}
    for name, runs in (("x86.txt", x86), ("arm.txt", arm)):
        (tmp_path / name).write_text("".join(f"{k}\t{json.dumps(v)}\n" for k, v in runs.items()), encoding="utf-8")
    assert tool.main([str(tmp_path / "x86.txt"), str(tmp_path / "arm.txt")]) == 0
    out = capsys.readouterr().out
    assert "a.jpg: {'ref': 2, 'ours': 3, 'exact': 2, 'matched': 2, 'texts': 2} ['+22%']" in out
    assert "2 images, 1 identical; boxes reference 3 / other 4 / exact 3" in out and "b.jpg:" not in out
    (tmp_path / "one.txt").write_text(f"a.jpg\t{json.dumps(x86['a.jpg'])}\n", encoding="utf-8")
    assert tool.main([str(tmp_path / "x86.txt"), str(tmp_path / "one.txt")]) == 2
    assert "images in one run only: b.jpg" in capsys.readouterr().err
    (tmp_path / "bad.txt").write_text("no tab here\n", encoding="utf-8")
    assert tool.main([str(tmp_path / "bad.txt"), str(tmp_path / "arm.txt")]) == 2
    assert "bad.txt:1: not a results line" in capsys.readouterr().err
