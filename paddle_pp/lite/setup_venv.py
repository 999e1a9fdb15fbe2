"""`paddle-pp lite setup`: create the Python 3.10 venv that holds Paddle-Lite's opt and runtime.

The venv ($PADDLE_PP_LITE_VENV, default ~/.paddle_pp/lite-venv) is made only by this command: constructing a
Lite predictor never installs anything. Needs Python 3.10 (no paddlelite wheel exists for 3.11): python3.10 on
PATH, pyenv's 3.10.13, or $PADDLE_PP_LITE_PYTHON.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    from paddle_pp.engine.lite import setup_lite_venv

    try:
        print(setup_lite_venv())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
