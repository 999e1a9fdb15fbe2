"""Export a model for Paddle Inference (the same as `paddle-pp export`)."""
import sys

from paddle_pp.tools.export_model import main

if __name__ == "__main__":
    sys.exit(main())
