#!/usr/bin/env bash
# Install the pinned OpenMMLab stack (requirements/stack.txt) into the environment of
# $PYTHON (default: python), then mmwsss itself in editable mode.
#
# mmcv 2.1.0 has no wheels for recent torch, so it is built from source with its ops.
# pip's wheel cache does not know which torch a wheel was built against, so the build
# bypasses it and lands in our own wheelhouse keyed by torch version + CUDA version.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
REQ=requirements/stack.txt
pin() { grep -E "^$1[=<>]" "$REQ" | head -n1; }

"$PY" -m pip install -q --upgrade "pip>=23" "setuptools<81" wheel
# A GPU user installs their CUDA torch first; we then keep it (TORCH_SPEC= to skip).
if ! "$PY" -c 'import torch, torchvision' 2>/dev/null; then
  "$PY" -m pip install "${TORCH_SPEC:-$(pin torch)}" "${TORCHVISION_SPEC:-$(pin torchvision)}"
fi

mmcv_pin=$(pin mmcv)
if ! "$PY" - "$mmcv_pin" <<'PYCHK' 2>/dev/null; then
import sys, mmcv, mmcv.ops  # mmcv.ops loads the compiled _ext: fails on a torch ABI mismatch
assert mmcv.__version__ == sys.argv[1].split('==')[1]
PYCHK
  tag=$("$PY" -c 'import torch; print(f"torch{torch.__version__}-cuda{torch.version.cuda}".replace("+", "_"))')
  house=${MMWSSS_WHEELHOUSE:-$HOME/.cache/mmwsss/wheels}/$tag
  mkdir -p "$house"
  if ! ls "$house"/mmcv-*.whl >/dev/null 2>&1; then
    echo "Building $mmcv_pin with ops against $tag (about 10 minutes on 2 cores)..."
    src=$(mktemp -d)
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
      --no-cache-dir -d "$src" "$mmcv_pin"
    tar xzf "$src"/mmcv-*.tar.gz -C "$src"
    # torch >= 2.10 headers require C++20 but mmcv 2.1.0's setup.py asks for C++14/17.
    if grep -q 'C++20' "$("$PY" -c 'import torch.utils.cpp_extension as c; print(c.include_paths()[0])')/ATen/ATen.h"; then
      sed -i -E 's/std[=:]c\+\+1[47]/std=c++20/g' "$src"/mmcv-*/setup.py
    fi
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$PY" -m pip wheel --no-deps \
      --no-build-isolation --no-cache-dir -w "$house.tmp" "$src"/mmcv-*/
    rm -rf "$src"
    mv "$house".tmp/mmcv-*.whl "$house"/ && rmdir "$house.tmp" 2>/dev/null || true
  fi
  "$PY" -m pip install --force-reinstall --no-deps "$house"/mmcv-*.whl
fi

# The rest of the stack (pip keeps the torch and mmcv already there: the pins match).
"$PY" -m pip install -r "$REQ" -r requirements/tests.txt
"$PY" -m pip install --no-deps --no-build-isolation -e .
