"""Issue 23, the first hour round 2: check_data checks every id's maps, missing
pretrained weights are named at start, a smoke recipe, one way for tools to end,
and the logs and tables a person reads."""
import logging
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmwsss.config import load_config
from mmwsss.errors import WSSSInputError
from mmwsss.preflight.data import check_data_report
from mmwsss.testing import make_voc_file_layout
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LEAF = osp.join(ROOT, 'configs', 'wsss', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py')
BED_LEAF = osp.join(ROOT, 'configs', 'wsss',
                    'deeplabv2-msc_r101-d8-coco-pre_2xb10-amp-10k_voc12aug-321x321_eps-vst.py')
R38 = osp.join(ROOT, 'configs', 'eps', 'ird_resnet38_1xb8-20k_voc12aug-448x448.py')
V3P = osp.join(ROOT, 'configs', 'wsss',
               'deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-vst.py')


def _layout_options(root, data, **extra):
    opts = {'train_dataloader.dataset.data_root': root,
            'train_dataloader.dataset.maps_root': root,
            'train_dataloader.dataset.data_prefix.cam_path': data.cam_path,
            'train_dataloader.dataset.data_prefix.sal_path': data.sal_path,
            'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root}
    opts.update(extra)
    return opts


@pytest.fixture
def layout(tmp_path):
    root = str(tmp_path / 'voc')
    return root, make_voc_file_layout(root, num_train=300, num_val=20, num_gt_subset=30)


def test_check_data_checks_every_listed_ids_cams_and_saliency(layout):
    """Fails before the fix: check_data looked for one map file per folder, so a
    removed CAM, a removed saliency map and no maps at all for most ids passed."""
    root, data = layout
    opts = _layout_options(root, data)
    report = check_data_report(load_config(LEAF, opts))
    assert report.problems == []
    assert report.counts["images' CAMs"] == 300 and report.counts['saliency maps'] == 300
    assert report.counts['images'] == 320 and report.counts['GT masks'] == 20  # val once
    assert 'all there' in report.summary() and "300 images' CAMs" in report.summary()

    cam_dir, sal_dir = osp.join(root, data.cam_path), osp.join(root, data.sal_path)
    labels = dict(ln.split(' ', 1) for ln in open(osp.join(root, data.cls_label_file))
                  .read().splitlines())
    cls = labels['gen_00007'].split()[-1]
    os.remove(osp.join(cam_dir, f'gen_00007_{cls}.png'))  # one class's CAM
    os.remove(osp.join(sal_dir, 'gen_00011.png'))
    lines = check_data_report(load_config(LEAF, opts)).problems
    assert len(lines) == 2, lines
    cam = next(ln for ln in lines if 'cam_path' in ln)
    assert cam.startswith('train_dataloader.dataset.data_prefix.cam_path: 1 CAM file(s) '
                          '(bed_png) of the 300 images')
    assert f'gen_00007_{cls}.png' in cam and cam_dir in cam
    sal = next(ln for ln in lines if 'sal_path' in ln)
    assert 'gen_00011.png' in sal and sal_dir in sal

    # no maps at all for all but a few ids
    for name in os.listdir(cam_dir):
        if not name.startswith('gen_0000'):
            os.remove(osp.join(cam_dir, name))
    report = check_data_report(load_config(LEAF, opts))
    cam = next(ln for ln in report.problems if 'cam_path' in ln)
    assert ' of the 300 images' in cam and 'and ' in cam and 'more' in cam
    assert report.summary().startswith('2 problem(s)')


def test_check_data_semi_supervised_subset(layout):
    """gt_subset images are not required to have maps (they train on GT); a
    subset id outside the training list and a missing subset mask are named."""
    root, data = layout
    subset = osp.join(root, 'gt_subset.txt')
    opts = _layout_options(root, data, **{'train_dataloader.dataset.gt_subset': subset})
    for i in range(30):  # the subset's own maps are not read
        os.remove(osp.join(root, data.sal_path, f'gen_{i:05d}.png'))
    report = check_data_report(load_config(LEAF, opts))
    assert report.problems == [] and report.counts['gt_subset ids'] == 30
    assert report.counts['saliency maps'] == 270
    with open(subset, 'a') as f:
        f.write('val_00003\n')
    os.remove(osp.join(root, 'SegmentationClassAug', 'gen_00004.png'))
    lines = check_data_report(load_config(LEAF, opts)).problems
    assert any('1 of the 31 ids' in ln and 'val_00003' in ln for ln in lines), lines
    assert any('gen_00004.png (missing)' in ln for ln in lines), lines


def test_check_data_tool_summary_lists_only_what_failed(layout, capsys):
    """Fails before the fix: the closing line named every config, the ones that
    passed too, and no line said how much was checked."""
    root, data = layout
    tool = load_tool('check_data')
    opts = ['--skip-weights', '--cfg-options'] + [f'{k}={v}' for k, v in
                                                 _layout_options(root, data).items()]
    # its gt_subset list (train.txt) is not in the layout
    bad = osp.join(ROOT, 'configs', 'semi', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_'
                   'eps-vst_semi-1464.py')
    with pytest.raises(SystemExit) as e:
        tool.main([LEAF, bad] + opts)
    out = capsys.readouterr().out
    assert f'{LEAF}: all there: 320 images' in out
    assert f'{bad}: 1 problem(s)' in out
    assert str(e.value) == f'1 problem(s) with the data of {bad}'


def test_missing_pretrained_weights_are_named_at_start(tmp_path, monkeypatch):
    """Fails before the fix: a missing ResNet-38 file failed as a bare
    FileNotFoundError once the model was built, torchvision weights offline as a
    URLError. Now the data check names the file, how to get it and the key."""
    from mmwsss.preflight import weights as weights_check
    monkeypatch.setattr(weights_check, 'host_reachable', lambda host: False)  # offline
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # an empty hub cache
    monkeypatch.chdir(tmp_path)
    lines = weights_check.check_weights(load_config(R38))
    assert len(lines) == 1
    assert lines[0].startswith('model.backbone.init_cfg.checkpoint: pretrained weights '
                               'pretrain/ilsvrc-cls_rna-a1_cls1000_ep-0001.pth not found')
    assert 'tools/model_converters/resnet38_mxnet2pth.py' in lines[0]
    assert '--cfg-options model.backbone.init_cfg.checkpoint=' in lines[0]

    cfg = load_config(V3P, {'model.pretrained': 'torchvision://resnet101'})
    lines = weights_check.check_weights(cfg)
    hub = osp.join(str(tmp_path / 'torch'), 'hub', 'checkpoints')
    assert len(lines) == 1 and lines[0].startswith("model.pretrained = 'torchvision://")
    cached = osp.join(hub, lines[0].split(hub + '/')[1].split()[0])
    assert cached.endswith('.pth') and 'cannot be reached' in lines[0]
    assert '--cfg-options model.pretrained=' in lines[0]
    os.makedirs(osp.dirname(cached))
    with open(cached, 'wb') as f:
        f.write(b'x')
    assert weights_check.check_weights(cfg) == []
    # open-mmlab:// names resolve through mmengine's table to the same cache
    lines = weights_check.check_weights(load_config(V3P))
    assert len(lines) == 1 and 'resnet101_v1c' in lines[0] and 'hub' in lines[0]
    assert weights_check.check_weights(
        load_config(V3P, {'model.pretrained': 'torchvision://resnet_101'}))[0].endswith(
            'mmengine knows no such model name (a typo?); or --cfg-options '
            'model.pretrained=/path/to/weights.pth')

    # tools/train.py's start-up check reports it with the data
    train = load_tool('train')
    assert any('resnet38_mxnet2pth.py' in ln for ln in train.preflight(load_config(R38)))


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a file of mode 000: nothing to '
                    'report (run as a normal user to test it)')
def test_unreadable_pretrained_weights_are_named_at_start(tmp_path, monkeypatch):
    """Fails before the fix: weights of mode 000 (or in a folder this user cannot enter)
    passed the start-up check, and failed once the model was built."""
    from mmwsss.preflight import weights as weights_check
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'pretrain' / 'ilsvrc-cls_rna-a1_cls1000_ep-0001.pth'
    path.parent.mkdir()
    path.write_bytes(b'x')
    assert weights_check.check_weights(load_config(R38)) == []
    try:
        path.chmod(0)
        lines = weights_check.check_weights(load_config(R38))
        assert len(lines) == 1 and 'is unreadable (permission denied)' in lines[0], lines
        path.chmod(0o644)
        path.parent.chmod(0o600)
        lines = weights_check.check_weights(load_config(R38))
        assert len(lines) == 1 and 'permission denied on a folder on its way' in lines[0]
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def _tool(*args, env=None):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=300)


