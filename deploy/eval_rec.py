"""Recognition accuracy of the system's recognizer on a labeled set."""
import sys

from paddle_pp.tools.eval_rec import main

if __name__ == "__main__":
    sys.exit(main())
