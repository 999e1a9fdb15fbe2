"""Convert an exported model to ONNX (the same as `paddle-pp export_onnx`)."""
import sys

from paddle_pp.tools.export_onnx import main

if __name__ == "__main__":
    sys.exit(main())
