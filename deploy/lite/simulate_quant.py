"""A model.onnx with the weights `paddle-pp lite export --quant` stores as integers on their grid, to measure the
.nb's accuracy on x86 (the same as `paddle-pp lite simulate`)."""
import sys

from paddle_pp.lite.quant_weights import main

if __name__ == "__main__":
    sys.exit(main())
