"""Part a: ``pytest -m cuda tests/test_cuda.py`` (train step, PAMR, CAMs, CRF, SyncBN/NCCL)."""
import os.path as osp

from . import runner
from .parse import parse_junit, parse_pytest_log


def part_a(checks, part):
    """The CUDA tests, judged from their JUnit XML (the log's lines when cut short)."""
    log = osp.join(checks.logs, 'a.log')
    junit = osp.join(checks.logs, 'a_junit.xml')
    cmd = [checks.py, '-m', 'pytest', '-m', 'cuda', 'tests/test_cuda.py', '-v', '-rs',
           '-p', 'no:cacheprovider', f'--junitxml={junit}']
    run = runner.run_logged(cmd, log, checks.budget('a'), checks.env)
    # pytest writes the XML at the end: a run killed midway leaves only its log
    tests = parse_junit(junit) or parse_pytest_log(log)
    counts = {k: sum(t['outcome'] == k for t in tests)
              for k in ('passed', 'failed', 'error', 'skipped')}
    part['result'] = dict(counts=counts, tests=tests, rc=run['rc'])
    if counts['failed'] or counts['error'] or (run['rc'] not in (0, None) and not tests):
        part['status'] = 'failed'
    elif tests and counts['skipped'] == len(tests):
        part['status'] = 'skipped'
    else:
        part['status'] = 'passed' if tests else 'failed'
    part['summary'] = ', '.join(f'{v} {k}' for k, v in counts.items() if v) or 'no tests ran'
    checks.finish(part, run, log)
