"""EPSClassifier: real mmengine Runner training with each loss and backbone
family, the data pipeline, CAM inference, ResNet-38 weights, bad input."""
import json
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmwsss  # noqa: F401
from mmwsss.errors import WSSSInputError

CFG = osp.join(osp.dirname(__file__), 'configs', 'eps_tiny_voc.py')
LABELS = {'2007_000032': [0, 14], '2007_000039': [19], '2008_000002': [11, 14],
          '2009_000010': [6], '2007_000033': [0], '2010_000001': [12, 14]}
MMPRETRAIN_R50 = dict(type='mmpretrain.ResNet', depth=50, stem_channels=8, base_channels=8,
                      strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, ),
                      norm_cfg=dict(type='BN'), init_cfg=None)


def _cfg(tmp_path, **model):
    cfg = Config.fromfile(CFG)
    cfg.work_dir = str(tmp_path)
    # Several Runners in one process: unique names, or mmengine hands the next
    # Runner the first one's global visualizer (and its log folder).
    name = f'eps_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer.name = name
    for k, v in model.items():
        cfg.model[k] = v  # replace, not merge (ConfigDict.update merges dicts)
    return cfg


@pytest.mark.parametrize('backbone', ['resnet38', 'mmpretrain_r50'])
@pytest.mark.parametrize('loss', ['eps', 'ird'])
def test_runner_trains_two_iterations(tmp_path, backbone, loss):
    sal = dict(type='EPSSaliencyLoss', tau=0.4, lam=0.5) if loss == 'eps' else \
        dict(type='IRDSaliencyLoss', num_iter=2, dilations=(1, 2))
    cfg = _cfg(tmp_path, saliency_loss=sal)
    if backbone == 'mmpretrain_r50':
        cfg.model.backbone = MMPRETRAIN_R50
        cfg.model.in_channels = 256  # 8 × 8 × expansion 4
    runner = Runner.from_cfg(cfg)
    model = runner.model
    head0 = model.conv_cls.weight.detach().clone()
    runner.train()

    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth'))
    logs = [json.loads(ln) for ln in open(next(tmp_path.glob('*/vis_data/scalars.json')))]
    rows = [r for r in logs if 'loss_sal' in r]
    assert len(rows) == 2
    assert all(np.isfinite(r['loss']) and np.isfinite(r['loss_cls']) for r in rows)
    assert all(0 <= r['loss_sal'] <= 1 for r in rows)  # a mean of squares of [0, 1] values
    assert not torch.equal(model.conv_cls.weight.detach(), head0)
    # the head runs at 10× the backbone lr (EPS recipe)
    lrs = {g['lr_mult'] if 'lr_mult' in g else 1.0 for g in runner.optim_wrapper.param_groups}
    assert 10.0 in lrs
    if backbone == 'resnet38':  # PSA/EPS: frozen BN and first stages
        assert not model.backbone.conv1a.weight.requires_grad
        assert not model.backbone.b2_2.conv_branch2a.weight.requires_grad
        assert model.backbone.b3.conv_branch2a.weight.requires_grad


def test_saliency_loss_from_the_registry(tmp_path):
    from mmseg.registry import MODELS

    from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss
    cfg = _cfg(tmp_path)
    model = MODELS.build(cfg.model)
    assert isinstance(model.loss_sal, IRDSaliencyLoss) and model.loss_sal.pamr.num_iter == 2
    cfg.model.saliency_loss = None  # plain CAM: the classification loss alone
    runner = Runner.from_cfg(cfg)
    assert runner.model.loss_sal is None
    batch = next(iter(runner.train_dataloader))
    losses = runner.model.loss(**runner.model.data_preprocessor(batch, True))
    assert set(losses) == {'loss_cls', 'acc_cls'}
    # the short names of earlier configs still build, with a deprecation warning
    for old, cls in (('eps', EPSSaliencyLoss), ('ird', IRDSaliencyLoss), ('none', type(None))):
        cfg.model.saliency_loss = dict(type=old)
        with pytest.warns(DeprecationWarning, match=repr(old)):
            assert isinstance(MODELS.build(cfg.model).loss_sal, cls)