def test_tools_end_on_a_users_mistake_with_the_message_and_on_our_bug_with_a_traceback(
        capsys):
    """Fails before the fix: a wrong config path or a bad --cfg-options key ended the
    tools in a traceback (FileNotFoundError / ValueError from load_config)."""
    from mmwsss.cli import run_tool

    def user():
        raise WSSSInputError('CAM values must lie in [0, 1]', 'gen_1', 'a/gen_1.npz')

    with pytest.raises(SystemExit) as e:
        run_tool(user, prog='tool.py')
    assert e.value.code == 1
    assert capsys.readouterr().err == ("tool.py: error: image 'gen_1', file 'a/gen_1.npz': "
                                       'CAM values must lie in [0, 1]\n')

    def bug():
        raise KeyError('our bug')

    with pytest.raises(KeyError):
        run_tool(bug)

    r = _tool('tools/check_data.py', 'configs/no_such.py')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == \
        'check_data.py: error: config file configs/no_such.py not found'
    r = _tool('tools/check_data.py', 'configs/no_such.py', env={'MMWSSS_TRACEBACK': '1'})
    assert r.returncode == 1 and 'Traceback' in r.stderr


def test_tools_exit_the_same_way():
    """Every tool's entry point goes through run_tool (the shared helper); not
    tools/demo.py (it hands over to demo/wsss_demo.py) nor tools/gpu_check.py (it
    starts before the stack is installed and reports each step's failure itself)."""
    import glob
    tools = sorted(glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True))
    tools = [t for t in tools if osp.basename(t) not in ('demo.py', 'gpu_check.py')]
    plain = [t for t in tools if "__name__ == '__main__'" in open(t).read()
             and 'run_tool(' not in open(t).read()]
    assert not plain, plain


