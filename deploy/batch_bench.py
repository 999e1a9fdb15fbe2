"""Batch benchmark (the same as python -m paddle_pp.batch.bench): paddle-pp ocr vs paddle-pp batch, local and on 2 nodes."""
import sys

from paddle_pp.batch.bench import main

if __name__ == "__main__":
    sys.exit(main())
