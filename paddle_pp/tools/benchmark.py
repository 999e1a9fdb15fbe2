"""Speed and memory of the OCR system: per-stage latency, images per second, peak RSS and a leak check.

    python deploy/benchmark.py --image_dir ../shared/data/sroie_dev/images               # onnx, paddle, dygraph
    python deploy/benchmark.py --image_dir DIR --engine onnx paddle --compare rapidocr   # + RapidOCR, same run
    python deploy/benchmark.py --image_dir DIR --engine onnx --leak_images 1000         # RSS growth
    python deploy/benchmark.py --image_dir DIR --isolate --json bench.json              # one process per system
    python deploy/benchmark.py --image_dir DIR --engine paddle slim                    # the slim system's gain
    python deploy/benchmark.py --image_dir DIR --engine onnx slim_paddle slim_onnx slim_int8   # float vs slim paths
    python deploy/benchmark.py --image_dir DIR --lang en --engine onnx slim_onnx slim_int8    # the English systems
    python deploy/benchmark.py --image_dir DIR --engine onnx onnx_serial   # cls/rec batches at once vs one at a time

Every system (our engines and, with `--compare rapidocr`, RapidOCR) runs on the same decoded image, one after the
other in a rotating order, so a change in machine load hits all of them alike. Decoding is not timed; the timed
call is the system's own `ocr(bgr_array)`. Stage times come from timers wrapped around the stage objects from
outside (detector preprocess / engine / postprocess, classifier, recognizer and their engines): nothing in the
library is changed for measuring (a `NAME_serial` system sets its cls/rec engines' `concurrency` to 1, which is what
it measures). After `--warmup` images, every image runs once per `--repeats`; median and p90
are over these per-image system latencies.

Memory: RSS is read from /proc/self/status (VmRSS, VmHWM = peak). In one process the peak is the whole process's,
with all systems loaded; `--isolate` runs each system in its own child process for a per-system peak. The leak
check (`--leak_images N`) runs one system over the images, cycled to N, after warm-up and samples RSS.

Stages (ms per image): det_pre (resize + normalize), det_infer, det_post (DB boxes + filter), cls (all of the
direction classifier, cls_infer of it in the engine), rec (all of the recognizer, rec_infer in the engine), other
(sorting, cropping, result assembly: the rest of the total).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from paddle_pp.config_schema import SYSTEM
from paddle_pp.tools.peers import PEERS, rapidocr
from paddle_pp.utils.files import list_images
from paddle_pp.utils.image_io import read_image

OUR_ENGINES = ("onnx", "paddle", "dygraph")
SLIM = "slim"  # PPOCR(slim=True): the shipped pruned det + PACT-quantized cls/rec, on system.yml's slim engine
# the slim system on each of its paths, to compare them in one run (docs/deploy.md, "int8 on x86"):
SLIM_SYSTEMS = {
    SLIM: {},
    "slim_paddle": {"engine": "paddle", "precision": "fp32"},   # the PACT programs with their fake quantize ops
    "slim_onnx": {"engine": "onnx", "precision": "fp32"},       # their fake-quant graphs (model.onnx)
    "slim_int8": {"engine": "onnx", "precision": "int8"},       # model_int8.onnx: int8 kernels, the default
}
# "<system>_serial": that system with its classifier's and recognizer's batches run one at a time on all threads, as
# before OnnxEngine.run_many (docs/inference.md, "Threads"), to measure what running them at once gains
SERIAL = "_serial"
SERIAL_SYSTEMS = tuple(f"{name}{SERIAL}" for name in ("onnx", SLIM, "slim_onnx", "slim_int8"))
# "<system>_orient": that system with use_doc_orientation_classify (pages turned upright first), to measure its cost
ORIENT = "_orient"
ORIENT_SYSTEMS = tuple(f"{name}{ORIENT}" for name in ("onnx", SLIM, "slim_int8"))
# "<system>_whole": that system classifying every crop whole (cls_pieces_above 0, cls_turned_view false: PaddleOCR),
# to measure what the classifier's further views (turned crops, long crops' pieces) cost
WHOLE = "_whole"
WHOLE_SYSTEMS = tuple(f"{name}{WHOLE}" for name in ("onnx", SLIM, "slim_int8"))
# "<system>_paddleocr": that system as PaddleOCR runs these models (as_paddleocr: what paddle-pp adds turned off), to
# measure what the defaults' further passes and views cost
AS_PADDLEOCR = "_paddleocr"
AS_PADDLEOCR_SYSTEMS = tuple(f"{name}{AS_PADDLEOCR}" for name in ("onnx", SLIM, "slim_int8"))
# "<system>_once": that system reading every crop once (rec_dense_pitch 0, rec_unsure_blur 0: PaddleOCR), to measure
# what the second reads of dense lines (wider) and of unsure lines (blurred) cost
ONCE = "_once"
ONCE_SYSTEMS = tuple(f"{name}{ONCE}" for name in ("onnx", SLIM, "slim_int8"))
# "<system>_as_cut": that system reading unsure lines as cut (rec_unsure_blur 0), to time the blurred second reads alone
AS_CUT = "_as_cut"
AS_CUT_SYSTEMS = tuple(f"{name}{AS_CUT}" for name in ("onnx", SLIM, "slim_int8"))
COMPARE = PEERS
# "<system>@<type>:<side>": that system with the detector's input resize set (--det_resize), e.g. onnx@min:960
AT = "@"
STAGES = ("det_pre", "det_infer", "det_post", "cls", "cls_infer", "rec", "rec_infer", "other", "total")


# ----------------------------------------------------------------------------------------------- memory, stats
def _proc_status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size in MiB (VmRSS); falls back to the peak where /proc is missing."""
    kb = _proc_status_kb("VmRSS")
    return kb / 1024.0 if kb is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (VmHWM, or getrusage's ru_maxrss)."""
    kb = _proc_status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":
            kb //= 1024  # bytes there
    return kb / 1024.0


def summarize(values: Sequence[float]) -> Dict[str, float]:
    """median / p90 / mean / min / max / n of a list of numbers (p90 by linear interpolation, numpy's default)."""
    if len(values) == 0:
        return {"n": 0, "median": float("nan"), "p90": float("nan"), "mean": float("nan"),
                "min": float("nan"), "max": float("nan")}
    arr = np.asarray(values, dtype=np.float64)
    return {"n": int(arr.size), "median": float(np.median(arr)), "p90": float(np.percentile(arr, 90)),
            "mean": float(arr.mean()), "min": float(arr.min()), "max": float(arr.max())}


def load_average() -> Optional[float]:
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None


# ------------------------------------------------------------------------------------------------ stage timers
class StageClock:
    """Seconds spent per stage name during the current image."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}

    def reset(self) -> None:
        self.seconds = {}

    def add(self, name: str, dt: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + dt

    def get(self, name: str) -> float:
        return self.seconds.get(name, 0.0)


class Timed:
    """A callable proxy that times its target's calls; attribute reads go to the target.

    Used to wrap stage objects from outside (`system.detector = Timed(detector, clock, "det")`): Python looks
    `obj(...)` up on the type, so replacing an instance's `__call__` would not work, a proxy does.
    """

    def __init__(self, target: Any, clock: StageClock, name: str) -> None:
        self.__dict__["_target"] = target
        self.__dict__["_clock"] = clock
        self.__dict__["_name"] = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._target, *args, **kwargs)

    def run_many(self, *args: Any, **kwargs: Any) -> Any:
        """An engine's batches run at once (pipeline.run_in_groups): timed as one call, wall time."""
        return self._timed(self._target.run_many, *args, **kwargs)

    def detect(self, *args: Any, **kwargs: Any) -> Any:
        """A detector's boxes as TextSystem asks for them (pipeline.TextDetector.detect): timed as its call."""
        return self._timed(self._target.detect, *args, **kwargs)

    def _timed(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self._clock.add(self._name, time.perf_counter() - start)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__dict__["_target"], attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self.__dict__["_target"], attr, value)


# ----------------------------------------------------------------------------------------------------- systems
class OurSystem:
    """PPOCR with one engine, its stages wrapped by timers."""

    def __init__(self, engine: str, cpu_threads: int = 0, enable_mkldnn: Optional[bool] = None,
                 lang: Optional[str] = None) -> None:
        from paddle_pp import PPOCR

        self.name = engine
        engine, _, resize = engine.partition(AT)
        options = parse_det_resize(resize) if resize else {}
        if engine.endswith(ORIENT):
            engine, options["use_doc_orientation_classify"] = engine[:-len(ORIENT)], True
        if engine.endswith(AS_PADDLEOCR):
            engine, options["as_paddleocr"] = engine[:-len(AS_PADDLEOCR)], True
        if engine.endswith(ONCE):
            engine, options["rec_dense_pitch"], options["rec_unsure_blur"] = engine[:-len(ONCE)], 0, 0
        if engine.endswith(AS_CUT):
            engine, options["rec_unsure_blur"] = engine[:-len(AS_CUT)], 0
        if engine.endswith(WHOLE):
            from paddle_pp.pipeline import PADDLEOCR_SETTINGS

            engine = engine[:-len(WHOLE)]
            options.update({flag: value for flag, value in PADDLEOCR_SETTINGS.items() if flag.startswith("cls_")})
        serial = engine.endswith(SERIAL)
        engine = engine[:-len(SERIAL)] if serial else engine
        if engine in SLIM_SYSTEMS:
            self.ocr = PPOCR(slim=True, cpu_threads=cpu_threads, enable_mkldnn=enable_mkldnn, lang=lang,
                             **SLIM_SYSTEMS[engine], **options)
        else:
            self.ocr = PPOCR(engine=engine, cpu_threads=cpu_threads, enable_mkldnn=enable_mkldnn, lang=lang,
                             **options)
        self.clock = clock = StageClock()
        system = self.ocr.system
        if serial:
            for stage in (system.classifier, system.recognizer):
                if stage is not None:
                    stage.engine.concurrency = 1
        det = system.detector
        det.preprocess = Timed(det.preprocess, clock, "det_pre")  # instance attribute shadows the method
        det.engine = Timed(det.engine, clock, "det_infer")
        system.detector = Timed(det, clock, "det")
        if system.classifier is not None:
            system.classifier.engine = Timed(system.classifier.engine, clock, "cls_infer")
            system.classifier = Timed(system.classifier, clock, "cls")
        system.recognizer.engine = Timed(system.recognizer.engine, clock, "rec_infer")
        system.recognizer = Timed(system.recognizer, clock, "rec")

    def run(self, img: np.ndarray) -> int:
        return len(self.ocr(img))

    def stages(self, total: float) -> Dict[str, float]:
        c = self.clock
        det = c.get("det")
        return {"det_pre": c.get("det_pre"), "det_infer": c.get("det_infer"),
                "det_post": det - c.get("det_pre") - c.get("det_infer"),
                "cls": c.get("cls"), "cls_infer": c.get("cls_infer"),
                "rec": c.get("rec"), "rec_infer": c.get("rec_infer"),
                "other": total - det - c.get("cls") - c.get("rec"), "total": total}


class RapidSystem:
    """RapidOCR (rapidocr-onnxruntime, its packaged models and config.yaml defaults), timed the same way."""

    def __init__(self, cpu_threads: int = 0) -> None:
        self.name = "rapidocr"
        self.ocr = rapidocr(cpu_threads)
        self.clock = clock = StageClock()
        det = self.ocr.text_det
        det.infer = Timed(det.infer, clock, "det_infer")
        det.postprocess_op = Timed(det.postprocess_op, clock, "det_post")
        det.filter_tag_det_res = Timed(det.filter_tag_det_res, clock, "det_post")
        self.ocr.text_det = Timed(det, clock, "det")
        self.ocr.text_cls.infer = Timed(self.ocr.text_cls.infer, clock, "cls_infer")
        self.ocr.text_cls = Timed(self.ocr.text_cls, clock, "cls")
        self.ocr.text_rec.session = Timed(self.ocr.text_rec.session, clock, "rec_infer")
        self.ocr.text_rec = Timed(self.ocr.text_rec, clock, "rec")

    def run(self, img: np.ndarray) -> int:
        result, _ = self.ocr(img)
        return len(result) if result else 0

    def stages(self, total: float) -> Dict[str, float]:
        c = self.clock
        det = c.get("det")
        return {"det_pre": det - c.get("det_infer") - c.get("det_post"), "det_infer": c.get("det_infer"),
                "det_post": c.get("det_post"), "cls": c.get("cls"), "cls_infer": c.get("cls_infer"),
                "rec": c.get("rec"), "rec_infer": c.get("rec_infer"),
                "other": total - det - c.get("cls") - c.get("rec"), "total": total}


def build_system(name: str, args: argparse.Namespace):
    if name == "rapidocr":
        return RapidSystem(args.cpu_threads)
    return OurSystem(name, args.cpu_threads, args.enable_mkldnn, args.lang)


def timed_run(system, img: np.ndarray):
    system.clock.reset()
    start = time.perf_counter()
    lines = system.run(img)
    total = time.perf_counter() - start
    return lines, system.stages(total)


def parse_det_resize(text: str) -> Dict[str, Any]:
    """'min:960' -> the PPOCR options det_limit_type='min', det_limit_side_len=960; 'max:960:0' also sets
    det_small_text_below=0 (one pass), 'max:960::0' det_long_image_aspect=0 (long images shrunk by their long
    side, as PaddleOCR); an empty field keeps the model's. Fields after those may name any detector option:
    'max:960:det_window_overlap=0:det_max_side_limit=16000'. Checked against their schema ranges
    (argparse.ArgumentTypeError names the problem)."""
    from paddle_pp.pipeline import option_field, option_flags

    fields = text.split(":")
    positional = list(itertools.takewhile(lambda field: "=" not in field, fields))
    named = [field.split("=", 1) for field in fields[len(positional):]]
    names = ("det_limit_type", "det_limit_side_len", "det_small_text_below", "det_long_image_aspect")
    options = {name: value for name, value in zip(names, positional) if value or name in names[:2]}
    try:
        if len(positional) < 2 or len(positional) > len(names):
            raise argparse.ArgumentTypeError(f"{len(positional)} positional fields")
        for field in named:
            if len(field) != 2 or field[0] not in option_flags("det") or field[0] in options:
                raise argparse.ArgumentTypeError(f"'{'='.join(field)}' is not a detector option given once "
                                                 f"(det_max_side_limit=16000, det_window_overlap=0, ...)")
            options[field[0]] = field[1]
        return {flag: option_field(flag).parse(value) for flag, value in options.items()}
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"expects TYPE:SIDE[:SMALL_TEXT_BELOW[:LONG_IMAGE_ASPECT]][:FLAG=VALUE...] "
                                         f"such as min:960, max:960:0, max:960::0 or max:960:det_window_overlap=0, "
                                         f"got '{text}' ({exc})") from None