def test_frozen_parameters_are_one_log_line(tmp_path):
    """Fails before the fix: mmengine warns once per frozen parameter (208 lines per
    DeepLab-V2 log, 82 per ResNet-38 log)."""
    import torch
    from mmengine.optim import build_optim_wrapper

    from tests.test_configs import mmlogger_records
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    for p in model[1].parameters():
        p.requires_grad = False
    # mmengine looks at each parameter (and warns) only with a paramwise_cfg
    cfg = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
               paramwise_cfg=dict(norm_decay_mult=0.), constructor='SummaryOptimWrapperConstructor')
    with mmlogger_records(logging.INFO) as records:
        build_optim_wrapper(model, cfg)
    msgs = [r.getMessage() for r in records]
    assert not [m for m in msgs if 'is skipped since' in m], msgs
    assert [m for m in msgs if 'requires_grad=False' in m] == [
        '2 parameters with requires_grad=False are not optimised (frozen): 1.weight 1, '
        '1.bias 1']


def test_model_budget_table_has_no_warning_inside():
    """Fails before the fix: mmseg's warnings while building the models were
    printed between the table's rows."""
    r = _tool('tools/analysis_tools/model_budget.py',
              'configs/wsss/recipes/segformer_mit-b5_8xb2-40k_voc12aug-512x512.py')
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith('| config |') and all(ln.startswith('|') for ln in lines), lines


def _smoke_on_fixtures(leaf, work, voc_root, name, *extra):
    """``tools/train.py LEAF --smoke 1`` with its data pointed at the VOC fixture (in
    ``work``, or the default work dir when None)."""
    opts = [f'train_dataloader.dataset.data_root={voc_root}',
            f'train_dataloader.dataset.maps_root={voc_root}',
            'train_dataloader.dataset.data_prefix.cam_path=activation_maps/VOC2012_TEST',
            f'val_dataloader.dataset.data_root={voc_root}', f'visualizer.name={name}', *extra]
    where = ['--work-dir', str(work)] if work is not None else []
    load_tool('train').main([leaf, '--smoke', '1', *where, '--cfg-options', *opts])


