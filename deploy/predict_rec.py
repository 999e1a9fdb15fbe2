"""PaddleOCR's predict_rec.py: recognition of crops (the same as `paddle-pp rec`)."""
import sys

from paddle_pp.tools.predict_rec import main

if __name__ == "__main__":
    sys.exit(main())
