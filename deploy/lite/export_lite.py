"""Convert the models to Paddle-Lite .nb files with opt (the same as `paddle-pp lite export`)."""
import sys

from paddle_pp.lite.export_lite import main

if __name__ == "__main__":
    sys.exit(main())
