"""Prepare under train_data/ the data of the recipes that reproduce the bundled models (idempotent)."""
import sys

from paddle_pp.dataset_tools.prepare_data import main

if __name__ == "__main__":
    sys.exit(main())
