"""A tool whose main process is killed leaves nothing behind (issue 31).

Each tool runs with ``--nproc 2`` in a session of its own; a hook makes its pool
workers wait in their initializer, so that the main process is killed while
they run. Then no process of the session may live on, and the output folder's
lock is free at once: a rerun is not refused "in use by process <dead pid>".
SIGTERM (``kill``, ``timeout``) unwinds the run as Ctrl-C does: exit code 143.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from mmwsss.outputs import OutputLock
from mmwsss.parallel.worker_pool import WorkerPool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'tests', 'configs')

# python -c HOOK MARK_DIR TOOL ARGS...: the tool, whose pool workers each leave
# their pid in MARK_DIR and then sleep instead of working
HOOK = '''
import concurrent.futures, os, runpy, sys, time
import mmwsss.parallel.jobs as jobs
mark, tool = sys.argv[1], sys.argv[2]

def slow(init, args):
    if init is not None:
        init(*args)
    open(os.path.join(mark, str(os.getpid())), 'w').close()
    time.sleep(60)

class SlowPool(concurrent.futures.ProcessPoolExecutor):
    def __init__(self, n, initializer=None, initargs=()):
        super().__init__(n, initializer=slow, initargs=(initializer, initargs))

jobs.ProcessPoolExecutor = SlowPool
sys.argv = [tool] + sys.argv[3:]
runpy.run_path(tool, run_name='__main__')
'''


def _stat(pid) -> list:
    """``/proc/<pid>/stat`` after the command: state, ppid, pgrp, session, ...;
    [] for a process that is gone or a zombie (dead, not yet reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return []
    fields = stat[stat.rindex(')') + 2:].split()
    return [] if fields[0] in 'ZX' else fields


def _session_alive(sid: int) -> list:
    """The pids of the live processes of session ``sid``."""
    return [int(pid) for pid in filter(str.isdigit, os.listdir('/proc'))
            if _stat(pid)[3:4] == [str(sid)]]


def _wait_for(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f'not within {timeout} s: {what}')


def _tool_argv(tool, out, voc):
    cams = osp.join(voc, 'activation_maps', 'VOC2012_TEST')
    sal = osp.join(voc, 'saliency_maps', 'VOC2012_TEST')
    if tool == 'export_pseudo_labels':
        return [osp.join(CONFIGS, 'tiny_fcn_voc_pseudo.py'), '--out-dir', out]
    if tool == 'eval_pseudo_labels':
        return [osp.join(CONFIGS, 'eps_tiny_voc.py'), '--cam-dir', cams, '--cam-format',
                'bed_png', '--sal-dir', sal, '--out-dir', out, '--taus', '0.2']
    return ['--cam-dir', cams, '--sal-dir', sal, '--cls-label-file',
            osp.join(voc, 'cls_labels', 'train_aug.txt'), '--out-dir', out]


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
# SIGKILL is the same for every tool (the kernel ends the workers); SIGTERM
# unwinds through each tool's own loop over the results
@pytest.mark.parametrize('tool,sig', [('export_pseudo_labels', signal.SIGKILL),
                                      ('eval_pseudo_labels', signal.SIGTERM),
                                      ('pack_maps', signal.SIGTERM)])
def test_a_killed_tool_leaves_no_worker_and_no_lock(tool, sig, tmp_path, voc_root):
    out, mark, err = str(tmp_path / 'out'), tmp_path / 'mark', tmp_path / 'stderr'
    mark.mkdir()
    argv = [sys.executable, '-c', HOOK, str(mark), osp.join(REPO, 'tools', tool + '.py')]
    # not a launcher's rank: an in-process tool run of another test may have set LOCAL_RANK
    # in this process (as mmseg's tools do), and run_tool leaves SIGTERM alone in a rank
    env = {k: v for k, v in os.environ.items() if k != 'LOCAL_RANK'}
    env['PYTHONPATH'] = REPO
    with open(err, 'w') as stderr:
        proc = subprocess.Popen(argv + _tool_argv(tool, out, voc_root) + ['--nproc', '2'],
                                env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=stderr)
    try:
        _wait_for(lambda: len(os.listdir(mark)) == 2 or proc.poll() is not None, 60,
                  'two workers started')
        assert proc.poll() is None, err.read_text()
        workers = [int(p) for p in os.listdir(mark)]
        assert set(workers) <= set(_session_alive(proc.pid))
        proc.send_signal(sig)
        proc.wait(10)
        _wait_for(lambda: not _session_alive(proc.pid), 5,
                  f'no process of the killed {tool} left (workers {workers})')
        if sig == signal.SIGTERM:  # the run unwinds, as for Ctrl-C, and says so
            assert proc.returncode == 143, err.read_text()
            assert err.read_text().rstrip().endswith(f'{tool}.py: terminated')
            assert not osp.exists(osp.join(out, '.lock'))
        with OutputLock(out):  # a rerun may take the folder at once
            pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what a failure left behind
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.wait()


def _hold_forever(job):
    time.sleep(60)


def test_crf_pool_workers_hold_no_lock_and_die_with_their_parent(tmp_path):
    """The DenseCRF workers (a WorkerPool, started under the output lock of
    tools/test.py) leave the lock to their parent and end when it ends."""
    out, workers = str(tmp_path / 'out'), []
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # a main process that starts two workers, then is killed
        try:
            os.close(r)
            with OutputLock(out):
                pool = WorkerPool(_hold_forever, 2)
                pool.submit(0), pool.submit(1)
                os.write(w, ' '.join(map(str, pool.pids)).encode())
                time.sleep(60)
        finally:
            os._exit(1)
    try:
        os.close(w)
        workers += [int(p) for p in os.read(r, 100).split()]
        os.close(r)
        assert len(workers) == 2
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        _wait_for(lambda: not any(map(_stat, workers)), 5,
                  f'the workers {workers} of a killed parent ended')
        with OutputLock(out):
            pass
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_run_tool_turns_sigterm_into_exit_143_outside_a_launcher(monkeypatch, capsys):
    from mmwsss.cli import run_tool

    def main():
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            return 'no handler'  # a SIGTERM would end pytest
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 'not terminated'

    monkeypatch.delenv('LOCAL_RANK', raising=False)
    # the default action, whatever an earlier test of this process installed (put back below)
    earlier = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with pytest.raises(SystemExit) as e:
        run_tool(main, prog='tool.py')
    assert e.value.code == 143 and capsys.readouterr().err == 'tool.py: terminated\n'
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored
    # in a torchrun rank the launcher's SIGTERM keeps its default action
    monkeypatch.setenv('LOCAL_RANK', '0')
    assert run_tool(lambda: signal.getsignal(signal.SIGTERM)) == signal.SIG_DFL
    signal.signal(signal.SIGTERM, earlier)


def test_a_forked_child_neither_holds_nor_removes_its_parents_lock(tmp_path):
    out = str(tmp_path / 'out')
    with OutputLock(out) as lock:
        child = os.fork()
        if child == 0:
            try:  # the child's copy of the lock is closed; its unwinding is a no-op
                lock.__exit__(None, None, None)
                os._exit(0 if osp.exists(osp.join(out, '.lock')) else 3)
            finally:
                os._exit(1)
        assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
        with pytest.raises(SystemExit, match='in use by process'):
            OutputLock(out).__enter__()  # the parent still holds it
    assert not osp.exists(osp.join(out, '.lock'))