def test_smoke_runs_a_real_leaf_on_the_fixtures(tmp_path, voc_root, monkeypatch):
    """Fails before the fix (no --smoke: 9 to 11 overrides with pipeline indices). The
    DeepLab-V2 leaf as it ships, with only its data pointed at the fixture. Issue 30:
    its checkpoint holds the weights only, and its test lands in its work dir."""
    import torch
    monkeypatch.chdir(tmp_path)
    _smoke_on_fixtures(LEAF, None, voc_root, 'smoke_test',
                       'train_dataloader.dataset.data_prefix.sal_path=saliency_maps/VOC2012_TEST',
                       'train_dataloader.batch_size=1')
    name = osp.basename(LEAF)[:-3]
    work = tmp_path / 'work_dirs' / f'{name}_smoke'
    ckpt = torch.load(work / 'iter_1.pth', map_location='cpu', mmap=True, weights_only=False)
    assert 'optimizer' not in ckpt and 'param_schedulers' not in ckpt and ckpt['state_dict']
    log = open(next(work.glob('*/*.log'))).read()
    assert '--smoke: 1 iterations' in log and 'mIoU' in log
    assert 'model.pretrained=None' in log and 'validation on 2 images' in log
    assert 'then --cfg-options, which wins: ' in log and 'train_dataloader.batch_size' in log
    # the smoke test: 'last' is the smoke run's checkpoint, the results go beside it
    load_tool('test').main([LEAF, 'last', '--smoke', '--cfg-options',
                            f'test_dataloader.dataset.data_root={voc_root}',
                            'visualizer.name=smoke_test_test'])
    assert os.listdir(tmp_path / 'work_dirs') == [f'{name}_smoke']
    protocols = list(work.glob('*/protocol.json'))
    assert len(protocols) == 1 and '"num_images": 2' in protocols[0].read_text()


def test_cfg_options_win_over_the_smoke_shrink():
    """Fails before the fix: --smoke shrank the config after --cfg-options was merged,
    and silently replaced what the user set."""
    from mmwsss.config.smoke import make_smoke_config
    opts = {'train_dataloader.batch_size': 3, 'model.data_preprocessor.size': (96, 96),
            'default_hooks.checkpoint.save_optimizer': True}
    cfg = load_config(LEAF, opts, shrink=make_smoke_config)
    assert cfg.train_dataloader.batch_size == 3 and cfg.model.data_preprocessor.size == (96, 96)
    assert cfg.default_hooks.checkpoint.save_optimizer is True
    # the rest is the smoke's
    assert cfg.train_cfg.max_iters == 4 and cfg.val_dataloader.dataset.indices == 2
    assert cfg.default_hooks.checkpoint.save_param_scheduler is False


def test_smoke_runs_the_wsss_bed_leaf(tmp_path, voc_root):
    """One leaf of WSSS-BED's DeepLab-V2 recipe (multi-scale inputs, AMP, its evaluation
    protocol) trains and validates; its siblings share its model and differ in their maps
    (test_configs). Without a GPU the smoke run trains without AMP and says so."""
    from mmwsss.config.smoke import amp_available
    work = tmp_path / 'smoke'
    _smoke_on_fixtures(BED_LEAF, work, voc_root, 'smoke_bed')
    assert (work / 'iter_1.pth').is_file() and (work / 'best_mIoU_iter_1.pth').is_file()
    log = open(next(work.glob('*/*.log'))).read()
    for out in ('s1.0', 's0.5', 's0.75', 'max'):
        assert f'decode.loss_ce_{out}: ' in log
    assert 'mIoU' in log and 'model.pretrained=None' in log
    # its evaluation protocol, applied after the smoke shrink: the one validation is the best
    assert 'eval_protocol wsss-bed: validation every 100 iterations from iteration 1 of 1' in log
    assert ('AmpOptimWrapper as OptimWrapper (AMP needs a GPU)' in log) == (not amp_available())


def test_smoke_config_turns_amp_off_only_without_a_gpu(monkeypatch):
    """mmengine's AmpOptimWrapper asserts a GPU: without one a smoke run trains in fp32."""
    from mmwsss.config import smoke

    def amp_leaf():
        cfg = load_config(LEAF)
        cfg.optim_wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
        return cfg

    for gpu in (False, True):
        monkeypatch.setattr(smoke, 'amp_available', lambda: gpu)
        cfg = amp_leaf()
        done = smoke.make_smoke_config(cfg)
        ow = cfg.optim_wrapper
        if gpu:
            assert ow.type == 'AmpOptimWrapper' and ow.loss_scale == 'dynamic'
            assert not any('AMP' in d for d in done)
        else:
            assert ow.type == 'OptimWrapper' and 'loss_scale' not in ow
            assert 'AmpOptimWrapper as OptimWrapper (AMP needs a GPU)' in done
        assert ow.paramwise_cfg == amp_leaf().optim_wrapper.paramwise_cfg  # the groups stay


