"""Documents: the same answer from an image and from a PDF of it, the choice of --pdf_dpi, and speed and memory.

    paddle-pp bench_docs agreement --label_file /work/shared/data/sroie_dev/det_val_label.txt \\
        --data_dir /work/shared/data/sroie_dev --native_dpi 300 --dpis 150,200,300
    paddle-pp bench_docs speed --label_file ... --data_dir ... --pages 20        # pages/s at the default DPI
    paddle-pp bench_docs speed --label_file ... --data_dir ... --pages 500       # peak RSS as pages go by

`agreement` wraps each scanned image, as it is (its JPEG bytes, no re-encoding), into a PDF page at
`--native_dpi` (the scan's resolution: SROIE receipts are ~900 px across ~80 mm of paper, about 300 dpi), reads
the PDF back at each DPI of `--dpis` and compares with the image's own results: pages whose text is identical,
lines (matched by box overlap) with identical text, the pages' text similarity, and against the labels the share
of labelled lines read exactly (spaces ignored), with the seconds a page takes (render + OCR).

`speed` builds a PDF of `--pages` pages from the images (repeated as needed), OCRs it page by page through
PPOCR.pages at --pdf_dpi, and reports pages per second and the peak resident memory after 10%, 50% and 100% of
the pages: flat when a document is never held whole. The generated PDFs go to a temporary directory.
"""
from __future__ import annotations

import argparse
import difflib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def _labelled_images(label_file: Path, data_dir: Path, limit: Optional[int]) -> List[tuple]:
    rows = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        name, labels = line.split("\t", 1)
        rows.append((data_dir / name, [item["transcription"] for item in json.loads(labels)
                                       if item["transcription"] not in ("###", "*")]))
    return rows[:limit] if limit else rows


def scans_to_pdf(images: Sequence[Path], path: Path, dpi: float, pages: Optional[int] = None) -> Path:
    """A PDF with one page per JPEG file, embedded as it is, at `dpi` (repeated up to `pages` pages)."""
    import pikepdf
    from PIL import Image

    pdf = pikepdf.new()
    streams = {}
    count = pages or len(images)
    for index in range(count):
        image = images[index % len(images)]
        if image not in streams:
            with Image.open(image) as img:
                width, height = img.size
                gray = img.mode == "L"
            streams[image] = (pdf.make_indirect(pikepdf.Stream(
                pdf, image.read_bytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=width,
                Height=height, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode,
                ColorSpace=pikepdf.Name.DeviceGray if gray else pikepdf.Name.DeviceRGB)), width, height)
        stream, width, height = streams[image]
        w_pt, h_pt = width * 72.0 / dpi, height * 72.0 / dpi
        page = pdf.add_blank_page(page_size=(w_pt, h_pt))
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
        page.obj.Contents = pdf.make_stream(f"q {w_pt:.4f} 0 0 {h_pt:.4f} 0 0 cm /Im0 Do Q".encode())
    pdf.save(str(path))
    return path


def _squash(text: str) -> str:
    return "".join(text.split())


