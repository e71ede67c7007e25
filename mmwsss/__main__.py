"""Run any OpenMMLab script with mmwsss imported first.

    python -m mmwsss SCRIPT [ARGS ...]
    e.g. python -m mmwsss "$MMSEG/.mim/tools/train.py" my_config.py --work-dir w

mmengine resolves ``_base_ = 'mmwsss::...'`` through a fixed table of packages,
and a config's ``custom_imports`` runs only after its ``_base_`` is resolved, so
mmseg's own ``tools/train.py`` cannot load a config that inherits ours by scope.
Importing mmwsss before the script runs adds our entry to that table and
registers our modules; the script then runs as ``__main__`` with its own
arguments, as if started directly (``torchrun -m mmwsss SCRIPT ...`` as well).
"""
import os.path as osp
import runpy
import sys


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        raise SystemExit(0 if len(sys.argv) >= 2 else 2)
    script = sys.argv[1]
    if not osp.isfile(script):
        raise SystemExit(f'python -m mmwsss: no such script: {script}')
    import mmwsss  # noqa: F401  (the mmwsss:: config scope, our registries)
    sys.argv = sys.argv[1:]
    sys.path.insert(0, osp.dirname(osp.abspath(script)))  # as `python SCRIPT` does
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
