#!/usr/bin/env bash
# An aarch64 Python 3.11 with paddle-pp's ONNX Runtime dependencies, run on this x86_64 machine by qemu-user:
# the ARM Linux path of docs/deploy.md ("ONNX Runtime on ARM") checked without an ARM board.
#
#   bash deploy/arm/setup_python.sh [DIR]      # default: ~/.paddle_pp/aarch64
#   PYTHONPATH=$PWD DIR/python -c "from paddle_pp import PPOCR; print(PPOCR(lang='en')('receipt.jpg'))"
#
# DIR/sysroot: Debian 12's arm64 python3.11 and the libraries it loads, unpacked from the archive's .debs (apt-get
# download: nothing is installed on the host); DIR/site: the aarch64 wheels of deploy/arm/requirements-aarch64.txt;
# DIR/python: the launcher (qemu-aarch64-static -L DIR/sysroot). Needs qemu-user-static and dpkg's arm64
# architecture (dpkg --add-architecture arm64 && apt-get update), as the C++ demo's aarch64 tests do. Re-running
# it rebuilds DIR from scratch, into a temporary folder first, so a failed run leaves the last good one in place.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$HOME/.paddle_pp/aarch64}"
qemu="$(command -v qemu-aarch64-static || true)"
if [ -z "$qemu" ]; then
  echo "error: qemu-aarch64-static not found (apt-get install qemu-user-static)" >&2
  exit 2
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "error: dpkg has no arm64 architecture (dpkg --add-architecture arm64 && apt-get update)" >&2
  exit 2
fi

# The interpreter and the shared libraries python3.11 and the wheels load (libc comes with libc6).
debs=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libgcc-s1 libstdc++6 libexpat1 zlib1g
      libssl3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libreadline8 libcrypt1
      libdb5.3 libgdbm6 libnsl2 libtirpc3)

mkdir -p "$(dirname "$dir")"
work="$(mktemp -d "${dir%/}.new.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/sysroot" "$work/site"
# apt's sandbox user cannot write to a root-owned temp folder: apt warns and downloads as root; that warning is dropped
if ! (cd "$work/debs" && apt-get download -qq "${debs[@]/%/:arm64}" 2> >(grep -v "unsandboxed" >&2)); then
  echo "error: apt-get download of Debian's arm64 python3.11 failed (is the arm64 package list there? apt-get update)" >&2
  exit 1
fi
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/sysroot"; done
rm -rf "$work/debs"

python3 -m pip install -q --target "$work/site" --no-deps --only-binary=:all: --implementation cp \
  --python-version 3.11 --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
  --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 -r "$here/requirements-aarch64.txt"

cat > "$work/python" <<'LAUNCHER'
#!/bin/sh
# aarch64 python3.11 under qemu-user (deploy/arm/setup_python.sh); PYTHONPATH as given, then the aarch64 wheels.
here="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$here/site" exec qemu-aarch64-static -L "$here/sysroot" \
  "$here/sysroot/usr/bin/python3.11" "$@"
LAUNCHER
chmod +x "$work/python"
machine="$("$work/python" -c 'import platform, numpy, onnxruntime, cv2; print(platform.machine())')"
[ "$machine" = aarch64 ] || { echo "error: the launcher runs on '$machine', not aarch64" >&2; exit 1; }

rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
echo "aarch64 python: $dir/python ($(du -sh "$dir" | cut -f1))"
