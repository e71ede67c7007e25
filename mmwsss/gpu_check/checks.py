"""Runs the parts in order within the time limit, each in its own process, updating the report."""
import glob
import os
import os.path as osp
import shutil
import signal
import sys
import textwrap
import time
import traceback
import uuid

from . import runner
from .check_amp import part_d
from .check_cuda_tests import part_a
from .check_losses import part_c
from .check_recipes import part_b
from .plan import ENTRY, PARTS
from .report import Report
from .runner import Interrupted, child_env, now_iso, on_signal, read_part, tail

PART_RUNS = dict(a=part_a, b=part_b, c=part_c, d=part_d)


class Checks:
    """Runs the parts in order within the time limit, updating the report."""

    def __init__(self, args, report):
        self.args, self.report = args, report
        self.env = child_env(args)
        self.deadline = time.time() + args.time_limit
        self.logs = osp.join(args.scratch, 'logs')
        self.parts_dir = osp.join(args.scratch, 'parts')
        self.work = osp.join(args.scratch, 'work')
        for d in (self.logs, self.parts_dir, self.work):
            os.makedirs(d, exist_ok=True)
        # a rerun into the same folders: nothing of an earlier run's may pass for this
        # one's (a worker that dies before writing leaves no result, not the last one)
        stale = glob.glob(osp.join(self.parts_dir, '*.json')) + [
            osp.join(self.logs, 'a_junit.xml'), osp.join(self.work, 'd', 'config.py')]
        for path in stale:
            if osp.lexists(path):
                os.remove(path)
        if osp.isdir(osp.join(self.work, 'd', 'run')):
            shutil.rmtree(osp.join(self.work, 'd', 'run'))
        self.py = sys.executable
        self.worker = [self.py, ENTRY, '--out', args.out,
                       '--scratch', args.scratch, '--run-id', args.run_id] + \
            (['--dry-run'] if args.dry_run else [])
        self.hw = {}

    def budget(self, key: str) -> float:
        return min(self.args.timeouts[key], self.deadline - time.time())

    def say(self, msg: str) -> None:
        print(f'[gpu_check {time.strftime("%H:%M:%S")}] {msg}', flush=True)

    def prepare(self) -> None:
        """Environment (in a process: an mmcv built for another CUDA may crash on
        import) and, for b and d, the generated data."""
        need = any(p in self.args.parts for p in 'bd')
        self.say('environment' + (' and generated data' if need else ''))
        log = osp.join(self.logs, 'prepare.log')
        cmd = self.worker + ['--worker', 'prepare'] + (['--need-data'] if need else [])
        run = runner.run_logged(cmd, log, self.budget('prepare'), self.env)
        env = read_part(self.args, 'env') or dict(
            error=f'the environment step failed ({run}); see logs/prepare.log',
            log_tail=tail(log))
        self.report.data['env'] = env
        self.report.write()
        self.hw = env
        self.say(f"torch {env.get('torch')}, CUDA {env.get('torch_cuda')}, "
                 f"{env.get('gpu_count', 0)} GPU(s) {', '.join(env.get('gpu_names') or [])}")

    def run_part(self, name: str) -> None:
        part = self.report.part(name)
        left = self.deadline - time.time()
        if left < 10:
            part.update(status='not_run', summary=f'time limit ({self.args.time_limit:.0f} s) '
                        'reached before it started')
            self.report.write()
            self.say(f'{name}: not run (time limit)')
            return
        self.say(f'{name}: {PARTS[name]} ...')
        part.update(status='running', started=now_iso())
        self.report.write()
        t0 = time.time()
        try:
            PART_RUNS[name](self, part)
        except Interrupted:
            part.update(status='interrupted', summary='the run was stopped during this part')
            raise
        except Exception as e:  # a bug here must not lose the other parts
            part.update(status='failed', summary=f'gpu_check error: {e!r}',
                        log_tail=traceback.format_exc())
        finally:
            part['wall_s'] = round(time.time() - t0, 1)
            self.report.write()
        self.say(f"{name}: {part['status']} in {part['wall_s']:.0f} s — "
                 f"{part.get('summary', '')}\n" + textwrap.fill(
                     part['criterion'], 96, initial_indent='    pass: ',
                     subsequent_indent=' ' * 10))

    def finish(self, part, run, log):
        """The log's place, timeout status and, unless passed or skipped, its tail."""
        part['log'] = osp.relpath(log, self.args.scratch)
        if run['timed_out']:
            part['status'] = 'timeout'
        if part['status'] not in ('passed', 'skipped'):
            part['log_tail'] = tail(log)


def run_checks(args, argv) -> int:
    args.out = osp.abspath(args.out)
    args.scratch = osp.abspath(args.scratch or args.out)
    # each part's result carries it: an earlier run's file never passes for this one's
    args.run_id = f'{time.strftime("%Y%m%dT%H%M%S")}-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    os.makedirs(args.out, exist_ok=True)
    # restored at the end: run in-process (tests), the caller's handlers come back
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    report = Report(args, argv)
    report.write()
    checks = Checks(args, report)
    checks.say(f"{'CPU DRY RUN, ' if args.dry_run else ''}parts {','.join(args.parts)}, "
               f'time limit {args.time_limit:.0f} s; report: {args.out}/gpu_check.md')
    try:
        checks.prepare()
        for name in args.parts:
            checks.run_part(name)
        report.data['finished'] = True
    except Interrupted as e:
        report.data['interrupted'] = str(e)
        checks.say(f'interrupted ({e}); the report keeps what was measured')
    finally:
        report.write()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    bad = [n for n, p in report.data['parts'].items()
           if p['status'] not in ('passed', 'skipped')]
    checks.say(f"done in {report.data['wall_s']:.0f} s: " +
               (f"not passed: {', '.join(bad)}" if bad else 'every part passed') +
               f' — {args.out}/gpu_check.md')
    return 1 if bad else 0
