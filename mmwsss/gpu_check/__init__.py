"""Check mmwsss on a GPU node in one run whose report grows as it goes.

    python tools/gpu_check.py --out OUT [--dry-run] [--parts a,b,c,d] [--iters N]
        [--time-limit S] [--timeout PART=S ...] [--recipes NAME,...] [--nproc N] [--scratch DIR]

Run it on the node, in the environment mmwsss is installed in, with every GPU the
segmentors should train on visible. Parts, each in its own process with its own timeout
(output in SCRATCH/logs/, SCRATCH defaulting to OUT); what "passed" means for each is
:func:`.plan.criteria` (printed beside each result, and by ``--help``):
  a  ``pytest -m cuda tests/test_cuda.py``: the EPS classifier's train step (EPS and IRD
     losses), PAMR, make_cams and ``tools/test.py --crf`` on CUDA against CPU, SyncBN
     under torchrun with NCCL; pass / fail / skip per test (JUnit XML).
  b  the four segmentor recipes (configs/wsss/recipes/, through their ``_cam-vst``
     leaves) under ``torchrun --nproc_per_node=<GPUs>``, ITERS iterations at the
     recipe's crop and per-GPU batch on generated VOC-size data, once with pseudo
     labels made on the fly and once with the same labels precomputed as PNGs:
     s/iter and data time (medians after warm-up, mmengine's scalars.json) and peak
     GPU memory against mmseg's model zoo. One torchrun per recipe trains both.
  c  the ResNet-38 EPS classifier at 448×448, batch 8: forward + backward + step with
     no saliency loss, EPS, IRD and the literal IRD; the losses' share of the step.
  d  ``tools/train.py --amp`` on DeepLab-V3+ (bf16 where supported, else fp16).

OUT/gpu_check.json and OUT/gpu_check.md are rewritten (atomically) whenever a result
is known, so a run cut short still reports what it measured. Each part's timeout is
its share of ``--time-limit`` (``plan.TIMEOUT_SHARES``) unless ``--timeout`` sets it.
OUT/install.json (the install step of tools/gpu_check.sh) is merged in when that
script names it (``GPU_CHECK_INSTALL_JSON``): one an earlier run left in OUT is not.

``--dry-run`` runs the same parts on the CPU at toy sizes (gloo for NCCL, BN for
SyncBN, one process, 2 iterations, 64×64 crops; the CUDA tests skip): it checks this
code and the report, not the GPU. Exit status: 0 when no part failed or timed out.

Modules, one job each (the entry is ``tools/gpu_check.py``):
  plan           the parts, their sizes (GPU run, dry run), timeout shares, pass criteria
  cli            the options (bounded numbers) and ``main``: the checks or one worker
  runner         the parts' processes: own group, time limit, signals, run-stamped results
  parse          figures from what the runs leave: scalars.json, JUnit XML, pytest's log
  report         OUT/gpu_check.json and OUT/gpu_check.md
  checks         the parts in order within the time limit, updating the report
  check_env      the environment and the generated data (the prepare step)
  recipes        the recipes of part b, their dry-run networks, their configs
  check_cuda_tests, check_recipes, check_losses, check_amp   parts a, b, c, d

Nothing here imports the stack at module level: the main process runs before it is
known to import (the prepare step imports it in a process of its own).
"""
