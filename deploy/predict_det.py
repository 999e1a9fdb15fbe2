"""PaddleOCR's predict_det.py: text detection (the same as `paddle-pp det`)."""
import sys

from paddle_pp.tools.predict_det import main

if __name__ == "__main__":
    sys.exit(main())
