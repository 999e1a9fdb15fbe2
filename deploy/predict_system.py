"""PaddleOCR's predict_system.py: detect, classify and recognize (the same as `paddle-pp ocr`)."""
import sys

from paddle_pp.tools.predict_system import main

if __name__ == "__main__":
    sys.exit(main())
