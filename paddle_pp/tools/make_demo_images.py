"""Re-create the bundled demo images (rendered by us, so they ship with the package).

    python deploy/make_demo_images.py [--out DIR]     # default: the package's demo_images/, read by `paddle-pp ocr`
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import cv2

from paddle_pp.utils.files import write_bytes_atomic
from paddle_pp.resources import DEMO_IMAGES_DIR
from paddle_pp.utils.text_render import cjk_font_path, render_lines

RECEIPT = [("GROCERY MART", 40), ("123 Harbour Road, Kuala Lumpur", 24), ("Invoice No: INV-2026-0142", 24),
           ("Date: 22/11/2026  10:45", 24), ("2 x Fresh Milk 1L      13.80", 26), ("1 x Bread Wholemeal     4.50", 26),
           ("3 x Apples               9.00", 26), ("TOTAL                   27.30", 30), ("Thank you, please come again", 22)]
SIGN_ZH = [("欢迎光临", 56), ("营业时间 9:00 - 21:00", 36), ("北京市海淀区中关村大街 27 号", 32), ("电话 010-6275 1234", 32),
           ("Opening hours 9am to 9pm", 30)]


def write(out: Path, name: str, image) -> None:
    path = out / name
    ok, data = cv2.imencode(path.suffix, image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    write_bytes_atomic(path, data.tobytes())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_IMAGES_DIR, help="output folder (default: %(default)s)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    receipt, _ = render_lines(RECEIPT, size=(720, 620))
    write(out, "receipt_en.jpg", receipt)
    # A photo-like variant: the same page rotated by a few degrees.
    h, w = receipt.shape[:2]
    rot = cv2.warpAffine(receipt, cv2.getRotationMatrix2D((w / 2, h / 2), 4, 1.0), (w, h),
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(200, 200, 200))
    write(out, "receipt_en_tilted.jpg", rot)
    font = cjk_font_path()
    if font:
        sign, _ = render_lines(SIGN_ZH, size=(900, 520), font_path=font, background=240, color=40)
        write(out, "sign_zh.jpg", sign)
    else:
        print("no CJK font found: sign_zh.jpg not rendered (apt-get install fonts-wqy-microhei)")
    print(f"demo images written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
