"""Prepare under train_data/ the label files of the recipes and the evaluation sets: `paddle-pp data prepare`."""
import sys

from paddle_pp.dataset_tools.prepare_data import main

if __name__ == "__main__":
    sys.exit(main())