def det_resize_arg(text: str) -> str:
    """argparse type of --det_resize: the text, once it parses."""
    parse_det_resize(text)
    return text


def system_names(args: argparse.Namespace) -> List[str]:
    """Our systems (each at every --det_resize, when given) and then the peers, in the order given."""
    ours = [f"{engine}{AT}{resize}" for engine in args.engine for resize in args.det_resize] \
        if args.det_resize else list(args.engine)
    return list(dict.fromkeys(ours + list(args.compare)))


# ---------------------------------------------------------------------------------------------------- phases
def parse_limits(items: Sequence[str]) -> Dict[str, int]:
    limits = {}
    for item in items or ():
        name, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"--limit expects NAME=N, got '{item}'")
        limits[name] = int(value)
    return limits


def run_benchmark(names: Sequence[str], images: Sequence[Path], args: argparse.Namespace,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Load the systems, warm up, time every image `repeats` times (systems interleaved), then the leak run."""
    limits = parse_limits(args.limit)
    report: Dict[str, Any] = {"systems": {}, "rss_start_mb": rss_mb(), "load_start": load_average()}
    systems = {}
    for name in names:
        before = rss_mb()
        start = time.perf_counter()
        systems[name] = build_system(name, args)
        report["systems"][name] = {"load_s": time.perf_counter() - start, "rss_load_mb": rss_mb() - before,
                                   "max_images": min(len(images), limits.get(name, len(images)))}
        log(f"loaded {name} in {report['systems'][name]['load_s']:.1f}s (+{report['systems'][name]['rss_load_mb']:.0f} MiB)")

    for i in range(args.warmup):
        img = read_image(images[i % len(images)])
        for name, system in systems.items():
            timed_run(system, img)
    report["rss_after_warmup_mb"] = rss_mb()

    samples: Dict[str, List[Dict[str, float]]] = {name: [] for name in names}
    per_image: Dict[str, Dict[str, List[float]]] = {name: {} for name in names}
    lines: Dict[str, Dict[str, int]] = {name: {} for name in names}
    loads = []
    step = 0
    for rep in range(args.repeats):
        for idx, path in enumerate(images):
            img = read_image(path)
            active = [n for n in names if idx < report["systems"][n]["max_images"]]
            shift = step % max(len(active), 1)
            step += 1
            for name in active[shift:] + active[:shift]:  # rotating order: no system always runs first
                count, stages = timed_run(systems[name], img)
                samples[name].append(stages)
                per_image[name].setdefault(str(path), []).append(stages["total"])
                lines[name][str(path)] = count
            if idx % 20 == 0:
                loads.append(load_average())
                log(f"  repeat {rep + 1}/{args.repeats} image {idx + 1}/{len(images)}  load {loads[-1]}")
    report["load_during"] = [x for x in loads if x is not None]

    for name in names:
        entry = report["systems"][name]
        totals = [s["total"] for s in samples[name]]
        entry["images"] = len(per_image[name])
        entry["runs"] = len(totals)
        entry["latency_ms"] = {k: v * 1000.0 if k != "n" else v for k, v in summarize(totals).items()}
        entry["images_per_s"] = len(totals) / sum(totals) if totals else float("nan")
        entry["stages_ms"] = {stage: {"median": 1000.0 * float(np.median([s[stage] for s in samples[name]])),
                                      "mean": 1000.0 * float(np.mean([s[stage] for s in samples[name]]))}
                              for stage in STAGES} if totals else {}
        entry["lines_total"] = int(sum(lines[name].values()))
        entry["per_image_ms"] = {p: [1000.0 * t for t in ts] for p, ts in per_image[name].items()}
    report["ratios"] = compare_ratios(report, names)

    if args.leak_images:
        leak_name = args.leak_engine or names[0]
        if leak_name not in systems:
            raise SystemExit(f"--leak_engine {leak_name} is not among the systems run ({', '.join(names)})")
        for other in [n for n in names if n != leak_name]:
            del systems[other]  # only the leak system runs now; free the others' memory first
        report["leak"] = leak_run(systems[leak_name], leak_name, images, args, log)
    report["peak_rss_mb"] = peak_rss_mb()
    report["rss_end_mb"] = rss_mb()
    report["load_end"] = load_average()
    return report


def leak_run(system, name: str, images: Sequence[Path], args: argparse.Namespace,
             log: Callable[[str], None]) -> Dict[str, Any]:
    """Run `name` on the images cycled to N after warm-up and sample RSS every `leak_sample` images."""
    import gc

    for i in range(args.warmup):
        timed_run(system, read_image(images[i % len(images)]))
    gc.collect()
    start_rss = rss_mb()
    samples = [(0, start_rss)]
    start = time.perf_counter()
    for i in range(args.leak_images):
        timed_run(system, read_image(images[i % len(images)]))
        if (i + 1) % args.leak_sample == 0 or i + 1 == args.leak_images:
            samples.append((i + 1, rss_mb()))
            if (i + 1) % (args.leak_sample * 4) == 0:
                log(f"  leak {name}: {i + 1}/{args.leak_images} images, RSS {samples[-1][1]:.0f} MiB, "
                    f"load {load_average()}")
    gc.collect()
    end_rss = rss_mb()
    half = [rss for n, rss in samples if n >= args.leak_images // 2]
    return {"system": name, "images": args.leak_images, "seconds": time.perf_counter() - start,
            "rss_after_warmup_mb": start_rss, "rss_end_mb": end_rss, "rss_max_mb": max(r for _, r in samples),
            "growth_mb": end_rss - start_rss, "growth_second_half_mb": end_rss - half[0] if half else 0.0,
            "samples": samples}


def compare_ratios(report: Dict[str, Any], names: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Median (and p90) latency ratio of every system to every baseline (RapidOCR; onnx, or else the first of
    ours), on the images both ran."""
    ratios: Dict[str, Dict[str, float]] = {}
    ours = [name for name in names if name not in COMPARE]
    baselines = [b for b in COMPARE if b in names] + (["onnx"] if "onnx" in ours else ours[:1])
    for base in baselines:
        for name in names:
            if name == base:
                continue
            a, b = report["systems"][name]["per_image_ms"], report["systems"][base]["per_image_ms"]
            common = sorted(set(a) & set(b))
            if not common:
                continue
            mine = [t for p in common for t in a[p]]
            theirs = [t for p in common for t in b[p]]
            per_image = [np.median(a[p]) / np.median(b[p]) for p in common]
            ratios[f"{name}/{base}"] = {
                "images": len(common),
                "median_ratio": float(np.median(mine) / np.median(theirs)),
                "p90_ratio": float(np.percentile(mine, 90) / np.percentile(theirs, 90)),
                "median_of_per_image_ratios": float(np.median(per_image)),
            }
    return ratios


# ---------------------------------------------------------------------------------------------------- output
def format_report(report: Dict[str, Any]) -> str:
    out = []
    width = max([10] + [len(name) for name in report["systems"]])
    head = (f"{'system':<{width}} {'imgs':>5} {'median':>8} {'p90':>8} {'mean':>8} {'img/s':>6} | {'det_pre':>7} "
            f"{'det_inf':>7} {'det_pst':>7} {'cls':>6} {'rec':>7} {'rec_inf':>7} {'other':>6} | {'lines':>6} "
            f"{'peakRSS':>7}")
    out.append("latency per image in ms (stage columns: medians); peak RSS in MiB")
    out.append(head)
    for name, e in report["systems"].items():
        if "latency_ms" not in e:
            continue
        lat, st = e["latency_ms"], e["stages_ms"]
        peak = e.get("peak_rss_mb", report.get("peak_rss_mb"))
        out.append(f"{name:<{width}} {e['images']:>5} {lat['median']:>8.1f} {lat['p90']:>8.1f} {lat['mean']:>8.1f} "
                   f"{e['images_per_s']:>6.2f} | {st['det_pre']['median']:>7.1f} {st['det_infer']['median']:>7.1f} "
                   f"{st['det_post']['median']:>7.1f} {st['cls']['median']:>6.1f} {st['rec']['median']:>7.1f} "
                   f"{st['rec_infer']['median']:>7.1f} {st['other']['median']:>6.1f} | {e['lines_total']:>6} "
                   f"{peak:>7.0f}")
    for key, r in report.get("ratios", {}).items():
        out.append(f"ratio {key:<18} median {r['median_ratio']:.3f}  p90 {r['p90_ratio']:.3f}  "
                   f"per-image median {r['median_of_per_image_ratios']:.3f}  ({r['images']} images)")
    leaks = [report["leak"]] if "leak" in report else []
    leaks += [e["leak"] for e in report["systems"].values() if "leak" in e]
    for leak in leaks:
        out.append(f"leak {leak['system']}: {leak['images']} images after warm-up, RSS {leak['rss_after_warmup_mb']:.0f}"
                   f" -> {leak['rss_end_mb']:.0f} MiB (max {leak['rss_max_mb']:.0f}), growth {leak['growth_mb']:+.1f} "
                   f"MiB ({leak['growth_second_half_mb']:+.1f} in the second half), {leak['seconds']:.0f}s")
    loads = report.get("load_during") or []
    out.append(f"load average: start {report.get('load_start')}, during "
               f"{min(loads) if loads else '-'}..{max(loads) if loads else '-'}, end {report.get('load_end')} "
               f"({os.cpu_count()} CPUs)")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", required=True, help="image file, directory (recursive) or glob")
    parser.add_argument("--engine", nargs="+", default=list(OUR_ENGINES),
                        choices=OUR_ENGINES + tuple(SLIM_SYSTEMS) + SERIAL_SYSTEMS + ORIENT_SYSTEMS + WHOLE_SYSTEMS
                        + AS_PADDLEOCR_SYSTEMS + ONCE_SYSTEMS + AS_CUT_SYSTEMS,
                        help="our engines to run (default: all three); 'slim' = PPOCR(slim=True) with system.yml's "
                             "slim engine and precision; slim_paddle / slim_onnx / slim_int8: the slim system with "
                             "the PACT programs on Paddle Inference / their fake-quant ONNX / their int8 ONNX; "
                             "NAME_serial: NAME with its cls/rec batches run one at a time; NAME_orient: NAME turning "
                             "pages upright first (use_doc_orientation_classify); NAME_whole: NAME classifying "
                             "every crop whole (cls_pieces_above 0, cls_turned_view false); NAME_paddleocr: NAME as "
                             "PaddleOCR runs these models (as_paddleocr); NAME_once: NAME reading every crop once "
                             "(rec_dense_pitch 0, rec_unsure_blur 0); NAME_as_cut: NAME reading unsure lines as cut "
                             "(rec_unsure_blur 0)")
    parser.add_argument("--compare", nargs="*", default=[], choices=COMPARE, help="other systems, same run")
    parser.add_argument("--det_resize", nargs="+", default=[], metavar="TYPE:SIDE[:SMALL[:LONG]][:FLAG=VALUE...]",
                        type=det_resize_arg,
                        help="run each of our systems at each of these detector resizes, named NAME@TYPE:SIDE (e.g. "
                             "max:960 min:960: --det_limit_type and --det_limit_side_len; max:960:0 also "
                             "--det_small_text_below 0, one pass; max:960::0 --det_long_image_aspect 0, long images "
                             "shrunk as PaddleOCR does; max:960:det_window_overlap=0 any other detector option, "
                             "here long images shrunk to the cap, not detected in windows); default: the model's")
    parser.add_argument("--max_images", type=int, default=0, help="use only the first N images (0: all)")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                        help="run system NAME on the first N images only (e.g. dygraph=50)")
    parser.add_argument("--warmup", type=int, default=5, help="images run (untimed) before measuring")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes over the images")
    parser.add_argument("--leak_images", type=int, default=0, help="RSS leak check over N images (0: off)")
    parser.add_argument("--leak_engine", default=None, help="system for the leak check (default: the first)")
    parser.add_argument("--leak_sample", type=int, default=25, help="sample RSS every N images")
    # the flags that mirror the system options take their type and range from the schema (out of range: exit 2)
    parser.add_argument("--cpu_threads", type=SYSTEM["cpu_threads"].argparse_type("cpu_threads"), default=0,
                        help="threads per engine (0: library default)")
    parser.add_argument("--enable_mkldnn", type=SYSTEM["enable_mkldnn"].argparse_type("enable_mkldnn"), default=None,
                        help="Paddle Inference oneDNN (default: configs/system.yml)")
    parser.add_argument("--lang", default=None,
                        help="our systems' recognizer: ch or en (configs/system.yml's rec_models)")
    parser.add_argument("--isolate", action="store_true", help="each system in its own process (per-system RSS)")
    parser.add_argument("--ort_spinning", action="store_true",
                        help="our onnxruntime sessions' worker threads spin-wait between runs (onnxruntime's default; "
                             "ours is off, paddle_pp/engine/base.py): run with and without, alternately, to compare")
    parser.add_argument("--json", default=None, help="write the full report (per-image times too) here")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    return parser