def test_pipeline_augments_saliency_with_the_image(tmp_path):
    cfg = _cfg(tmp_path)
    runner = Runner.from_cfg(cfg)
    ds = runner.train_dataloader.dataset
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        img_id = osp.splitext(osp.basename(sample.img_path))[0]
        sal = sample.gt_saliency.data
        assert sal.dtype == torch.uint8 and sal.shape[1:] == out['inputs'].shape[1:]
        want = torch.zeros(20)
        want[LABELS[img_id]] = 1
        assert torch.equal(sample.gt_cls_label, want)
    # without augmentation, the packed saliency is the PNG itself
    from mmseg.registry import TRANSFORMS
    from mmengine.dataset import Compose
    pipe = Compose([TRANSFORMS.build(dict(type='LoadImageFromFile')),
                    TRANSFORMS.build(dict(type='LoadSaliencyMap', sal_dir=cfg.sal_dir)),
                    TRANSFORMS.build(dict(type='RandomFlip', prob=1.0)),
                    TRANSFORMS.build(dict(type='PackClsSaliencyInputs'))])
    info = ds.get_data_info(0)
    out = pipe(dict(info))
    img_id = osp.splitext(osp.basename(info['img_path']))[0]
    png = np.asarray(Image.open(osp.join(cfg.sal_dir, img_id + '.png')).convert('L'))
    assert np.array_equal(out['data_samples'].gt_saliency.data[0].numpy(), png[:, ::-1])
    # without sal_dir, the map the dataset names (data_prefix.sal_path) is read
    from_ds = TRANSFORMS.build(dict(type='LoadSaliencyMap'))(
        TRANSFORMS.build(dict(type='LoadImageFromFile'))(dict(info)))
    assert info['sal_path'] == osp.join(cfg.sal_dir, img_id + '.png')
    assert np.array_equal(from_ds['gt_saliency'], png)


def test_generate_cams_full_size_labelled_classes(tmp_path):
    cfg = _cfg(tmp_path)
    runner = Runner.from_cfg(cfg)
    model = runner.model.eval()
    from mmseg.registry import DATASETS
    ds = DATASETS.build(cfg.cam_dataloader.dataset)
    data = ds[2]
    sample = model.test_step(dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))[0]
    img_id = osp.splitext(osp.basename(sample.img_path))[0]
    cams = sample.pred_cams.data
    assert sample.cam_classes == LABELS[img_id]
    assert cams.shape == (len(LABELS[img_id]), ) + tuple(data['inputs'].shape[1:])
    assert cams.min() >= 0 and cams.max() < 1
    peaks = cams.flatten(1).max(1)[0]  # max / (max + 1e-5), the max a sum of 4 softmaxes
    assert ((peaks > 0.999) & (peaks < 1)).all()


def test_loading_a_checkpoint_with_another_head_is_an_error(tmp_path):
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS
    cfg = _cfg(tmp_path)
    path = str(tmp_path / 'voc.pth')
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    cfg.model.num_classes = 80
    with pytest.raises(ValueError, match=r'21 output channels \(20 classes'):
        load_checkpoint(MODELS.build(cfg.model), path)


