#!/usr/bin/env bash
# Install mmwsss's stack offline on a GPU node and run tools/gpu_check.py there.
# On a node where mmwsss is installed already, run the check itself instead:
#   python tools/gpu_check.py --out OUT       (parts, pass criteria: python tools/gpu_check.py -h)
#
# usage:
#   tools/gpu_check.sh --prepare DIR [--python 3.12 [--python 3.11]] [--max-mib N]
#       On a machine with network access: fill DIR with what an offline node needs to install
#       the stack for each Python asked for (default 3.12 and 3.11): wheels, and the sdists of
#       mmcv (built on the node against its torch) and pydensecrf2. Left out: torch,
#       torchvision, CUDA libraries and the large packages a CUDA image already has (numpy,
#       scipy, matplotlib, pillow, opencv). Prints DIR's size; with --max-mib, fails if over N.
#   tools/gpu_check.sh --wheels DIR --out OUT [--cuda-ops] [-- ARGS]
#       On the GPU node, offline: install from DIR with tools/install_stack.sh into $PYTHON's
#       environment, keeping its torch and torchvision (mmcv 2.1.0 is built against that torch
#       with all cores: CPU ops, or the CUDA ops with --cuda-ops), write OUT/install.json as
#       soon as the install is over, then run
#       `$PYTHON tools/gpu_check.py --out OUT --scratch SCRATCH ARGS`. OUT ends with
#       gpu_check.json, gpu_check.md (each part's result beside its pass criterion),
#       install.json and logs.tar.gz; the logs, generated data and work dirs are in SCRATCH
#       (GPU_CHECK_SCRATCH, default a new $TMPDIR/mmwsss_gpu_check.XXXXXX for each run).
#   tools/gpu_check.sh --dry-run --out OUT [-- ARGS]
#       No install, no GPU: `$PYTHON tools/gpu_check.py --dry-run --out OUT ARGS` runs the
#       same parts on the CPU at toy sizes (it checks the script and the report, not a GPU).
#   tools/gpu_check.sh --help
# ARGS go to tools/gpu_check.py, e.g. `-- --parts a,b --time-limit 900`.
# PYTHON is the interpreter: for --wheels python3 by default (the one whose torch is kept: the
# stack is pip-installed into its environment), for --dry-run .venv/bin/python when there,
# else python3.
set -euo pipefail

# Maintainer notes (not shown by --help; the project's own GPU runs: benchmarks/README.md):
# - --wheels installs straight into $PYTHON's environment. On a bare CUDA image python3 may
#   itself be a venv holding torch (e.g. /opt/torch/.venv): `pip install --user` is refused
#   inside a venv, and a nested `venv --system-site-packages` would see the base
#   interpreter's packages, not torch. The install keeps every package it does not need to
#   change (pip's only-if-needed), and install_stack.sh keeps torch/torchvision by
#   constraints from their installed versions.
# - Where only a few small files may travel to and from the node, put DIR inside the
#   checkout, ignored (`echo /.gpu_wheels/ >> .git/info/exclude`), prepare one Python with
#   --max-mib, and let only OUT come back (the logs are packed into OUT/logs.tar.gz).
caller=$PWD  # --prepare, --wheels and --out resolve from here, as the user typed them
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "gpu_check.sh: error: $*" >&2; exit 1; }

# What --prepare leaves out, and why (sizes of the manylinux x86-64 wheels, one Python):
#   torch, torchvision, mmcv, nvidia-*, triton, cuda-*: the machine's own are kept (mmcv is
#     built there from the sdist, which --prepare fetches);
#   numpy (17 MB), scipy (35 MB), matplotlib (10 MB) with fonttools (5 MB), contourpy and
#     kiwisolver, pillow (7 MB), opencv-python (71 MB) / -headless (57 MB): together over
#     twice 64 MiB, and all in common CUDA images (e.g. numpy 2.5 and
#     opencv-python-headless, which provides cv2, so install_stack.sh installs no opencv-python).
#     Its versions must meet requirements/stack.txt's bounds (numpy>=2,<3, pillow>=10,
#     matplotlib>=3.8); if not, the offline install stops and names the one missing.
# Everything else of the stack and requirements/tests.txt, with their dependencies, comes
# as wheels for each Python asked for, plus setuptools<81, wheel and ninja for mmcv's build
# and the pydensecrf2 1.1 sdist (no Linux wheels upstream) with its build requirement
# Cython 0.29.36; where the preparing machine has an interpreter of that version, the
# pydensecrf2 wheel is built there so the node need not compile it.
SKIP_RE='^(torch|torchvision|mmcv|mmcv-lite|triton|nvidia-.*|cuda-.*|numpy|scipy|matplotlib|fonttools|contourpy|kiwisolver|pillow|opencv-python|opencv-python-headless)$'
mode= dir= out= cuda_ops=0 max_mib= pys=() extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --prepare) mode=prepare; dir=${2:?--prepare needs a folder}; shift ;;
    --wheels) mode=wheels; dir=${2:?--wheels needs a folder}; shift ;;
    --dry-run) mode=dry-run ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    --python) pys+=("${2:?--python needs a version such as 3.12}"); shift ;;
    --max-mib) max_mib=${2:?--max-mib needs a size in MiB}; shift ;;
    --cuda-ops) cuda_ops=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "gpu_check.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$mode" ] || { usage >&2; exit 2; }
