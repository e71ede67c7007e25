#!/usr/bin/env bash
# Install the pinned OpenMMLab stack (requirements/stack.txt) into the environment of
# $PYTHON (default: python), then mmwsss itself in editable mode.
#
# usage: tools/install_stack.sh [--dry-run] [--report FILE] [--if-needed | --check]
#
# --if-needed (what `make` runs): do nothing when the environment already matches the pins:
# its stamp (<sys.prefix>/.stack-stamp, STACK_STAMP overrides) holds the hash of
# requirements/stack.txt + tests.txt, this checkout's path and what the environment holds
# (each listed distribution's installed version, where mmwsss imports from), so a stamp
# matches only while what --check verifies is unchanged (a stamp that is not a regular
# file is ignored, never read), or, without a matching stamp, every pin is satisfied (torch, torchvision installed; mmcv with its ops in
# mmsegmentation's range; the rest at their pins; mmwsss importable from this checkout),
# and then the stamp is written. Else the install below runs and writes the stamp.
# --check: only say whether it matches (exit 0) or what differs (exit 1), and whether the
# stamp would be trusted; nothing installed or written.
#
# An installed torch, torchvision and mmcv are kept exactly as they are: after they are
# settled, a constraints file is written from their installed versions (torch==<installed>,
# ...), and the rest of the stack is installed with their pins filtered out of stack.txt and
# that file as `-c`. The pins apply only to what is not installed:
#   - torch / torchvision absent: installed from the pins, or from
#     TORCH_SPEC / TORCHVISION_SPEC (e.g. TORCH_SPEC='torch==2.6.0'; when only one of the
#     two is absent it is resolved against the one that is there), from TORCH_INDEX_URL
#     when set (e.g. https://download.pytorch.org/whl/cu126 for a CUDA 12.6 build);
#   - mmcv absent: built from source (2.1.0 has no wheels for recent torch) with its ops
#     against the installed torch, into a wheelhouse keyed by torch + CUDA version
#     (~/.cache/mmwsss/wheels/torch<ver>-cuda<ver>/, MMWSSS_WHEELHOUSE overrides), then
#     installed from there. CPU ops by default, also on a GPU machine (our networks need
#     no CUDA op of mmcv's; the build hides the GPU); MMCV_CUDA_OPS=1 (or FORCE_CUDA=1,
#     with nvcc of torch's CUDA version) builds the CUDA ops (wheelhouse key suffix
#     -cudaops). MMCV_SDIST=path/to/mmcv-2.1.0.tar.gz builds from that file (offline),
#     MAX_JOBS (default: all cores) bounds the compile jobs.
#   - an installed mmcv is kept if `import mmcv.ops` works and 2.0.0rc4 <= mmcv < 2.2.0
#     (mmsegmentation 1.2's range); otherwise the script stops and says why (it never
#     replaces an installed mmcv: `pip uninstall mmcv` and rerun to have it built).
# OpenCV: when cv2 already comes from another distribution (opencv-python-headless, say),
# opencv-python is not installed on top of it (two packages writing one cv2/ folder), and
# mmengine, which requires opencv-python, is installed with --no-deps plus its other
# requirements.
# Offline: PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR MMCV_SDIST=DIR/mmcv-2.1.0.tar.gz
# (tools/gpu_check.sh --wheels does that with the wheels of tools/gpu_check.sh --prepare).
#
# --dry-run (or DRY_RUN=1): change nothing, build nothing. Print each step; run the last
# step (the rest of the stack) as `pip install --dry-run --report FILE` (default
# $STACK_REPORT, else $TMPDIR/mmwsss-stack-report.json), with a torch/torchvision that
# would be installed resolved in the same step. pip >= 23.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
DRY_RUN=${DRY_RUN:-0}
REPORT=${STACK_REPORT:-${TMPDIR:-/tmp}/mmwsss-stack-report.json}
IF_NEEDED=0
CHECK_ONLY=0
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --if-needed) IF_NEEDED=1 ;;
    --check) CHECK_ONLY=1 ;;
    --report) REPORT=${2:?--report needs a file}; shift ;;
    --report=*) REPORT=${1#*=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install_stack.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$DRY_RUN" = 1 ] || DRY_RUN=0

PY=${PYTHON:-python}
# pip prints a line per file it looks at (some 270 on a fresh machine, before the demo's 47):
# keep its warnings and errors only; PIP_QUIET=0 for all of it
export PIP_QUIET=${PIP_QUIET:-1}
REQ=requirements/stack.txt
TESTS_REQ=requirements/tests.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "install_stack: $*"; }
die() { echo "install_stack: error: $*" >&2; exit 1; }
# run CMD...: print it; run it unless this is a dry run
run() { echo "+ $*"; [ "$DRY_RUN" = 1 ] || "$@"; }
pin() { grep -E "^$1[ =<>!~;]" "$REQ" | head -n1; }
# the installed version of distribution $1 (nothing when it is not installed)
installed() {
  "$PY" - "$1" <<'PYV' 2>/dev/null || true
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
PYV
}
"$PY" -c 'import sys; assert sys.version_info >= (3, 9)' || die "$PY: Python >= 3.9 needed"

