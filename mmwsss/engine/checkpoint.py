"""Let mmengine checkpoints load under torch >= 2.6 (``weights_only=True``).

mmengine 0.10.7 calls ``torch.load(filename)`` without ``weights_only``, which
torch >= 2.6 turns into the safe unpickler: ``--resume`` then fails on the
objects mmengine itself stores in ``meta['message_hub']`` (``HistoryBuffer``
holding numpy arrays and scalars). We add exactly those classes to torch's
allow-list; the safety stays on for everything else.

``HistoryBuffer.__getstate__`` also pickles its statistics functions, which
pickle as ``builtins.getattr(HistoryBuffer, 'min')``; allowing ``getattr``
would defeat the safe loader, so checkpoints are instead saved without them
(they are class-level registrations, rebuilt on import). Checkpoints written
by a process that did not call :func:`register_checkpoint_safe_globals`
still hold ``getattr`` and need ``weights_only=False`` (trusted files only).
"""
import copyreg
from typing import List

import numpy as np
import torch

_REGISTERED = False


def checkpoint_safe_globals() -> List:
    """The globals an mmengine checkpoint needs beyond torch's defaults."""
    from mmengine.logging import HistoryBuffer

    # numpy moved its core to ``numpy._core`` in 2.0; pickles name the module
    # of the running numpy, so take the functions from where they live.
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes by their class (e.g. ``numpy.dtypes.Float64DType``)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64,
                                                np.int32, np.uint8, np.bool_)]
    return allowed


def _reduce_history_buffer(buf):
    state = {k: v for k, v in buf.__dict__.items() if k != 'statistics_methods'}
    return type(buf), (), state


def register_checkpoint_safe_globals() -> None:
    """Allow-list the classes in mmengine checkpoints for ``torch.load``.

    Idempotent; a no-op on torch without ``add_safe_globals`` (< 2.4), whose
    ``torch.load`` does not default to ``weights_only=True`` anyway.
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    from mmengine.logging import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    _REGISTERED = True
