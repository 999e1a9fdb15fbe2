"""Synthesize screenshots: application pages rendered by a real browser (headless Chromium), light and dark."""
import sys

from paddle_pp.dataset_tools.synth_screen import main

if __name__ == "__main__":
    sys.exit(main())
