"""tools/install_stack.sh keeps an installed torch, torchvision and mmcv exactly as they are.

A throwaway venv (plain ``python -m venv``: it sees nothing of ours) holds stand-in
distributions of torch, torchvision and mmcv at versions other than requirements/stack.txt's
pins; the script's dry run there resolves the rest of the stack with pip
(``pip install --dry-run --report``, metadata from the package registry, nothing built), and
pip's report must install none of the three. Nothing else is downloaded.
"""
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / 'tools' / 'install_stack.sh'
GPU_CHECK = ROOT / 'tools' / 'gpu_check.sh'
KEPT = ('torch', 'torchvision', 'mmcv')

# name -> (version, files): importable enough for the script's checks (the mmcv check
# imports mmcv.ops; building mmcv would read torch.version.cuda)
STANDINS = {
    'torch': ('2.3.0', {'torch/__init__.py': "__version__ = '2.3.0'\nfrom . import version\n",
                        'torch/version.py': "__version__ = '2.3.0'\ncuda = None\n"}),
    'torchvision': ('0.18.0', {'torchvision/__init__.py': "__version__ = '0.18.0'\n"}),
    'mmcv': ('2.1.0', {'mmcv/__init__.py': "__version__ = '2.1.0'\n",
                       'mmcv/ops/__init__.py': ''}),
}


def _pins():
    pins = {}
    for line in (ROOT / 'requirements' / 'stack.txt').read_text().splitlines():
        m = re.match(r'([A-Za-z0-9_.-]+)==(\S+)', line)
        if m:
            pins[m[1].lower()] = m[2]
    return pins


def _wheel(out_dir, name, version, files):
    dist = f'{name}-{version}.dist-info'
    files = dict(files)
    files[f'{dist}/METADATA'] = f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'
    files[f'{dist}/WHEEL'] = ('Wheel-Version: 1.0\nGenerator: mmwsss-tests\n'
                              'Root-Is-Purelib: true\nTag: py3-none-any\n')
    files[f'{dist}/RECORD'] = ''.join(f'{p},,\n' for p in [*files, f'{dist}/RECORD'])
    path = out_dir / f'{name}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as z:
        for arcname, text in files.items():
            z.writestr(arcname, text)
    return path


def _env(py, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'DRY_RUN')}
    env.update(PYTHON=str(py), PIP_DISABLE_PIP_VERSION_CHECK='1', **extra)
    return env


def _installed(py):
    out = subprocess.run([str(py), '-m', 'pip', 'list', '--format=json'], check=True,
                         capture_output=True, text=True).stdout
    return {d['name'].lower(): d['version'] for d in json.loads(out)}


@pytest.fixture(scope='module')
def standin_venv(tmp_path_factory):
    """A plain venv (pip only) plus stand-in torch 2.3.0, torchvision 0.18.0, mmcv 2.1.0."""
    d = tmp_path_factory.mktemp('stack')
    subprocess.run([sys.executable, '-m', 'venv', str(d / 'venv')], check=True)
    py = d / 'venv' / 'bin' / 'python'
    wheels = [_wheel(d, n, v, f) for n, (v, f) in STANDINS.items()]
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-index', '--no-deps',
                    *map(str, wheels)], check=True, env=_env(py))
    return py


def test_standins_differ_from_the_pins():
    pins = _pins()
    assert STANDINS['torch'][0] != pins['torch']
    assert STANDINS['torchvision'][0] != pins['torchvision']


def _registry_reachable():
    if os.environ.get('PIP_INDEX_URL') or os.environ.get('PIP_NO_INDEX'):
        return True  # a configured mirror / offline wheels: let pip say
    try:
        socket.create_connection(('pypi.org', 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_dry_run_keeps_installed_torch_torchvision_mmcv(standin_venv, tmp_path):
    if not _registry_reachable():
        pytest.skip('the package registry is not reachable: pip cannot resolve the stack')
    before = _installed(standin_venv)
    report = tmp_path / 'report.json'
    r = subprocess.run(['bash', str(INSTALL), '--dry-run', '--report', str(report)],
                       cwd=tmp_path, env=_env(standin_venv), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name, (version, _) in STANDINS.items():
        assert f'keeping {name} {version}' in r.stdout
        assert f'{name}=={version}' in r.stdout  # the constraints printed
    installs = {re.sub(r'[-_.]+', '-', i['metadata']['name']).lower(): i['metadata']['version']
                for i in json.loads(report.read_text())['install']}
    # pip would change none of the three, whatever depends on them ...
    assert not set(KEPT) & set(installs), {k: installs[k] for k in KEPT if k in installs}
    # ... and would install the rest of the stack at its pins
    pins = _pins()
    for name in ('mmengine', 'mmsegmentation', 'mmpretrain'):
        assert installs.get(name) == pins[name], (name, installs.get(name))
    # a dry run: the venv is as it was
    assert _installed(standin_venv) == before


@pytest.mark.parametrize('shadow, message', [
    ({'mmcv/__init__.py': "__version__ = '2.1.0'\n"}, 'No module named'),  # no ops (ABI)
    ({'mmcv/__init__.py': "__version__ = '2.2.0'\n", 'mmcv/ops/__init__.py': ''},
     'outside mmsegmentation'),
])
def test_unusable_mmcv_is_never_replaced(standin_venv, tmp_path, shadow, message):
    """An installed mmcv whose ops do not load (or out of mmseg's range): stop, say why."""
    for rel, text in shadow.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    env = _env(standin_venv, PYTHONPATH=str(tmp_path))  # this mmcv shadows the stand-in
    r = subprocess.run(['bash', str(INSTALL), '--dry-run', '--report', str(tmp_path / 'r')],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert 'never replaces an installed mmcv' in r.stderr and message in r.stderr
    assert '--report' not in r.stdout  # stopped before pip's resolution


@pytest.mark.parametrize('script', [INSTALL, GPU_CHECK])
def test_help_and_unknown_flags(script):
    r = subprocess.run(['bash', str(script), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'usage' in r.stdout and '--dry-run' in r.stdout
    r = subprocess.run(['bash', str(script), '--no-such-flag'], capture_output=True,
                       text=True)
    assert r.returncode == 2 and '--no-such-flag' in r.stderr


def _check_with_stamp(tmp_path, make_stamp):
    """``--check`` (installs nothing) of this checkout against the interpreter that runs
    the tests, with the stamp at STACK_STAMP made by ``make_stamp(path)``."""
    stamp = tmp_path / 'stack-stamp'
    make_stamp(stamp)
    return subprocess.run(['bash', str(INSTALL), '--check'], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=_env(sys.executable, STACK_STAMP=str(stamp)))


def test_a_stamp_of_pins_and_checkout_alone_is_not_trusted(tmp_path):
    """Fails before the fix: the stamp held the pins' hash and the checkout only, and
    --if-needed trusted it while --check found the environment different."""
    import hashlib
    pins = hashlib.sha256((ROOT / 'requirements' / 'stack.txt').read_bytes() +
                          (ROOT / 'requirements' / 'tests.txt').read_bytes()).hexdigest()
    r = _check_with_stamp(tmp_path, lambda p: p.write_text(f'{pins} {ROOT}\n'))
    assert 'stamp' in r.stdout and 'other installed versions' in r.stdout, r.stdout


def test_a_stamp_that_is_not_a_regular_file_is_ignored_unread(tmp_path):
    """Fails before the fix: --if-needed read a FIFO in the stamp's place and hung."""
    r = _check_with_stamp(tmp_path, lambda p: os.mkfifo(p))
    assert 'not a regular file: ignored' in r.stdout, r.stdout