def _box(points: Any, scale: float = 1.0) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2) * scale
    return np.concatenate([arr.min(axis=0), arr.max(axis=0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_lines(reference: List[Dict], other: List[Dict], scale: float) -> tuple:
    """(lines of `other` whose best-overlapping `reference` line (IoU >= 0.5) has the same text, lines in
    the larger of the two): `other`'s boxes are scaled by `scale` into the reference's pixels."""
    ref_boxes = [_box(r["points"]) for r in reference]
    matched = 0
    for line in other:
        box = _box(line["points"], scale)
        ious = [_iou(box, ref) for ref in ref_boxes]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= 0.5 and _squash(reference[best]["transcription"]) == _squash(line["transcription"]):
            matched += 1
    return matched, max(len(reference), len(other))


def _page_text(lines: List[Dict]) -> str:
    return "\n".join(_squash(line["transcription"]) for line in lines)


def _label_recall(lines: List[Dict], labels: List[str]) -> tuple:
    found = {_squash(line["transcription"]) for line in lines}
    return sum(_squash(t) in found for t in labels), len(labels)


def agreement(args: argparse.Namespace, ocr: Any) -> Dict[str, Any]:
    from paddle_pp.utils.image_io import read_image

    rows = _labelled_images(Path(args.label_file), Path(args.data_dir), args.limit)
    work = Path(tempfile.mkdtemp(prefix="bench_docs_"))
    pdf = scans_to_pdf([path for path, _ in rows], work / "scans.pdf", args.native_dpi)
    report: Dict[str, Any] = {"pages": len(rows), "native_dpi": args.native_dpi, "runs": {}}
    image_results, seconds = [], []
    for path, _ in rows:
        start = time.perf_counter()
        image_results.append(ocr.ocr_image(read_image(path)))
        seconds.append(time.perf_counter() - start)
    report["runs"]["image"] = _summary(image_results, image_results, [l for _, l in rows], seconds, 1.0)
    for dpi in args.dpis:
        ocr.pdf_dpi = float(dpi)
        results, seconds = [], []
        pages = ocr.pages(str(pdf))
        while True:
            start = time.perf_counter()
            page = next(pages, None)
            if page is None:
                break
            seconds.append(time.perf_counter() - start)
            if page.error is not None:
                raise page.error
            results.append(page.lines)
        report["runs"][f"pdf@{dpi:g}"] = _summary(image_results, results, [l for _, l in rows], seconds,
                                                  args.native_dpi / float(dpi))
        print(json.dumps({f"pdf@{dpi:g}": report["runs"][f"pdf@{dpi:g}"]}), file=sys.stderr)
    return report


def _summary(reference: List[List[Dict]], results: List[List[Dict]], labels: List[List[str]],
             seconds: List[float], scale: float) -> Dict[str, Any]:
    same_pages = sum(_page_text(a) == _page_text(b) for a, b in zip(reference, results))
    matched = total = 0
    similarity = []
    for a, b in zip(reference, results):
        m, t = same_lines(a, b, scale)
        matched, total = matched + m, total + t
        similarity.append(difflib.SequenceMatcher(None, _page_text(a), _page_text(b), autojunk=False).ratio())
    found = wanted = 0
    for lines, label in zip(results, labels):
        f, w = _label_recall(lines, label)
        found, wanted = found + f, wanted + w
    return {"identical_pages": f"{same_pages}/{len(results)}", "identical_lines": round(matched / max(1, total), 4),
            "text_similarity": round(float(np.mean(similarity)), 4),
            "label_lines_read_exactly": round(found / max(1, wanted), 4),
            "seconds_per_page": round(float(np.median(seconds)), 3)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def speed(args: argparse.Namespace, ocr: Any) -> Dict[str, Any]:
    rows = _labelled_images(Path(args.label_file), Path(args.data_dir), args.limit)
    work = Path(tempfile.mkdtemp(prefix="bench_docs_"))
    pdf = scans_to_pdf([path for path, _ in rows], work / "scans.pdf", args.native_dpi, args.pages)
    checkpoints = {max(1, args.pages // 10), max(1, args.pages // 2), args.pages}
    rss: Dict[str, float] = {"before": round(_peak_rss_mb(), 1)}
    start, cpu_start = time.perf_counter(), time.process_time()
    done = failed = 0
    for page in ocr.pages(str(pdf)):
        done += 1
        failed += page.error is not None
        if done in checkpoints:
            rss[f"after {done} pages"] = round(_peak_rss_mb(), 1)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    # CPU seconds tell the cost when other jobs share the cores (wall-clock pages/s then depends on them)
    return {"pages": done, "failed": failed, "pdf_dpi": ocr.pdf_dpi, "seconds": round(seconds, 1),
            "pages_per_second": round(done / seconds, 3), "cpu_seconds_per_page": round(cpu / max(1, done), 3), "peak_rss_mb": rss,
            "pdf_mb": round(pdf.stat().st_size / 1e6, 1)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("agreement", "speed"))
    parser.add_argument("--label_file", required=True, help="det label file: image<TAB>[{transcription, points}]")
    parser.add_argument("--data_dir", required=True, help="the folder the label file's image paths start from")
    parser.add_argument("--native_dpi", type=float, default=300.0, help="the scans' resolution (default 300)")
    parser.add_argument("--dpis", default="150,200,300", help="agreement: the --pdf_dpi values to try")
    parser.add_argument("--pages", type=int, default=20, help="speed: pages in the generated PDF")
    parser.add_argument("--pdf_dpi", type=float, default=None, help="speed: default configs/system.yml's")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N labelled images")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--cpu_threads", type=int, default=None)
    args = parser.parse_args(argv)
    args.dpis = [float(v) for v in args.dpis.split(",")]

    from paddle_pp import PPOCR

    ocr = PPOCR(engine=args.engine, cpu_threads=args.cpu_threads, pdf_dpi=args.pdf_dpi)
    report = agreement(args, ocr) if args.mode == "agreement" else speed(args, ocr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
