"""`python -m paddle_pp ...` is `paddle-pp ...`."""
import sys

from paddle_pp.cli import main

sys.exit(main())
