#!/usr/bin/env bash
# Create the Python 3.10 venv that holds Paddle-Lite's opt and Python runtime (no wheel exists for 3.11).
#
#   paddle-pp lite setup                     # runs this script; prints the venv path: $PADDLE_PP_LITE_VENV (default ~/.paddle_pp/lite-venv)
#
# Pins: paddlelite==2.13rc0 (opt and runtime; keep it equal to the inference library you deploy with)
# and numpy==1.26.4. The interpreter is $PADDLE_PP_LITE_PYTHON, else python3.10 from PATH, else pyenv's
# 3.10.13. Idempotent and safe to run concurrently: a finished venv carries a marker file.
set -euo pipefail

LITE_VERSION="2.13rc0"
VENV="${PADDLE_PP_LITE_VENV:-$HOME/.paddle_pp/lite-venv}"
MARKER="$VENV/.paddle_pp_lite_$LITE_VERSION"

[ -f "$MARKER" ] && { echo "$VENV"; exit 0; }

is_py310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }
PY="${PADDLE_PP_LITE_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python" /root/.pyenv/versions/3.10.13/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1 && is_py310 "$(command -v "$candidate")"; then
      PY="$(command -v "$candidate")"; break
    fi
  done
fi
if [ -z "$PY" ] || ! is_py310 "$PY"; then
  echo "error: Paddle-Lite's Python wheel needs Python 3.10 (there is none for 3.11); install one or set PADDLE_PP_LITE_PYTHON" >&2
  exit 1
fi

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$MARKER" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "paddlelite==$LITE_VERSION" "numpy==1.26.4" >&2
  "$VENV/bin/python" -c "import paddlelite.lite" >&2
  touch "$MARKER"
fi
echo "$VENV"
