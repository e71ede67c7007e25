"""The plan of the check: its parts, their sizes (GPU run, dry run), time shares, criteria."""
import os.path as osp

# the checkout this package sits in: the parts run its tests/, configs/ and tools/
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the parts' own processes run the entry again (``--worker``), as the user ran it
ENTRY = osp.join(ROOT, 'tools', 'gpu_check.py')

PARTS = {
    'a': 'pytest -m cuda (tests/test_cuda.py)',
    'b': 'segmentor recipes under torchrun: on-the-fly vs precomputed pseudo labels',
    'c': 'ResNet-38 classifier step: cost of the saliency losses',
    'd': 'AMP: tools/train.py --amp (DeepLab-V3+)',
}


# Sizes: the GPU run, and the CPU dry run (seconds on 2 cores, same code paths). On a GPU
# each part's timeout is its share of the time limit: they add up to more than the whole,
# so a part that hangs stops in time for the others and a slow part may use what is left.
GPU = dict(iters=20, num_images=40, image_hw=(375, 500), crop=None, batch=None, workers=None,
           cls_size=448, cls_batch=8, cls_steps=10, cls_warmup=3, amp_iters=10,
           time_limit=1800, timeouts=None)
TIMEOUT_SHARES = dict(prepare=0.27, a=0.45, b=0.73, c=0.23, d=0.27)
DRY = dict(iters=2, num_images=6, image_hw=(72, 96), crop=(64, 64), batch=2, workers=0,
           cls_size=32, cls_batch=2, cls_steps=2, cls_warmup=1, amp_iters=2,
           time_limit=300, timeouts=dict(prepare=60, a=60, b=150, c=60, d=60))


def criteria(sizes: dict) -> dict:
    """Per part: ``criterion``, what its status ``passed`` requires, and ``reported``,
    the figures it measures without judging them (None when there are none)."""
    return {
        'a': dict(criterion=(
            'every test of tests/test_cuda.py passes on CUDA: the classifier\'s losses '
            'and gradients finite (EPS and IRD losses); PAMR within 1e-5 of the CPU; '
            'CAMs of make_cams within 0.02 of the CPU\'s (float16 store); test.py --crf '
            'labels >= 99 % equal to the CPU\'s; SyncBN under NCCL with the same '
            'statistics on every rank (a test whose optional extra is missing, e.g. '
            'pydensecrf2, is skipped). Without CUDA every test is skipped: status skipped'),
            reported=None),
        'b': dict(criterion=(
            f"each recipe trains {sizes['iters']} iterations with a finite loss under "
            'torchrun (a process per GPU, or --nproc), once with pseudo labels made on the '
            'fly and once with them precomputed'),
            reported=(
            's/iter and data time (ratio on the fly / precomputed near 1 when the data '
            "loader keeps up); peak GPU memory beside mmseg's model-zoo figure for the "
            'same network, crop and per-GPU batch (V100; similar expected)')),
        'c': dict(criterion=(
            f"{sizes['cls_warmup'] + sizes['cls_steps']} steps with each saliency loss "
            '(none, EPS, IRD, literal IRD), each with a finite loss'),
            reported="s / step and each saliency loss's share of the step"),
        'd': dict(criterion=(
            f"tools/train.py --amp trains {sizes['amp_iters']} iterations with a finite "
            "loss through mmengine's AmpOptimWrapper (bf16 where the GPU supports it, "
            'else fp16); without CUDA: the same in float32, no AMP'),
            reported='s/iter and peak GPU memory'),
    }
