"""Atomic writes: a crash or a power loss leaves the old file or the new one."""
import io
import os
import os.path as osp
import tempfile
from typing import Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. not permitted on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable) -> None:
    """Write a file atomically: ``write(fileobj)`` into a temporary file in the
    same folder, fsync it, rename it over ``path`` and fsync the folder. A crash or
    a power loss leaves the old file or the new one, never a partial or empty one.
    The file gets the mode the umask allows (as ``open`` would), not mkstemp's 0600."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600: respect the umask instead
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
        _fsync_dir(folder)  # and the rename itself survives a power loss
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def torch_save_atomic(obj, path: str) -> None:
    """``torch.save(obj)`` to ``path`` through :func:`atomic_write`."""
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
