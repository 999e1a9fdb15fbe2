"""Agreement of two `paddle-pp ocr` runs on the same images, e.g. aarch64 against x86
(paddle_pp/tools/compare_results.py)."""
import sys

from paddle_pp.tools.compare_results import main

if __name__ == "__main__":
    sys.exit(main())
