"""Synthesize text-line images for recognition training (text_renderer style)."""
import sys

from paddle_pp.dataset_tools.synth_rec import main

if __name__ == "__main__":
    sys.exit(main())
