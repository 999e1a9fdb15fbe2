"""End-to-end accuracy (detection + recognition) of the system on a labeled detection set."""
import sys

from paddle_pp.tools.eval_e2e import main

if __name__ == "__main__":
    sys.exit(main())
