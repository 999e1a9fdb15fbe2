"""Prepare the data of the README's training experiments under train_data/ (idempotent)."""
import sys

from paddle_pp.dataset_tools.prepare_experiments import main

if __name__ == "__main__":
    sys.exit(main())