def _child_argv(args: argparse.Namespace, name: str, json_path: str) -> List[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--image_dir", args.image_dir, "--_child", name,
            "--json", json_path, "--warmup", str(args.warmup), "--repeats", str(args.repeats),
            "--max_images", str(args.max_images), "--cpu_threads", str(args.cpu_threads),
            "--leak_sample", str(args.leak_sample)]
    for item in args.limit:
        argv += ["--limit", item]
    if args.enable_mkldnn is not None:
        argv += ["--enable_mkldnn", str(args.enable_mkldnn)]
    if args.lang:
        argv += ["--lang", args.lang]
    if args.leak_images and name == (args.leak_engine or args.engine[0]):
        argv += ["--leak_images", str(args.leak_images)]
    if args.quiet:
        argv.append("--quiet")
    if args.ort_spinning:
        argv.append("--ort_spinning")
    return argv


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ort_spinning:
        from paddle_pp.engine import base as engine_base

        engine_base.ALLOW_SPINNING = True  # read when each OnnxEngine builds its session
    images, _ = list_images(args.image_dir)
    if args.max_images:
        images = images[:args.max_images]
    if not images:
        raise SystemExit(f"{args.image_dir}: no images")
    names = [args._child] if args._child else system_names(args)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    meta = {"image_dir": args.image_dir, "images": len(images), "warmup": args.warmup, "repeats": args.repeats,
            "cpu_threads": args.cpu_threads, "lang": args.lang, "cpus": os.cpu_count(), "ort_spinning": args.ort_spinning,
            "python": platform.python_version(),
            "argv": sys.argv[1:]}
    if args.isolate and not args._child:
        report: Dict[str, Any] = {"systems": {}, "ratios": {}, "load_start": load_average()}
        loads = []
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                path = os.path.join(tmp, f"{name}.json")
                subprocess.run(_child_argv(args, name, path), check=True)
                with open(path, encoding="utf-8") as f:
                    child = json.load(f)
                entry = child["systems"][name]
                entry["peak_rss_mb"] = child["peak_rss_mb"]
                if "leak" in child:
                    entry["leak"] = child["leak"]
                report["systems"][name] = entry
                loads += child.get("load_during", [])
        report["load_during"] = loads
        report["ratios"] = compare_ratios(report, names)
        report["load_end"] = load_average()
    else:
        report = run_benchmark(names, images, args, log)
    report["meta"] = meta
    if not args._child:
        print(format_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
