"""Check, before any model is built, that the pretrained weights a config names
can be loaded: a local file that is there, or a URL whose file is in torch's hub
cache or whose host answers. Nothing is downloaded.

Without this, a missing ResNet-38 file fails as a bare ``FileNotFoundError``
once the model is built, and ``torchvision://`` weights offline as a
``URLError`` deep inside torch.hub.
"""
import os
import os.path as osp
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from functools import lru_cache
from typing import Iterator, List, Optional, Tuple
from urllib.parse import urlparse

from mmwsss.config.checks import _walk

# How to make a missing local file, by the backbone that reads it.
CONVERTERS = {
    'ResNet38': ('the ResNet-38 ImageNet "A1" weights converted from MXNet: '
                 'python tools/model_converters/resnet38_mxnet2pth.py '
                 'ilsvrc-cls_rna-a1_cls1000_ep-0001.params {path} (docs/data_preparation.md, '
                 '"Preparing the data")'),
    # by file name: the backbone (mmseg's ResNet) reads other files too
    'deeplabv2_resnet101_coco-init.pth': (
        "DeepLab's MS-COCO ResNet-101 (WSSS-BED's DeepLab-V2 start) converted from its "
        'caffemodel or deeplab-pytorch .pth: python tools/model_converters/'
        'deeplabv2_coco2mmseg.py init.caffemodel {path} (configs/wsss/README.md)'),
}


def pretrained_weights(cfg) -> Iterator[Tuple[str, str, Optional[str]]]:
    """(config key, checkpoint, backbone type) of every pretrained file the
    model of ``cfg`` loads: ``model.pretrained``, each ``init_cfg`` of type
    ``Pretrained`` (``model.backbone.init_cfg.checkpoint``), and ``load_from``."""
    model = cfg.get('model')
    if isinstance(model, dict):
        backbone = model.get('backbone') if isinstance(model.get('backbone'), dict) else {}
        for where, node in _walk(model, 'model'):
            owner = backbone.get('type') if where.startswith('model.backbone') or \
                where == 'model' else node.get('type')
            if isinstance(node.get('pretrained'), str):
                yield f'{where}.pretrained', node['pretrained'], owner
            if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str):
                yield f'{where}.checkpoint', node['checkpoint'], owner
    if isinstance(cfg.get('load_from'), str) and not cfg.get('resume'):
        yield 'load_from', cfg['load_from'], None


def _scheme_url(checkpoint: str) -> Tuple[Optional[str], Optional[str]]:
    """(URL, None) of a ``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` /
    ``http(s)://`` checkpoint from mmengine's own tables, (None, local path)
    for a local one, (None, None) for a model name the tables lack."""
    from mmengine.runner import checkpoint as ck
    for prefix in ('torchvision://', 'modelzoo://'):
        if checkpoint.startswith(prefix):
            name = checkpoint[len(prefix):]
            # mmengine's table of the classic names first: the full table imports
            # every torchvision model (9 s)
            import mmengine
            classic = mmengine.load(osp.join(mmengine.__path__[0], 'hub',
                                             'torchvision_0.12.json'))
            return classic.get(name) or ck.get_torchvision_models().get(name), None
    for prefix in ('open-mmlab://', 'openmmlab://'):
        if checkpoint.startswith(prefix):
            name = checkpoint[len(prefix):]
            name = ck.get_deprecated_model_names().get(name, name)
            url = ck.get_external_models().get(name)
            if url is not None and not url.startswith(('http://', 'https://')):
                return None, osp.join(ck._get_mmengine_home(), url)
            return url, None
    if checkpoint.startswith('mmcls://'):
        return ck.get_mmcls_models().get(checkpoint[len('mmcls://'):]), None
    if checkpoint.startswith(('http://', 'https://')):
        return checkpoint, None
    return None, checkpoint


def hub_cache_path(url: str) -> str:
    """Where torch.hub (mmengine's ``load_from_http``) keeps the file of ``url``."""
    import torch
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


@lru_cache(maxsize=None)
def host_reachable(host: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host``:443 opens within ``timeout`` seconds,
    name lookup included (one try per host and process; nothing is sent)."""
    def connect():
        socket.create_connection((host, 443), timeout=timeout).close()

    # in a thread: an offline name lookup ignores the socket timeout
    pool = ThreadPoolExecutor(1)
    try:
        pool.submit(connect).result(timeout=timeout)
        return True
    except (OSError, FuturesTimeout):
        return False
    finally:
        pool.shutdown(wait=False)  # a lookup still hanging is left to finish alone


def _denied_on_the_way(path: str) -> bool:
    """Whether ``path`` cannot be looked up for lack of permission (a folder on
    its way that this user may not enter), rather than not being there."""
    try:
        os.stat(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def check_weights(cfg) -> List[str]:
    """Problems with the pretrained weights of ``cfg``, one line each, naming
    the config key to override, the file, and how to get it. Empty: all
    loadable (local files present and not empty; URLs cached, or their host
    reachable so that mmengine can download them)."""
    problems = []
    for key, checkpoint, owner in pretrained_weights(cfg):
        override = f'--cfg-options {key}=/path/to/weights.pth'
        url, path = _scheme_url(checkpoint)
        if url is None and path is None:
            problems.append(f'{key} = {checkpoint!r}: mmengine knows no such model name '
                            f'(a typo?); or {override}')
            continue
        if path is not None:
            if osp.isfile(path) and osp.getsize(path) > 0 and os.access(path, os.R_OK):
                continue
            why = ('not found' if not osp.isfile(path) else 'is empty' if not
                   osp.getsize(path) else 'is unreadable (permission denied)')
            if why == 'not found' and _denied_on_the_way(path):
                why = 'is unreadable (permission denied on a folder on its way)'
            how = CONVERTERS.get(osp.basename(path), CONVERTERS.get(owner, '')).format(path=path)
            problems.append(f'{key}: pretrained weights {path} {why}' +
                            (f'; they are {how}' if how else '') +
                            f'; or {override} (None: train from scratch)')
            continue
        cached = hub_cache_path(url)
        if osp.isfile(cached) and osp.getsize(cached) > 0:
            if not os.access(cached, os.R_OK):
                problems.append(f'{key} = {checkpoint!r}: its copy {cached} in the torch hub '
                                f'cache is unreadable (permission denied); or {override}')
            continue
        host = urlparse(url).hostname or ''
        if not host_reachable(host):
            problems.append(f'{key} = {checkpoint!r}: not in the torch hub cache and '
                            f'{host} cannot be reached (offline?): download {url} to '
                            f'{cached} on a machine that can, or {override}')
    return problems
