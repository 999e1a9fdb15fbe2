"""Make 0/180 direction-classification sets from recognition samples (synthetic or real crops)."""
import sys

from paddle_pp.dataset_tools.synth_cls import main

if __name__ == "__main__":
    sys.exit(main())
