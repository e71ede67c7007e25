"""mmwsss: saliency-guided weakly-supervised semantic segmentation for MMSegmentation.

``import mmwsss`` registers the datasets, transforms, models and metrics into mmseg's
registries, so ``custom_imports = dict(imports=['mmwsss'])`` is all a config needs.
"""
from .version import __version__  # noqa: F401
from . import registry  # noqa: F401,E402
from . import datasets  # noqa: F401,E402
from . import engine  # noqa: F401,E402
from . import evaluation  # noqa: F401,E402
from . import models  # noqa: F401,E402
from .functional.dense_crf import dense_crf  # noqa: F401,E402
from .engine.checkpoint import register_checkpoint_safe_globals  # noqa: E402
from .config.scope import register_config_scope  # noqa: E402

# `_base_ = 'mmwsss::wsss/...'` in a user's config (mmengine's table is fixed)
register_config_scope()

# torch >= 2.6 loads checkpoints with weights_only=True: allow exactly what mmengine
# checkpoints hold, so `--resume` works also from mmseg's own tools.
register_checkpoint_safe_globals()
