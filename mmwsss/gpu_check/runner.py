"""The parts' processes: each in its own group, with a time limit, stopped by a signal,
and result files stamped with the run that wrote them."""
import datetime
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import time

from .plan import ROOT


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def write_atomic(path: str, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


class Interrupted(Exception):
    """SIGTERM / SIGINT: the run is being stopped (e.g. the machine's time is up)."""


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def child_env(args) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env['PYTHONUNBUFFERED'] = '1'
    if args.dry_run:
        env['CUDA_VISIBLE_DEVICES'] = ''  # a dry run is a CPU run, also on a GPU machine
    return env


def run_logged(cmd, log_path: str, timeout: float, env: dict) -> dict:
    """Run ``cmd`` in its own process group, output to ``log_path``; kill the whole
    group (torchrun and its ranks) at ``timeout`` or when this run is interrupted."""
    t0 = time.time()
    with open(log_path, 'a') as log:
        log.write(f'$ {" ".join(cmd)}\n')
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = False
        try:
            rc = proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
        finally:
            if proc.poll() is None:
                for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                    try:
                        os.killpg(proc.pid, sig)
                        proc.wait(timeout=wait)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
            if timed_out:
                log.write(f'\n[gpu_check] killed after the timeout of {timeout:.0f} s\n')
    return dict(rc=rc, timed_out=timed_out, wall_s=round(time.time() - t0, 1))


def write_part(args, name: str, obj: dict) -> None:
    """SCRATCH/parts/<name>.json, stamped with this run's id (see :func:`read_part`)."""
    write_atomic(osp.join(args.scratch, 'parts', name + '.json'),
                 json.dumps(dict(obj, run_id=args.run_id), indent=1, default=str) + '\n')


def read_part(args, name: str):
    """A part's result written by a worker of this run, or None (absent, damaged, or
    left by an earlier run into the same folder: its run id differs)."""
    got = read_json(osp.join(args.scratch, 'parts', name + '.json'))
    if not isinstance(got, dict) or got.get('run_id') != args.run_id:
        return None
    return {k: v for k, v in got.items() if k != 'run_id'}
