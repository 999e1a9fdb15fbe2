"""Direction accuracy of the system's classifier on a labeled set."""
import sys

from paddle_pp.tools.eval_cls import main

if __name__ == "__main__":
    sys.exit(main())