# --if-needed / --check: does the environment already match the pins?
pins_hash=$(cat "$REQ" "$TESTS_REQ" | sha256sum | cut -d' ' -f1)
# and this checkout: an environment shared by two checkouts (PYTHON=...) holds one
# editable mmwsss, which must be the one of the checkout that runs it
stamp=${STACK_STAMP:-$("$PY" -c 'import sys; print(sys.prefix)')/.stack-stamp}
installed_state() {  # what --check verifies, cheaply: versions and mmwsss's location
  "$PY" -I - "$REQ" "$TESTS_REQ" <<'PYSTATE'
import importlib.util
import os
import re
import sys
from importlib.metadata import PackageNotFoundError, version
names = sorted({re.split(r'[\s\[<>=!~;]', line.split('#')[0].strip(), 1)[0].lower()
                for path in sys.argv[1:3] for line in open(path)
                if line.split('#')[0].strip()} | {'torch', 'torchvision', 'mmcv'})
for n in names:
    try:
        print(n, version(n))
    except PackageNotFoundError:
        print(n, '-')
for pkg in ('mmwsss', 'mmcv', 'torch'):
    spec = importlib.util.find_spec(pkg)  # found, not imported
    print(pkg, 'at', os.path.realpath(spec.origin) if spec and spec.origin else '-')
    if pkg == 'mmcv' and spec and spec.origin:  # its compiled ops, as built
        folder = os.path.dirname(spec.origin)
        for f in sorted(os.listdir(folder)):
            if f.startswith('_ext'):
                st = os.stat(os.path.join(folder, f))
                print(f, st.st_size, st.st_mtime_ns)
print(sys.version)
PYSTATE
}
stamp_text() { echo "$pins_hash $(pwd -P) $(installed_state 2>&1 | sha256sum | cut -d' ' -f1)"; }
stamp_problem() {  # why the stamp is not trusted (nothing printed: trusted)
  if [ ! -e "$stamp" ] && [ ! -L "$stamp" ]; then echo "absent"
  elif [ ! -f "$stamp" ]; then echo "not a regular file: ignored"  # a FIFO would hang cat
  elif [ "$(head -c 4096 "$stamp" 2>/dev/null)" != "$(stamp_text)" ]; then
    echo "made for other pins, another checkout or other installed versions"
  fi
}
write_stamp() {
  [ "$DRY_RUN" = 1 ] && return 0
  if [ -e "$stamp" ] && [ ! -f "$stamp" ]; then
    say "$stamp is not a regular file: no stamp written"; return 0
  fi
  local text; text=$(stamp_text)
  echo "$text" 2>/dev/null >"$stamp" || true
}
env_matches() {  # prints what differs; exit status 0 when nothing does
  # -I: this checkout (the current folder) is not on sys.path; the installed mmwsss is asked
  "$PY" -I - "$REQ" "$TESTS_REQ" "$PWD" <<'PYMATCH'
import importlib.util
import os
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.version import Version
except ImportError:
    sys.exit(print('pip is not installed') or 1)
bad = []
for path in sys.argv[1:3]:
    for line in open(path):
        line = line.split('#')[0].strip()
        if not line:
            continue
        req = Requirement(line)
        try:
            have = version(req.name)
        except PackageNotFoundError:
            bad.append(f'{req.name} is not installed')
            continue
        if req.name in ('torch', 'torchvision', 'mmcv'):
            continue  # installed ones are kept, whatever their version (mmcv: below)
        if not req.specifier.contains(have, prereleases=True):
            bad.append(f'{req.name} {have} does not satisfy {req.specifier}')
try:
    import mmcv, mmcv.ops  # noqa: E401  (the compiled ops load against this torch)
    if not Version('2.0.0rc4') <= Version(mmcv.__version__) < Version('2.2.0'):
        bad.append(f'mmcv {mmcv.__version__} is outside >=2.0.0rc4,<2.2.0')
except Exception as e:  # noqa: BLE001
    bad.append(f'mmcv.ops does not import ({type(e).__name__}: {e})')
spec = importlib.util.find_spec('mmwsss')  # where it is, without importing it
here = os.path.realpath(sys.argv[3])
if spec is None or not spec.origin:
    bad.append('mmwsss is not installed (pip install -e .)')
elif not os.path.realpath(spec.origin).startswith(here + os.sep):
    bad.append(f'mmwsss is installed from {os.path.dirname(spec.origin)}, not {here}')
print('\n'.join(bad))
sys.exit(1 if bad else 0)
PYMATCH
}
if [ "$IF_NEEDED" = 1 ] || [ "$CHECK_ONLY" = 1 ]; then
  why_not=$(stamp_problem)
  if [ "$CHECK_ONLY" = 0 ] && [ -z "$why_not" ]; then
    say "$stamp: $PY was installed from these pins for this checkout and holds what it" \
        "held then; nothing to do"
    exit 0
  fi
  if differs=$(env_matches 2>&1); then
    say "the environment of $PY already matches the pins; nothing to install"
    [ "$CHECK_ONLY" = 1 ] || write_stamp
    [ "$CHECK_ONLY" = 0 ] || say "stamp $stamp: ${why_not:-matches (--if-needed trusts it)}"
    exit 0
  fi
  if [ "$CHECK_ONLY" = 1 ]; then
    say "the environment of $PY does not match the pins:"; echo "$differs" | sed 's/^/    /'
    say "stamp $stamp: ${why_not:-records these versions, yet the check above fails:" \
        "remove it}"
    exit 1
  fi
  say "installing: $(echo "$differs" | head -n 3 | paste -sd ';' -)"
