"""The segmentor recipes of part b: their leaves, model-zoo memory, dry-run networks, configs."""
import os.path as osp

from .plan import ROOT

# recipe: its leaf with on-the-fly labels (CAM + saliency, τ 0.1), and mmseg 1.2.2's
# model-zoo "Mem (GB)" for the same network, crop and per-GPU batch (V100)
RECIPES = {
    'deeplabv2': ('configs/wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py',
                  None, 'n/a: DeepLab-V2 is not in mmseg'),
    'deeplabv3plus': ('configs/wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-vst.py',
                      11.0, 'mmseg configs/deeplabv3plus: R-101-D8 512x512 VOC aug 20k, 4 per GPU'),
    'segformer': ('configs/wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_cam-vst.py',
                  7.2, 'mmseg configs/segformer: MiT-B5 512x512 ADE20K 160k, 2 per GPU'),
    'knet': ('configs/wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-vst.py',
             13.5, 'mmseg configs/knet: K-Net UPerNet Swin-L 512x512 ADE20K 80k, 2 per GPU'),
}
# The dry run shrinks every network (the real ones build and take a step on the CPU
# in tests/test_configs.py): 8 trainings of the real Swin-L, MiT-B5 and R-101s would
# take minutes on 2 cores. Widths keep each architecture's ratios.
_KNET_HEAD = dict(in_channels=16, out_channels=16, feedforward_channels=32, num_heads=2,
                  kernel_updator_cfg=dict(in_channels=8, feat_channels=8, out_channels=8))
DRY_MODELS = {
    'deeplabv2': {'model.backbone': dict(depth=18, stem_channels=16, base_channels=8),
                  'model.decode_head.in_channels': 64},
    'deeplabv3plus': {
        'model.backbone': dict(depth=18, stem_channels=16, base_channels=8),
        'model.decode_head': dict(in_channels=64, channels=16, c1_in_channels=8,
                                  c1_channels=8),
        'model.auxiliary_head': dict(in_channels=32, channels=8)},
    'segformer': {'model.backbone': dict(embed_dims=8, num_layers=[1, 1, 1, 1]),
                  'model.decode_head': dict(in_channels=[8, 16, 40, 64], channels=16)},
    'knet': dict({'model.backbone': dict(embed_dims=16, depths=[1, 1, 1, 1],
                                         num_heads=[1, 1, 1, 1]),
                  'model.decode_head.kernel_generate_head': dict(
                      in_channels=[16, 32, 64, 128], channels=16),
                  'model.auxiliary_head': dict(in_channels=64, channels=8)},
                 **{f'model.decode_head.kernel_update_head.{i}': _KNET_HEAD
                    for i in range(3)}),
}
AMP_RECIPE = 'deeplabv3plus'
VARIANTS = ('on_the_fly', 'precomputed')


def recipe_config(args, recipe: str, variant: str, data: dict, iters: int, work_dir: str,
                  launcher: str = 'pytorch'):
    """A recipe's ``_cam-vst`` leaf pointed at the generated data, as a user would with
    ``--cfg-options``; ``precomputed``: the same labels read as PNGs by
    ``LoadAnnotations`` (``pseudo_labels=False``). Nothing downloads, no validation, no
    checkpoint, a log line per iteration."""
    from mmengine.config import Config

    from mmwsss.config import load_config
    cfg = load_config(osp.join(ROOT, RECIPES[recipe][0]), {
        'train_dataloader.dataset.data_root': data['root'],
        'train_dataloader.dataset.maps_root': data['root'],
        'train_dataloader.dataset.ann_file': data['ann_file'],
        'train_dataloader.dataset.cls_label_file': data['cls_label_file'],
        'train_dataloader.dataset.data_prefix.cam_path': data['cam_path'],
        'train_dataloader.dataset.data_prefix.sal_path': data['sal_path'],
    })
    ds = cfg.train_dataloader.dataset
    if variant == 'precomputed':
        ds.pseudo_labels = False
        ds.pop('pseudo_label_cfg', None)
        ds.data_prefix = dict(img_path=data['img_path'], seg_map_path=data['label_path'])
        ds.pipeline = [ds.pipeline[0], dict(type='LoadAnnotations')] + list(ds.pipeline[1:])
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    s = args.sizes
    if args.dry_run:  # toy networks, crops and batches, no loader workers
        cfg.merge_from_dict(DRY_MODELS[recipe])
        cfg.model.data_preprocessor.size = s['crop']
        for t in ds.pipeline:
            if t['type'] == 'RandomCrop':
                t['crop_size'] = s['crop']
            elif t['type'] == 'RandomResize':
                t['scale'] = (4 * s['crop'][0], s['crop'][0])
        # batch 2: BN on a 1×1 pooled map (ASPP, PPM) needs more than one value
        cfg.train_dataloader.update(batch_size=s['batch'], num_workers=s['workers'],
                                    persistent_workers=False)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None  # K-Net's would be 3 GB
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)  # per-iteration scalars
    cfg.randomness = dict(seed=0)
    cfg.work_dir = work_dir
    cfg.launcher = launcher
    # several Runners in one process: each its own logger and visualizer
    cfg.experiment_name = f'gpu_check_{recipe}_{variant}'
    cfg.visualizer.name = cfg.experiment_name
    # the Runner prints and dumps the config four times; formatted by yapf that is
    # seconds per Runner, measured by nothing here
    return Config(cfg.to_dict(), cfg_text=cfg.text, filename=cfg.filename,
                  format_python_code=False)
