"""Write the C++ demo's ocr_config.txt from the YAML configs (the same as `paddle-pp lite config`)."""
import sys

from paddle_pp.lite.make_cpp_config import main

if __name__ == "__main__":
    sys.exit(main())
