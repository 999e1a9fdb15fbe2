"""Detection hmean of the system's detector on a labeled set."""
import sys

from paddle_pp.tools.eval_det import main

if __name__ == "__main__":
    sys.exit(main())
