#!/usr/bin/env bash
# The package as a user gets it: build the wheel, install it into a clean venv (pinned requirements first), and
# from a directory outside the checkout OCR a freshly rendered image with `paddle-pp ocr`. Checks that the text
# comes out, that paddle_pp is imported from site-packages, and that the first run (official weights imported
# and exported into an empty model cache) installs nothing: `pip freeze` is the same before and after.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel -q --no-deps -w "$work/dist" "$repo" >/dev/null
wheel=$(ls "$work"/dist/paddle_pp-*.whl)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --upgrade pip >/dev/null
"$work/venv/bin/pip" install -q -r "$repo/requirements.txt"
"$work/venv/bin/pip" install -q "$wheel"

cd "$work"   # outside the checkout: nothing may come from the repository
export PATH="$work/venv/bin:$PATH" PADDLE_PP_MODELS="$work/models"
python - <<'PY'
import sys
import cv2
import paddle_pp
from paddle_pp.utils.text_render import render_lines

assert "site-packages" in paddle_pp.__file__, paddle_pp.__file__
image, _ = render_lines([("WHEEL CHECK 2026", 44), ("paddle-pp installed", 40)], size=(720, 260))
cv2.imwrite("rendered.png", image)
print(f"paddle_pp {paddle_pp.__version__} from {paddle_pp.__file__}", file=sys.stderr)
PY
pip freeze > freeze_before.txt
paddle-pp ocr --image_dir rendered.png --output out
pip freeze > freeze_after.txt
diff freeze_before.txt freeze_after.txt || { echo "FAIL: the first run changed the environment" >&2; exit 1; }
grep -q "WHEEL CHECK 2026" out/system_results.txt || { echo "FAIL: text not found:" >&2; cat out/system_results.txt >&2; exit 1; }
grep -q "installed" out/system_results.txt
paddle-pp --version
echo "wheel check passed: $(basename "$wheel")"