fi
[ "$DRY_RUN" = 1 ] && say "dry run: nothing is installed or built"

# 0. pip >= 23 (for --dry-run --report) and setuptools < 81 (pkg_resources, which mmcv's
#    setup.py and mmengine import); only-if-needed, so offline installs need no new pip.
run "$PY" -m pip install -q "pip>=23" "setuptools<81" wheel

# 1. torch, torchvision: kept when installed; a missing one comes from the pin/spec,
#    resolved against the one that is there.
cons=$work/constraints.txt
write_constraints() {  # name==installed for each of torch, torchvision, mmcv installed
  # and setuptools < 81 in every step: torch asks for setuptools >= 77 and pip would take
  # the newest, which has no pkg_resources (mmengine and mmcv's setup.py import it)
  echo 'setuptools<81' >"$cons"
  local n v
  for n in torch torchvision mmcv; do
    v=$(installed "$n")
    [ -z "$v" ] || echo "$n==$v" >>"$cons"
  done
}
torch_before=$(installed torch)
tv_before=$(installed torchvision)
write_constraints
want=()
if [ -z "$torch_before" ]; then
  if [ -n "${TORCH_SPEC:-}" ]; then want+=("$TORCH_SPEC")
  elif [ -z "$tv_before" ] && [ -z "${TORCHVISION_SPEC:-}" ]; then want+=("$(pin torch)")
  else want+=(torch); fi
