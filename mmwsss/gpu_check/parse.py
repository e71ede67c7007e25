"""Figures from what the runs leave: mmengine's scalars.json, pytest's JUnit XML and log."""
import glob
import json
import math
import os.path as osp
import re
import statistics
import xml.etree.ElementTree as ET


def median_after_warmup(values, warmup: int):
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    kept = values[warmup:] or values[-1:]
    return statistics.median(kept) if kept else None


def warmup_of(iters: int) -> int:
    """Iterations left out of the medians: a quarter, at least one, never all."""
    return min(max(1, iters // 4), iters - 1)


def read_scalars(log_dir: str) -> list:
    """mmengine's per-iteration training scalars (``<log_dir>/vis_data/scalars.json``)."""
    rows = []
    for path in glob.glob(osp.join(log_dir, 'vis_data', 'scalars.json')):
        with open(path) as f:
            rows += [json.loads(ln) for ln in f if ln.strip()]
    return [r for r in rows if 'time' in r and 'iter' in r]


def train_stats(rows: list, warmup: int) -> dict:
    """s/iter, data time, peak memory and the loss from scalars.json rows."""
    losses = [r.get('loss') for r in rows]
    mem = [r['memory'] for r in rows if isinstance(r.get('memory'), (int, float))]
    return dict(
        iters=len(rows),
        s_per_iter=median_after_warmup([r['time'] for r in rows], warmup),
        data_s_per_iter=median_after_warmup([r.get('data_time') for r in rows], warmup),
        # mmengine logs max_memory_allocated in MB on CUDA (rank 0), none on the CPU
        peak_mem_gib=round(max(mem) / 1024, 3) if mem else None,
        loss_first=losses[0] if losses else None,
        loss_last=losses[-1] if losses else None,
        loss_finite=bool(losses) and all(isinstance(v, (int, float)) and math.isfinite(v)
                                         for v in losses))


def ratio(a, b):
    return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
        and b > 0 else None


def parse_junit(path: str) -> list:
    """Per test: name, outcome (passed / failed / error / skipped), seconds, message."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    tests = []
    for case in root.iter('testcase'):
        outcome, message = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            el = case.find(tag)
            if el is not None:
                outcome = {'failure': 'failed'}.get(tag, tag)
                message = el.get('message') or (el.text or '')[-500:]
                break
        tests.append(dict(name=f"{case.get('classname', '')}::{case.get('name')}",
                          outcome=outcome, time_s=float(case.get('time') or 0),
                          message=message.strip()[:500]))
    return tests


def parse_pytest_log(path: str) -> list:
    """The outcomes ``pytest -v`` printed before it was stopped."""
    tests = []
    try:
        with open(path, errors='replace') as f:
            for line in f:
                m = re.match(r'(\S+::\S+) (PASSED|FAILED|SKIPPED|ERROR)', line)
                if m:
                    tests.append(dict(name=m.group(1), outcome=m.group(2).lower(), time_s=None,
                                      message='(from the log)'))
    except OSError:
        pass
    return tests
