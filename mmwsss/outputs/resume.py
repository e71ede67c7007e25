"""What a rerun may keep: outputs present and whole, inputs unchanged."""
import os
import os.path as osp


def file_fingerprint(path: str) -> dict:
    """Size and modification time of a file: a file replaced in place (a new
    checkpoint at the same path, a regenerated CAM store) no longer matches."""
    st = os.stat(path)
    return dict(path=osp.abspath(path), size=st.st_size, mtime_ns=st.st_mtime_ns)


def is_done(path: str) -> bool:
    """An output a rerun may keep: present and not empty (an interrupted write
    outside :func:`atomic_write` can leave a zero-byte file)."""
    return osp.isfile(path) and os.path.getsize(path) > 0