[ "$mode" = prepare ] || [ ${#pys[@]} -eq 0 ] || die "--python goes with --prepare"
[ "$mode" = prepare ] || [ -z "$max_mib" ] || die "--max-mib goes with --prepare"
[ -z "$max_mib" ] || [[ $max_mib =~ ^[1-9][0-9]*$ ]] || die "--max-mib wants a whole number of MiB > 0"
from_caller() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s' "$caller/$1" ;; esac; }
[ -z "$dir" ] || dir=$(from_caller "$dir")
[ -z "$out" ] || out=$(from_caller "$out")
[ "$mode" = wheels ] || [ "$cuda_ops" = 0 ] || die "--cuda-ops goes with --wheels"

prepare() {
  [ ${#pys[@]} -gt 0 ] || pys=(3.12 3.11)
  local py=${PYTHON:-python3} t0=$SECONDS v a
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  local plat=(--only-binary=:all: --implementation cp --platform manylinux2014_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64
    --platform manylinux_2_28_x86_64)
  grep -vE '^(torch|torchvision|mmcv)[ =<>!~;]' requirements/stack.txt >"$tmp/stack.txt"
  grep -vE '^pydensecrf2[ =<>!~;]' requirements/tests.txt >"$tmp/tests.txt"
  local crf_pin
  crf_pin=$(grep -E '^pydensecrf2[ =<>!~;]' requirements/tests.txt | head -n1)
  for v in "${pys[@]}"; do
    a=${v/./}
    echo "gpu_check.sh: resolving the stack for cp$a..."
    # pip's resolution for that Python (metadata only), then each chosen wheel, no deps.
    "$py" -m pip install -q --dry-run --ignore-installed --target "$tmp/t" \
      --report "$tmp/r$a.json" --python-version "$v" --abi "cp$a" "${plat[@]}" \
      -r "$tmp/stack.txt" -r "$tmp/tests.txt" "setuptools<81" wheel ninja "Cython==0.29.36"
    "$py" - "$tmp/r$a.json" "$SKIP_RE" >"$tmp/want$a.txt" <<'PYR'
import json, re, sys
skip = re.compile(sys.argv[2], re.I)
for item in json.load(open(sys.argv[1]))['install']:
    m = item['metadata']
    name = re.sub(r'[-_.]+', '-', m['name']).lower()
    if not skip.match(name):
        print(f"{m['name']}=={m['version']}")
PYR
    "$py" -m pip download -q --no-deps --python-version "$v" --abi "cp$a" "${plat[@]}" \
      -d "$dir" -r "$tmp/want$a.txt"
  done
  # sdists: mmcv (built on the machine against its torch) and pydensecrf2. pip prepares an
  # sdist's metadata even to download it; mmcv's setup.py needs pkg_resources (setuptools<81).
  "$py" -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install -q "setuptools<81" wheel
  "$tmp/venv/bin/python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$dir" "$(grep -E '^mmcv[ =<>!~;]' requirements/stack.txt)" "$crf_pin"
  # pydensecrf2 wheels built here, for each Python asked for that this machine has.
  for v in "${pys[@]}"; do
    local cand="" c
    for c in "python$v" "$HOME"/.pyenv/versions/"$v".*/bin/python"$v"; do
      if "$c" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$v'" 2>/dev/null; then
        cand=$c; break
      fi
    done
    if [ -n "$cand" ]; then
      echo "gpu_check.sh: building ${crf_pin} for Python $v with $cand..."
      "$cand" -m pip wheel -q --no-deps -w "$dir" "$dir"/pydensecrf2-*.tar.gz
    else
      echo "gpu_check.sh: no local Python $v: the GPU machine builds pydensecrf2 from its sdist"
    fi
  done
  ls -1 "$dir" >"$dir/MANIFEST.txt"
  local mib
  mib=$(du -sm "$dir" | cut -f1)
  echo "gpu_check.sh: $dir: $(ls "$dir" | wc -l) files, $mib MiB, Pythons ${pys[*]}, $((SECONDS - t0)) s"
  [ -z "$max_mib" ] || [ "$mib" -le "$max_mib" ] || die "$dir is $mib MiB, over --max-mib \
$max_mib: prepare for one Python (e.g. --python 3.12)"
}

# OUT/install.json from the log and the environment as the install left it
install_json() {  # ok seconds log
  "$PY" - "$1" "$2" "$3" "$cuda_ops" "$torch_before" >"$out/install.json" <<'PYJ' || true
import json, platform, sys
ok, seconds, log, cuda_asked, torch_before = sys.argv[1:6]
rec = {'ok': ok == '1', 'seconds': round(float(seconds), 1),
       'python': platform.python_version(), 'torch_before': torch_before or None,
       'mmcv_ops_asked': 'cuda' if cuda_asked == '1' else 'cpu'}
try:
    import torch
    rec['torch'], rec['cuda'] = torch.__version__, torch.version.cuda
except Exception as e:  # noqa: BLE001
    rec['torch'] = rec['cuda'] = None
    rec['torch_error'] = repr(e)
rec['torch_kept'] = rec['torch'] == (torch_before or None)
try:
    import mmcv
    from mmcv.ops import get_compiling_cuda_version
    rec['mmcv'] = mmcv.__version__
    built = get_compiling_cuda_version()
    rec['mmcv_ops'] = 'cuda' if built and built != 'not available' else 'cpu'
except Exception as e:  # noqa: BLE001
    rec['mmcv'] = rec['mmcv_ops'] = None
    rec['mmcv_error'] = repr(e)
if not rec['ok']:
    with open(log, errors='replace') as f:
        rec['error_tail'] = f.read()[-4000:]
json.dump(rec, sys.stdout, indent=2)
print()
PYJ
}

wheels() {
  [ -n "$out" ] || die "--wheels needs --out OUT"
  [ -d "$dir" ] || die "--wheels $dir: no such folder (made by --prepare)"
  dir=$(cd "$dir" && pwd)
  PY=${PYTHON:-python3}
  mkdir -p "$out"
  local sdist tag
  sdist=$(ls "$dir"/mmcv-*.tar.gz 2>/dev/null | head -n1) || true
  [ -n "$sdist" ] || die "$dir holds no mmcv sdist: run --prepare"
  tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  ls "$dir"/*-"$tag"-*.whl >/dev/null 2>&1 ||
    echo "gpu_check.sh: warning: no $tag wheel in $dir (prepared for another Python?)" >&2
  torch_before=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) || torch_before=
  # OUT stays small (a node may return only a few small files): the report goes
  # there; logs, generated data and work dirs go to SCRATCH, and the logs
  # come back packed as OUT/logs.tar.gz once the checks end.
  # a folder of this run's own: nothing an earlier run left can pass for this one's
  if [ -n "${GPU_CHECK_SCRATCH:-}" ]; then scratch=$(from_caller "$GPU_CHECK_SCRATCH")
  else scratch=$(mktemp -d "${TMPDIR:-/tmp}/mmwsss_gpu_check.XXXXXX"); fi
  mkdir -p "$scratch/logs"
  echo "gpu_check.sh: scratch (logs, data, work dirs): $scratch"
  local ilog=$scratch/logs/install.log
  echo "gpu_check.sh: installing offline from $dir into $PY (torch ${torch_before:-absent}), log: $ilog"
  local t0 rc=0
  t0=$(date +%s.%N)
  PYTHON=$PY PIP_NO_INDEX=1 PIP_FIND_LINKS=$dir PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MMCV_SDIST=$sdist MMCV_CUDA_OPS=$cuda_ops MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    bash tools/install_stack.sh >"$ilog" 2>&1 || rc=$?
  local secs
  secs=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")
  install_json $((rc == 0)) "$secs" "$ilog"
  cat "$out/install.json"
  if [ $rc -ne 0 ]; then
    tail -n 30 "$ilog" >&2
    tar czf "$out/logs.tar.gz" -C "$scratch" logs
    die "the install failed (rc $rc) after ${secs%.*} s: see $out/install.json"
  fi
  rc=0
  GPU_CHECK_INSTALL_JSON=$out/install.json \
    "$PY" tools/gpu_check.py --out "$out" --scratch "$scratch" ${extra[@]+"${extra[@]}"} || rc=$?
  tar czf "$out/logs.tar.gz" -C "$scratch" logs || true
  return $rc
}

case $mode in
  prepare) prepare ;;
  wheels) wheels ;;
  dry-run)
    [ -n "$out" ] || die "--dry-run needs --out OUT"
    if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
    elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
    else PY=python3; fi
    exec "$PY" tools/gpu_check.py --dry-run --out "$out" ${extra[@]+"${extra[@]}"} ;;
esac