def psa_resnet38_keys():
    """The key names of PSA's converted ImageNet weights (convert_mxnet_to_torch)."""
    bn = ('weight', 'bias', 'running_mean', 'running_var')
    keys = ['conv1a.weight'] + [f'bn7.{p}' for p in bn]
    plain = ['b2', 'b2_1', 'b2_2', 'b3', 'b3_1', 'b3_2', 'b4'] + [f'b4_{i}' for i in range(1, 6)]
    for b in plain + ['b5', 'b5_1', 'b5_2']:
        keys += [f'{b}.bn_branch2a.{p}' for p in bn] + [f'{b}.bn_branch2b1.{p}' for p in bn]
        keys += [f'{b}.conv_branch2a.weight', f'{b}.conv_branch2b1.weight']
        if b in ('b2', 'b3', 'b4', 'b5'):
            keys.append(f'{b}.conv_branch1.weight')
    for b in ('b6', 'b7'):
        for n in ('2a', '2b1', '2b2'):
            keys += [f'{b}.bn_branch{n}.{p}' for p in bn] + [f'{b}.conv_branch{n}.weight']
        keys.append(f'{b}.conv_branch1.weight')
    return keys


def test_resnet38_loads_psa_converted_weights(tmp_path):
    from mmwsss.models.backbones import ResNet38
    src = ResNet38(base_channels=4)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in src.state_dict().items() if not k.endswith('num_batches_tracked')}
    assert sorted(state) == sorted(psa_resnet38_keys())
    path = str(tmp_path / 'ilsvrc-cls_rna-a1_cls1000_ep-0001.pth')
    torch.save(state, path)  # the converted file is a bare state dict
    net = ResNet38(base_channels=4, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    for k, v in net.state_dict().items():
        if k in state:
            assert torch.equal(v, state[k]), k
    net.eval()
    out = net(torch.rand(1, 3, 64, 48))
    assert len(out) == 1 and out[0].shape == (1, 256, 8, 6)  # output stride 8


def test_bad_input_errors(voc_copy, tmp_path):
    from mmseg.registry import TRANSFORMS
    img = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
    sal_dir = osp.join(voc_copy, 'saliency_maps', 'VOC2012_TEST')
    sal_path = osp.join(sal_dir, '2007_000032.png')
    Image.open(sal_path).resize((7, 5)).save(sal_path)
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    res = load(dict(img_path=img))
    with pytest.raises(WSSSInputError, match=r"2007_000032.*saliency map is 7×5"):
        TRANSFORMS.build(dict(type='LoadSaliencyMap', sal_dir=sal_dir))(dict(res))
    with pytest.raises(WSSSInputError, match=r"2007_000032.*no sal_dir and the dataset gives no"):
        TRANSFORMS.build(dict(type='LoadSaliencyMap'))(dict(res))
    # fails before the fix: the classifier's loader read the saliency map of an
    # EXIF-tagged image in the stored frame while the image was rotated
    Image.open(sal_path).resize(Image.open(img).size).save(sal_path)
    tagged = Image.open(img)
    exif = tagged.getexif()
    exif[0x0112] = 6
    tagged.save(img, exif=exif.tobytes())
    with pytest.raises(WSSSInputError, match=r'2007_000032.*EXIF orientation'):
        TRANSFORMS.build(dict(type='LoadSaliencyMap', sal_dir=sal_dir))(load(dict(img_path=img)))
    pack = TRANSFORMS.build(dict(type='PackClsSaliencyInputs'))
    with pytest.raises(WSSSInputError, match='2007_000032.*no labelled'):
        pack(dict(res, cls_labels=np.zeros(0, np.int64), num_classes=20))
    with pytest.raises(WSSSInputError, match='outside 0..19'):
        pack(dict(res, cls_labels=np.array([20]), num_classes=20))


CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'eps')