def test_smoke_config_names_what_sets_the_crop():
    from mmwsss.config.smoke import make_smoke_config
    cfg = load_config(LEAF)
    done = make_smoke_config(cfg)
    assert cfg.model.data_preprocessor.size == (64, 64) and cfg.model.pretrained is None
    crops = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
    assert crops[0].crop_size == (64, 64)
    assert cfg.val_dataloader.dataset.indices == 2 and cfg.train_cfg.max_iters == 4
    assert any('RandomCrop.crop_size=(64, 64)' in d for d in done), done
    # crop_size= is refused, naming the keys that do set the crop
    with pytest.raises(ValueError, match=r'crop_size: .*train_dataloader\.dataset\.pipeline\.\d+'
                                         r'\.crop_size.*model\.data_preprocessor\.size'):
        load_config(LEAF, {'crop_size': (64, 64)})


def test_the_readme_download_step_leaves_nothing_for_git():
    """Fails before the fix: the README's `git clone https://github.com/clovaai/WSSS-BED`
    (in the repository root) and the converted weights in pretrain/ showed as untracked."""
    for path in ('WSSS-BED/wsss_bed/run.py', 'pretrain/ilsvrc-cls_rna-a1_cls1000_ep-0001.pth'):
        r = subprocess.run(['git', 'check-ignore', '-q', path], cwd=ROOT)
        assert r.returncode == 0, path


def test_a_best_tau_at_the_edge_of_the_grid_is_named_with_the_next_step():
    """Fails before the fix: the demo's no-saliency rows picked 0.95, the grid's last
    value, in silence; eval_pseudo_labels.py too wrote it to best.json unflagged."""
    from mmwsss.evaluation import choose_tau
    taus = [round(0.05 * i, 2) for i in range(20)]  # 0 ... 0.95
    inside = choose_tau(taus, [-(t - 0.4) ** 2 for t in taus])
    assert (inside.tau, inside.edge, inside.advice()) == (taus[8], None, '')
    high = choose_tau(taus, taus)  # still rising at 0.95
    assert high.edge == 'high' and high.tau == 0.95 and high.wider[-1] == 1.0
    assert high.wider[:3] == (0.0, 0.05, 0.1) and len(high.wider) == 21
    assert high.advice().endswith('widen the range, e.g. --tau-range 0 1 0.05')
    low = choose_tau(taus[4:], [-t for t in taus[4:]])  # 0.2 ... 0.95, best 0.2
    assert low.edge == 'low' and low.wider[0] == 0.0 and '--tau-range 0 0.95 0.05' in \
        low.advice()
    limit = choose_tau(taus, [-t for t in taus])  # best at 0: the range ends there
    assert limit.edge == 'low' and limit.wider is None and 'end of the range' in \
        limit.advice()
    nan = choose_tau([0.1, 0.2, 0.3], [float('nan'), 0.5, 0.4])  # 0.1 may not win
    assert nan.tau == 0.2 and nan.edge is None
    with pytest.raises(ValueError, match='every τ'):
        choose_tau([0.1], [float('nan')])


def test_eval_pseudo_labels_flags_a_best_tau_at_the_edge(tmp_path, capsys):
    import json

    import numpy as np
    tool = load_tool('eval_pseudo_labels')
    taus = [0.1, 0.2, 0.3]
    n = len(taus)
    scores = dict(miou_excl=np.array([0.3, 0.4, 0.5]), miou_miss=np.array([0.3, 0.4, 0.5]),
                  mprecision=np.zeros(n), mrecall_excl=np.zeros(n), mrecall_miss=np.zeros(n),
                  ignored_share=np.zeros(n), iou_excl=np.zeros((n, 2)),
                  iou_miss=np.zeros((n, 2)), precision=np.zeros((n, 2)),
                  recall_excl=np.zeros((n, 2)), recall_miss=np.zeros((n, 2)))
    summary = tool.write_outputs(str(tmp_path), taus, scores, ['bg', 'a'], 'excl', {})
    best = json.load(open(tmp_path / 'best.json'))
    assert best['tau'] == 0.3 and best['tau_at_edge'] == 'high' == summary['tau_at_edge']
    assert '--tau-range 0.1 0.7 0.1' in best['tau_advice']


