"""Re-render the bundled demo images (paddle_pp/demo_images)."""
import sys

from paddle_pp.tools.make_demo_images import main

if __name__ == "__main__":
    sys.exit(main())
