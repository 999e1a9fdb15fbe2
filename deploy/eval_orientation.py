"""How well use_doc_orientation_classify turns pages upright (paddle_pp/tools/eval_orientation.py)."""
import sys

from paddle_pp.tools.eval_orientation import main

if __name__ == "__main__":
    sys.exit(main())
