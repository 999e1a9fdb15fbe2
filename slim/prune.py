"""Sensitivity-based FPGM pruning of the detector (the same as `paddle-pp prune`)."""
import sys

from paddle_pp.slim.prune import main

if __name__ == "__main__":
    sys.exit(main())
