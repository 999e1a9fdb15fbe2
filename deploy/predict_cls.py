"""PaddleOCR's predict_cls.py: 0/180 classification of crops (the same as `paddle-pp cls`)."""
import sys

from paddle_pp.tools.predict_cls import main

if __name__ == "__main__":
    sys.exit(main())
