"""Label conversions and statistics."""
import sys

from paddle_pp.dataset_tools.convert import main

if __name__ == "__main__":
    sys.exit(main())
