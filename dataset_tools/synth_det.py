"""Synthesize detection images: text instances rendered onto backgrounds with exact polygons."""
import sys

from paddle_pp.dataset_tools.synth_det import main

if __name__ == "__main__":
    sys.exit(main())
