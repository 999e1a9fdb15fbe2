"""PACT quantization-aware training (the same as `paddle-pp quant`)."""
import sys

from paddle_pp.slim.quant import main

if __name__ == "__main__":
    sys.exit(main())
