"""Agreement of the Paddle-Lite engine (x86 .nb files) with another engine on the same images.

    python deploy/lite/export_lite.py --out lite/x86 --valid_targets x86
    python deploy/lite/compare_lite.py --lite_model_dir lite/x86 --image_dir "../shared/data/sroie_dev/images/0[89]?.jpg"

Both systems use the same pre/post-processing (paddle_pp.pipeline) and configs/*.yml defaults; only the engine
differs. Counts images with identical results, boxes matched exactly and within 1 px, and texts equal.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from paddle_pp.utils.agreement import Agreement
from paddle_pp.utils.files import display_name, list_images
from paddle_pp.utils.image_io import read_image


def build_lite_system(lite_model_dir: Path, threads: int = 0, use_angle_cls: Optional[bool] = None):
    """paddle_pp's TextSystem with the three Lite engines (what PPOCR(engine='lite') builds)."""
    from paddle_pp.config import load_config
    from paddle_pp.engine.lite import LiteEngine
    from paddle_pp.pipeline import TextClassifier, TextDetector, TextRecognizer, TextSystem
    from paddle_pp.utils.dicts import resolve_dict_path

    system = dict(load_config("system")["System"])
    use_cls = system["use_angle_cls"] if use_angle_cls is None else use_angle_cls
    rec_cfg = load_config("rec")
    return TextSystem(TextDetector(load_config("det"), LiteEngine.for_stage("det", lite_model_dir, threads)),
                      TextRecognizer(rec_cfg, LiteEngine.for_stage("rec", lite_model_dir, threads),
                                     resolve_dict_path(rec_cfg, None)),
                      TextClassifier(load_config("cls"), LiteEngine.for_stage("cls", lite_model_dir, threads))
                      if use_cls else None, system["drop_score"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", required=True, help="image file, directory or glob")
    parser.add_argument("--lite_model_dir", required=True, help="x86 .nb files from export_lite.py")
    parser.add_argument("--engine", default="paddle", help="the engine to compare with (default: paddle)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images (sorted by name)")
    parser.add_argument("--output", default=None, help="write both results per image as JSON lines")
    args = parser.parse_args(argv)

    from paddle_pp import PPOCR

    images, root = list_images(args.image_dir)
    images = sorted(images)[:args.limit or None]
    ref_system = PPOCR(engine=args.engine)
    lite_system = build_lite_system(Path(args.lite_model_dir))
    agreement = Agreement()
    times = {"ref": 0.0, "lite": 0.0}
    out = open(args.output, "w", encoding="utf-8") if args.output else None
    for path in images:
        img = read_image(path)
        t0 = time.perf_counter()
        ref = ref_system(img)
        t1 = time.perf_counter()
        ours = [r.to_dict() for r in lite_system(img)]
        t2 = time.perf_counter()
        times["ref"] += t1 - t0
        times["lite"] += t2 - t1
        name = display_name(path, root)
        if not agreement.add(name, ref, ours):
            print(f"{name}: {agreement.differing[name]}", file=sys.stderr)
        if out:
            out.write(json.dumps({"image": name, "ref": ref, "lite": ours}, ensure_ascii=False) + "\n")
    if out:
        out.close()
    n = max(agreement.totals["images"], 1)
    print(f"{agreement.summary(args.engine, 'lite')}; {times['ref'] / n * 1000:.0f} ms/image ({args.engine}) vs "
          f"{times['lite'] / n * 1000:.0f} ms/image (lite)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