def test_make_skips_the_install_when_the_environment_matches_the_pins(tmp_path):
    """Fails before the fix: `make` judged the stamp by file times, so a fresh clone (new
    times) beside a ready environment, or `make test PYTHON=python`, ran the whole install
    again; now the stamp holds the pins' hash (and the checkout's path, and a hash of
    what is installed) and a matching environment is recognised."""
    import hashlib
    pins = b''.join(open(osp.join(ROOT, 'requirements', f), 'rb').read()
                    for f in ('stack.txt', 'tests.txt'))
    stamp = tmp_path / 'stamp'
    env = dict(os.environ, PYTHON=sys.executable, STACK_STAMP=str(stamp))
    script = osp.join(ROOT, 'tools', 'install_stack.sh')
    r = subprocess.run(['bash', script, '--if-needed'], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'already matches the pins; nothing to install' in r.stdout
    assert '+ ' not in r.stdout  # no pip command ran
    checkout = os.path.realpath(os.getcwd())
    pins_hash, stamped_checkout, installed = stamp.read_text().split()
    assert [pins_hash, stamped_checkout] == [hashlib.sha256(pins).hexdigest(), checkout]
    assert re.fullmatch('[0-9a-f]{64}', installed)
    r = subprocess.run(['bash', script, '--if-needed'], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and 'nothing to do' in r.stdout, r.stdout + r.stderr
    # the same pins stamped by another checkout sharing the environment: not taken as
    # done, the full check runs (and finds mmwsss installed from this one)
    stamp.write_text(f'{hashlib.sha256(pins).hexdigest()} /elsewhere/mmwsss\n')
    r = subprocess.run(['bash', script, '--if-needed'], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and 'already matches the pins' in r.stdout, r.stdout + r.stderr
    assert stamp.read_text().split()[1] == checkout
    # an environment without the stack: --check says what differs, changes nothing
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(tmp_path / 'bare')],
                   check=True)
    env.update(PYTHON=str(tmp_path / 'bare' / 'bin' / 'python'), STACK_STAMP=str(stamp) + '2')
    r = subprocess.run(['bash', script, '--check'], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and 'does not match the pins' in r.stdout, r.stdout + r.stderr
    assert not osp.exists(str(stamp) + '2')
    # make runs it that way, for .venv and for one's own environment
    for extra in ([], ['PYTHON=python']):
        out = subprocess.run(['make', '-n', 'stack', *extra], cwd=ROOT, capture_output=True,
                             text=True).stdout
        assert 'install_stack.sh --if-needed' in out, out


HELP_TOOLS = ['train', 'test', 'check_data', 'make_cams', 'eval_pseudo_labels',
              'export_pseudo_labels', 'browse_pseudo_labels', 'analysis_tools/summarize_seeds',
              'analysis_tools/model_budget', 'dataset_converters/coco2014',
              'dataset_converters/draw_gt_subset', 'model_converters/resnet38_mxnet2pth',
              'model_converters/deeplabv2_coco2mmseg']


def test_help_shows_defaults(monkeypatch, capsys):
    """Fails before the fix: --help listed options without their defaults."""
    import argparse
    from mmwsss.cli import DefaultsHelpFormatter
    for tool in HELP_TOOLS:  # every tool's parser takes the formatter
        src = open(osp.join(ROOT, 'tools', tool + '.py')).read()
        assert 'formatter_class=DefaultsHelpFormatter' in src, tool
    p = argparse.ArgumentParser(prog='t', formatter_class=DefaultsHelpFormatter)
    p.add_argument('--nproc', type=int, default=4, help='workers')
    p.add_argument('--out', required=True, help='folder')
    p.add_argument('--force', action='store_true', help='overwrite')
    p.add_argument('--tau', default=None, help='threshold')
    text = ' '.join(p.format_help().split())
    assert '--nproc NPROC workers (default: 4)' in text
    assert 'default: None' not in text and 'default: False' not in text
    train = load_tool('train')
    monkeypatch.setattr(sys, 'argv', ['train.py', '--help'])
    with pytest.raises(SystemExit):
        train.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert "--launcher {none,pytorch,slurm,mpi} job launcher (default: none)" in text