else
  say "keeping torch $torch_before"
fi
if [ -z "$tv_before" ]; then
  if [ -n "${TORCHVISION_SPEC:-}" ]; then want+=("$TORCHVISION_SPEC")
  elif [ -z "$torch_before" ] && [ -z "${TORCH_SPEC:-}" ]; then want+=("$(pin torchvision)")
  else want+=(torchvision); fi
else
  say "keeping torchvision $tv_before"
fi
torch_idx=()
[ -z "${TORCH_INDEX_URL:-}" ] || torch_idx=(--index-url "$TORCH_INDEX_URL")
if [ ${#want[@]} -gt 0 ]; then
  if [ "$DRY_RUN" = 1 ]; then
    say "would install ${want[*]} ${torch_idx[*]+${torch_idx[*]}} (resolved in the last step below)"
  else
    run "$PY" -m pip install ${torch_idx[@]+"${torch_idx[@]}"} "${want[@]}" -c "$cons"
    write_constraints
  fi
fi

# 2. mmcv: an installed one is kept (or the script stops); else built against torch.
mmcv_pin=$(pin mmcv)
mmcv_v=$(installed mmcv)
if [ -n "$mmcv_v" ]; then
  if ! err=$("$PY" - 2>&1 <<'PYCHK'
import mmcv, mmcv.ops  # mmcv.ops loads the compiled _ext: fails on a torch ABI mismatch
from pip._vendor.packaging.version import Version
v = Version(mmcv.__version__)
assert Version('2.0.0rc4') <= v < Version('2.2.0'), \
    f'mmcv {v} is outside mmsegmentation 1.2\'s range >=2.0.0rc4,<2.2.0'
PYCHK
  ); then
    die "mmcv $mmcv_v is installed but unusable:
$(echo "$err" | tail -n 3)
This script never replaces an installed mmcv. Run \`$PY -m pip uninstall mmcv\`, then this
script again: it builds $mmcv_pin with its ops against your torch."
  fi
  say "keeping mmcv $mmcv_v"
else
  [ -z "$(installed mmcv-lite)" ] || die "mmcv-lite is installed: mmsegmentation imports \
mmcv.ops, which mmcv-lite lacks. \`$PY -m pip uninstall mmcv-lite\`, then rerun."
  case ${MMCV_CUDA_OPS:-${FORCE_CUDA:-0}} in 1) ops=cuda ;; *) ops=cpu ;; esac
  if [ "$DRY_RUN" = 1 ] && [ -z "$torch_before" ]; then
    say "would build $mmcv_pin with $ops ops against the torch above"
  else
    tag=$("$PY" -c 'import torch; print(f"torch{torch.__version__}-cuda{torch.version.cuda}".replace("+", "_"))')
    [ "$ops" = cpu ] || tag=$tag-cudaops
    house=${MMWSSS_WHEELHOUSE:-$HOME/.cache/mmwsss/wheels}/$tag
    if ls "$house"/mmcv-*.whl >/dev/null 2>&1; then
      say "mmcv for $tag is in the wheelhouse $house"
    elif [ "$DRY_RUN" = 1 ]; then
      say "would build $mmcv_pin with $ops ops against $tag into $house"
    else
      say "building $mmcv_pin with $ops ops against $tag (about 10 minutes on 2 cores)..."
      src=$work/mmcv-src
      mkdir -p "$src" "$house"
      if [ -n "${MMCV_SDIST:-}" ]; then
        [ -f "$MMCV_SDIST" ] || die "MMCV_SDIST=$MMCV_SDIST: no such file"
        cp "$MMCV_SDIST" "$src"/
      else
        "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
          --no-cache-dir -d "$src" "$mmcv_pin"
      fi
      tar xzf "$src"/mmcv-*.tar.gz -C "$src"
      # torch >= 2.10 headers require C++20 but mmcv 2.1.0's setup.py asks for C++14/17.
      if grep -q 'C++20' "$("$PY" -c 'import torch.utils.cpp_extension as c; print(c.include_paths()[0])')/ATen/ATen.h"; then
        sed -i -E 's/std[=:]c\+\+1[47]/std=c++20/g' "$src"/mmcv-*/setup.py
      fi
      # mmcv's setup.py builds the CUDA ops whenever torch sees a GPU: hide it for CPU ops.
      if [ "$ops" = cuda ]; then opsenv=(FORCE_CUDA=1); else opsenv=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=); fi
      rm -rf "$house.tmp"
      env "${opsenv[@]}" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$PY" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$house.tmp" "$src"/mmcv-*/
      mv "$house".tmp/mmcv-*.whl "$house"/ && rmdir "$house.tmp" 2>/dev/null || true
    fi
    run "$PY" -m pip install --no-deps "$house"/mmcv-*.whl
    [ "$DRY_RUN" = 1 ] || write_constraints
  fi
fi

# 3. The rest of the stack, with the torch/torchvision/mmcv pins filtered out and the
#    installed versions as constraints (a global pip constraint file adds to these).
grep -vE '^(torch|torchvision|mmcv)[ =<>!~;]' "$REQ" >"$work/stack-rest.txt"
cv2_dist=$("$PY" - <<'PYCV' 2>/dev/null || true
import importlib.metadata as md
if hasattr(md, 'packages_distributions'):
    print(' '.join(md.packages_distributions().get('cv2', [])))
PYCV
)
late=()
case " ${cv2_dist,,} " in *" opencv-python "* | *" opencv_python "* | "  ") cv2_other=0 ;; *) cv2_other=1 ;; esac
if [ "$cv2_other" = 1 ]; then
  mmengine_pin=$(pin mmengine)
  say "cv2 comes from $cv2_dist: opencv-python is not installed on top of it, $mmengine_pin goes in with --no-deps"
  grep -vE '^(opencv-python|mmengine)[ =<>!~;]' "$work/stack-rest.txt" >"$work/s" && mv "$work/s" "$work/stack-rest.txt"
  "$PY" -m pip install -q --dry-run --no-deps --ignore-installed --report "$work/mmengine.json" "$mmengine_pin"
  "$PY" - "$work/mmengine.json" >>"$work/stack-rest.txt" <<'PYDEPS'
import json, re, sys
meta = json.load(open(sys.argv[1]))['install'][0]['metadata']
for r in meta.get('requires_dist', []):
    if 'extra ==' not in r and not re.match(r'opencv[-_]python\b', r, re.I):
        print(r)
PYDEPS
  late=("$mmengine_pin")
fi
say "constraints (installed versions):"; sed 's/^/    /' "$cons"
final=("$PY" -m pip install -r "$work/stack-rest.txt" -r "$TESTS_REQ" -c "$cons")
if [ "$DRY_RUN" = 1 ]; then
  [ -z "${TORCH_INDEX_URL:-}" ] || final+=(--extra-index-url "$TORCH_INDEX_URL")
  final+=(${want[@]+"${want[@]}"} --dry-run --report "$REPORT")
  echo "+ ${final[*]}"
  "${final[@]}"
  say "pip's report: $REPORT"
else
  run "${final[@]}"
fi
[ ${#late[@]} -eq 0 ] || run "$PY" -m pip install --no-deps "${late[@]}"
run "$PY" -m pip install --no-deps --no-build-isolation -e .

# What the user had is still there, unchanged.
if [ "$DRY_RUN" = 0 ]; then
  for n in torch torchvision mmcv; do
    case $n in torch) b=$torch_before ;; torchvision) b=$tv_before ;; mmcv) b=$mmcv_v ;; esac
    a=$(installed $n)
    [ -z "$b" ] || [ "$b" = "$a" ] || die "$n changed from $b to $a"
  done
  say "done: torch $(installed torch), torchvision $(installed torchvision), mmcv $(installed mmcv)"
  write_stamp
fi
