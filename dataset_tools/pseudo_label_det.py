"""Pseudo-label images for detection with a trained detector (knowledge distillation to an unlabelled set)."""
import sys

from paddle_pp.dataset_tools.pseudo_label_det import main

if __name__ == "__main__":
    sys.exit(main())
