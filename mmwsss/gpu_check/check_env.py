"""The prepare step's worker: the environment (versions, GPUs, mmcv ops) and the generated data."""
import os
import os.path as osp
import time

from .recipes import AMP_RECIPE, recipe_config
from .runner import write_part


def worker_prepare(args) -> None:
    """env.json; with --need-data the generated data and part d's config."""
    import importlib.metadata as md
    import platform

    import torch
    env = dict(python=platform.python_version(), platform=platform.platform(),
               torch=torch.__version__, torch_cuda=torch.version.cuda,
               cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available()
               else None, cuda_available=torch.cuda.is_available(),
               gpu_count=torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if env['gpu_count']:
        props = [torch.cuda.get_device_properties(i) for i in range(env['gpu_count'])]
        env.update(gpu_names=[p.name for p in props],
                   gpu_mem_gib=[round(p.total_memory / 2**30, 1) for p in props],
                   capability=[f'{p.major}.{p.minor}' for p in props],
                   bf16_supported=torch.cuda.is_bf16_supported(),
                   nccl='.'.join(map(str, torch.cuda.nccl.version())))
    for pkg in ('numpy', 'torchvision', 'mmcv', 'mmengine', 'mmsegmentation', 'mmpretrain',
                'pydensecrf2', 'mmwsss'):
        try:
            env[pkg if pkg != 'mmsegmentation' else 'mmseg'] = md.version(pkg)
        except md.PackageNotFoundError:
            env[pkg if pkg != 'mmsegmentation' else 'mmseg'] = None
    write_part(args, 'env', env)
    try:  # mmseg imports mmcv.ops: a failure here is what the report must show
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
        compiled = get_compiling_cuda_version()
        env.update(mmcv_ops=True, mmcv_ops_compiler=get_compiler_version(),
                   mmcv_ops_cuda_version=compiled,
                   mmcv_ops_cuda=compiled not in (None, '', 'not available'))
    except Exception as e:
        env.update(mmcv_ops=False, mmcv_ops_cuda=False, mmcv_ops_error=repr(e))
    write_part(args, 'env', env)
    if args.need_data:
        prepare_data(args)
    if env['gpu_count'] and env.get('mmcv_ops_cuda'):
        try:  # one CUDA kernel of mmcv.ops, run for real
            from mmcv.ops import nms
            boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]], device='cuda')
            nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)
            torch.cuda.synchronize()
            env['mmcv_ops_cuda_run'] = True
        except Exception as e:
            env.update(mmcv_ops_cuda_run=False, mmcv_ops_cuda_error=repr(e))
        write_part(args, 'env', env)


def prepare_data(args) -> None:
    from mmseg.utils import register_all_modules

    import mmwsss  # noqa: F401
    from mmwsss.testing import make_voc_like_data
    register_all_modules(init_default_scope=True)
    s = args.sizes
    t0 = time.time()
    root = osp.join(args.scratch, 'work', 'data')
    data = make_voc_like_data(root, s['num_images'], tuple(s['image_hw']))
    info = dict(data.__dict__, ids=len(data.ids), seconds=round(time.time() - t0, 1))
    write_part(args, 'data', info)
    print(f'{len(data.ids)} images {s["image_hw"]} under {root} '
          f'({info["seconds"]:.1f} s)', flush=True)
    # part d: the DeepLab-V3+ leaf on this data, as a file for tools/train.py
    cfg = recipe_config(args, AMP_RECIPE, 'on_the_fly', info, s['amp_iters'],
                        osp.join(args.scratch, 'work', 'd', 'run'), launcher='none')
    os.makedirs(osp.join(args.scratch, 'work', 'd'), exist_ok=True)
    cfg.dump(osp.join(args.scratch, 'work', 'd', 'config.py'))
