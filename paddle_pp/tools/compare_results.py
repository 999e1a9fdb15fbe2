"""Agreement of two `paddle-pp ocr` runs on the same images, e.g. aarch64 (deploy/arm/setup_python.sh) against x86:
images identical, boxes matched exactly and within 1 px, texts equal, and each differing image's lines.

    paddle-pp ocr --image_dir "../shared/data/sroie_dev/images/0[89]?.jpg" --lang en --slim --output out/x86
    (the same command with the aarch64 Python, as docs/deploy.md runs it, --output out/arm)
    python deploy/arm/compare_results.py out/x86/system_results.txt out/arm/system_results.txt
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from paddle_pp.utils.agreement import Agreement


def read_results(path: Path) -> Dict[str, List[dict]]:
    """system_results.txt -> {image name: its results}; the name is kept as written (both runs write it alike)."""
    results = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name, sep, payload = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: not a results line (name<TAB>json)")
        results[name] = json.loads(payload)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path, help="system_results.txt of the reference run (x86)")
    parser.add_argument("other", type=Path, help="system_results.txt of the run compared with it (aarch64)")
    args = parser.parse_args(argv)
    try:
        ref, other = read_results(args.reference), read_results(args.other)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = sorted(set(ref) ^ set(other))
    if missing:
        print(f"error: images in one run only: {', '.join(missing[:5])}", file=sys.stderr)
        return 2
    agreement = Agreement()
    for name in sorted(ref):
        if not agreement.add(name, ref[name], other[name]):
            texts_ref = [r["transcription"] for r in ref[name]]
            texts_other = [r["transcription"] for r in other[name]]
            changes = [line for line in difflib.unified_diff(texts_ref, texts_other, lineterm="", n=0)
                       if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            print(f"{name}: {agreement.differing[name]} {changes[:6]}")
    print(agreement.summary("reference", "other"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
