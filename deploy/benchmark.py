"""Speed and memory of the OCR system, against RapidOCR with --compare (the same as `paddle-pp bench`)."""
import sys

from paddle_pp.tools.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