@pytest.mark.parametrize('name', [
    'eps_resnet38_1xb8-20k_voc12aug-448x448', 'ird_resnet38_1xb8-20k_voc12aug-448x448',
    'eps_resnet38_1xb16-100k_coco14-321x321', 'ird_resnet38_1xb16-100k_coco14-321x321',
    'ird_r101-d8_1xb8-20k_voc12aug-448x448'
])
def test_recipe_configs(name):
    from mmseg.registry import TRANSFORMS
    cfg = Config.fromfile(osp.join(CONFIGS, name + '.py'))
    coco = 'coco' in name
    m = cfg.model
    assert m.type == 'EPSClassifier' and m.num_classes == (80 if coco else 20)
    assert m.saliency_loss.type == dict(eps='EPSSaliencyLoss',
                                        ird='IRDSaliencyLoss')[name.split('_')[0]]
    if m.saliency_loss.type == 'EPSSaliencyLoss':
        assert m.saliency_loss.lam == (0.9 if coco else 0.5) and m.saliency_loss.tau == 0.4
    assert m.data_preprocessor.size == ((321, 321) if coco else (448, 448))
    assert cfg.train_dataloader.batch_size == (16 if coco else 8)
    opt = cfg.optim_wrapper
    assert opt.optimizer.lr == 0.01 and opt.optimizer.weight_decay == 5e-4
    assert opt.paramwise_cfg.custom_keys['conv_cls']['lr_mult'] == 10.0
    assert cfg.param_scheduler[0].power == 0.9
    assert cfg.train_cfg.max_iters == (100000 if coco else 20000)
    for dl in ('train_dataloader', 'cam_dataloader'):
        for step in cfg[dl].dataset.pipeline:
            TRANSFORMS.build(step)


def test_r101_recipe_builds_output_stride_8():
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(CONFIGS, 'ird_r101-d8_1xb8-20k_voc12aug-448x448.py'))
    cfg.model.backbone.depth = 50  # same family, lighter to build
    model = MODELS.build(cfg.model)  # no init_weights(): nothing is downloaded
    model.eval()
    with torch.no_grad():
        logits = model._forward(torch.rand(1, 3, 64, 48))
    assert logits.shape == (1, 21, 8, 6)


def test_ird_gets_the_image_in_unit_range(tmp_path):
    """The IRD loss refines on the RGB image in [0, 1]: undoing the
    preprocessor's normalisation recovers it (padding aside)."""
    cfg = _cfg(tmp_path)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    batch = next(iter(runner.train_dataloader))
    raw = [x.float() for x in batch['inputs']]  # BGR uint8 crops
    data = model.data_preprocessor(batch, True)
    unit = model._unit_image(data['inputs'])
    for i, x in enumerate(raw):
        h, w = x.shape[1:]
        torch.testing.assert_close(unit[i, :, :h, :w], x.flip(0) / 255, atol=1e-5, rtol=0)
    sal = model._saliency(data['data_samples'], data['inputs'])
    assert sal.shape == (len(raw), 1, 32, 32) and 0 <= sal.min() and sal.max() <= 1


def test_cam_norm_relu_max_is_wsss_bed_eq1():
    """cam_norm='relu_max' (WSSS-BED Eq. 1): the class channel's logit through ReLU,
    divided by its max; the default stays the softmax over C+1."""
    from mmseg.registry import MODELS
    logits = torch.tensor([[[[2.0, -1.0], [0.5, 1.0]], [[-3.0, 4.0], [1.0, 0.0]],
                            [[5.0, 5.0], [5.0, 5.0]]]])  # 2 classes + background (last)

    def build(**kw):
        m = MODELS.build(dict(type='EPSClassifier', backbone=MMPRETRAIN_R50, num_classes=2,
                              in_channels=256, cam_scales=(1.0, ), cam_flip=False, **kw))
        m._forward = lambda x, data_samples=None: logits
        return m.eval()

    x = torch.zeros(1, 3, 2, 2)
    cams = build(cam_norm='relu_max').generate_cams(x, [0, 1])
    relu = logits[0, :2].relu()
    torch.testing.assert_close(cams, relu / (relu.flatten(1).max(1)[0].view(2, 1, 1) + 1e-5))
    soft = logits.softmax(1)[0, :2]
    torch.testing.assert_close(build().generate_cams(x, [0, 1]),
                               soft / (soft.flatten(1).max(1)[0].view(2, 1, 1) + 1e-5))
    with pytest.raises(ValueError, match='cam_norm'):
        build(cam_norm='max')
