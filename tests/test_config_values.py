"""Issue 30, item 3: a value our transforms or datasets refuse is a user's error
before anything is built: one ``<tool>: error:`` line naming the config key and
the allowed values, no traceback after hundreds of lines of config."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmwsss.config import load_config
from mmwsss.config.checks import config_value_problems
from mmwsss.datasets.transforms import SaliencyPseudoLabel
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LEAF = osp.join(ROOT, 'configs', 'wsss', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py')
FCN = osp.join(ROOT, 'configs', 'examples', 'fcn_r50-d8_4xb4-20k_voc12aug-512x512_cam-vst.py')
EPS = osp.join(ROOT, 'configs', 'eps', 'eps_resnet38_1xb8-20k_voc12aug-448x448.py')
PLC = 'train_dataloader.dataset.pseudo_label_cfg'
DS = 'train_dataloader.dataset'


def test_train_stops_on_a_bad_value_with_one_line_before_the_config_dump(tmp_path):
    """Fails before the fix: tau=1.5 ended in a 57-line traceback after the
    whole config (508 lines in all), once the dataloader was built."""
    r = subprocess.run([sys.executable, 'tools/train.py', LEAF, '--work-dir', str(tmp_path),
                        '--cfg-options', f'{PLC}.tau=1.5'], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert r.returncode == 1, r.stderr[-3000:]
    assert r.stdout == '' and r.stderr.splitlines() == [
        f'train.py: error: {PLC}.tau must be a finite number in [0, 1], got 1.5']
    assert not os.listdir(tmp_path)  # nothing started


def test_train_in_process_names_a_misspelled_mode_with_the_allowed_ones(tmp_path, capsys):
    from mmwsss.cli import run_tool
    train = load_tool('train')
    with pytest.raises(SystemExit) as e:
        run_tool(train.main, [LEAF, '--work-dir', str(tmp_path), '--cfg-options',
                              f'{PLC}.mode=nosal'], prog='train.py')
    out = capsys.readouterr()
    assert e.value.code == 1 and out.out == '' and out.err == (
        f"train.py: error: {PLC}.mode must be one of ('saliency', 'no_saliency'), got 'nosal'; "
        "did you mean 'no_saliency'?\n")


@pytest.fixture(scope='module')
def leaf():
    return load_config(LEAF)


@pytest.mark.parametrize('key, value, says', [
    (f'{PLC}.tau', 1.5, f'{PLC}.tau must be a finite number in [0, 1], got 1.5'),
    (f'{PLC}.mode', 'nosal', f"{PLC}.mode must be one of ('saliency', 'no_saliency'), got "
     "'nosal'; did you mean 'no_saliency'?"),
    (f'{PLC}.sal_threshold', -0.1, f'{PLC}.sal_threshold must be a finite number in [0, 1]'),
    (f'{PLC}.cam_format', 'pakced', f"{PLC}.cam_format must be one of ('bed_png', 'npz', "
     "'npy_dict', 'packed'), got 'pakced'; did you mean 'packed'?"),
    (f'{PLC}.ignore_index', 300, f'{PLC}.ignore_index must be an integer in 1..255'),
    (f'{PLC}.ignore_unassigned', 'yes', f'{PLC}.ignore_unassigned must be True or False'),
    (f'{PLC}.allow_pickle', 1, f'{PLC}.allow_pickle must be True or False, got 1'),
    (f'{PLC}.crf', 'psa', f"{PLC}.crf refines CAM-only labels (crf='psa'): use "
     "mode='no_saliency'"),
    (f'{PLC}.sal_dir', 'x', f"{PLC}.sal_dir must be None with cam_format='packed'"),
    (f'{DS}.cls_label_file', 3, f'{DS}.cls_label_file must be a path or None, got 3'),
    (f'{DS}.gt_subset', ['a'], f"{DS}.gt_subset must be a path or None, got ['a']"),
    (f'{DS}.pseudo_labels', 'yes', f"{DS}.pseudo_labels must be True or False, got 'yes'"),
])
def test_each_value_is_named_with_its_key_and_what_it_may_be(leaf, key, value, says):
    cfg = copy.deepcopy(leaf)
    cfg.merge_from_dict({key: value})
    if key.endswith('sal_dir'):  # a saliency folder beside a pack's own maps
        cfg.merge_from_dict({f'{PLC}.cam_format': 'packed'})
    lines = config_value_problems(cfg)
    assert len(lines) == 1 and lines[0].startswith(says), lines


def test_the_transform_refuses_the_same_values_with_the_same_words():
    """One rule, one implementation: the start-up check runs the checks that
    SaliencyPseudoLabel's __init__ runs."""
    with pytest.raises(ValueError, match=r'^tau must be a finite number in \[0, 1\], got 1.5$'):
        SaliencyPseudoLabel(tau=1.5)
    with pytest.raises(ValueError, match="^mode must be one of .* got 'nosal'"):
        SaliencyPseudoLabel(mode='nosal')


def test_names_values_and_steps_in_every_place_a_config_gives_them(leaf):
    # a misspelled argument in the config file itself (--cfg-options refuses its own)
    cfg = copy.deepcopy(leaf)
    cfg.train_dataloader.dataset.pseudo_label_cfg['tua'] = 0.3
    assert config_value_problems(cfg) == [
        f"{PLC}.tua: SaliencyPseudoLabel takes no argument 'tua'; did you mean 'tau'?"]
    # a pipeline step (mmseg's datasets and the FCN example take it there)
    cfg = load_config(FCN, {'train_dataloader.dataset.pipeline.1.tau': 2.0})
    assert config_value_problems(cfg) == [
        f'{DS}.pipeline.1.tau must be a finite number in [0, 1], got 2.0']
    # the classifier's saliency loader, and a gt_subset without pseudo labels
    cfg = load_config(EPS, {'train_dataloader.dataset.pipeline.2.suffix': 'png'})
    assert config_value_problems(cfg) == [
        f"{DS}.pipeline.2.suffix must be a file suffix such as '.png', got 'png'"]
    cfg = copy.deepcopy(leaf)
    cfg.merge_from_dict({'val_dataloader.dataset.gt_subset': 'train.txt'})
    assert config_value_problems(cfg) == [
        "val_dataloader.dataset.gt_subset='train.txt' needs pseudo_labels=True (a training set "
        'whose other images get pseudo labels)']
    # check_data lists them with the files
    tool = load_tool('check_data')
    with pytest.raises(SystemExit):
        tool.main([LEAF, '--skip-weights', '--cfg-options', f'{PLC}.mode=nosal'])
