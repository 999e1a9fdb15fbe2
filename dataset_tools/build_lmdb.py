"""Build LMDB sets from label files, and check existing ones."""
import sys

from paddle_pp.dataset_tools.build_lmdb import main

if __name__ == "__main__":
    sys.exit(main())
