"""Compare Paddle-Lite (x86 .nb) with Paddle on the same images (the same as `paddle-pp lite compare`)."""
import sys

from paddle_pp.lite.compare_lite import main

if __name__ == "__main__":
    sys.exit(main())
