"""Image-level labels: the WSSS-BED list format and derivation from label maps."""
import unicodedata
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from mmwsss.errors import WSSSInputError


_IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
MAX_LIST_LINE = 1 << 20  # characters: a longer "line" is a binary or JSON file, not a list


def image_id_problem(token: str) -> Optional[str]:
    """What is wrong with ``token`` as an image id (None: nothing). The one
    rule of every reader of an id list: an id is a file stem, never a path
    (``/``, ``\\``, ``.``, ``..``), never a file name (``x.jpg``), and holds no
    control or invisible character; the dataset adds the folder and suffix."""
    if not token:
        return 'is empty'
    if token in ('.', '..') or '/' in token or '\\' in token:
        return 'is a path, not an image id (a DeepLab-style list?): give one id a line, ' \
            'e.g. 2007_000032'
    if token.lower().endswith(_IMG_EXTS):
        return 'is a file name, not an image id: give the id without its suffix, ' \
            'e.g. 2007_000032'
    if not token.isprintable():
        bad = next(c for c in token if not c.isprintable())
        return f'holds the control or invisible character {bad!r}, which no image id has'
    return None


def _named_image(token: str) -> str:
    """The image a token names, as a key: the stem of a path or file name,
    in NFC and case-folded (``X`` and ``x`` are one file on macOS and Windows)."""
    stem = token.rpartition('/')[2].rpartition('\\')[2]
    if stem.lower().endswith(_IMG_EXTS):
        stem = stem.rsplit('.', 1)[0]
    if not stem.isascii():
        stem = unicodedata.normalize('NFC', stem)
    return stem.casefold()


def _text_lines(path: str) -> Iterator[Tuple[int, str]]:
    """(line number, text) of each line of a UTF-8 text file (a UTF-8 BOM, CRLF
    and CR endings fine); a NUL byte, bytes that are not UTF-8 or a line over
    :data:`MAX_LIST_LINE` is a :class:`WSSSInputError` naming the file and line."""
    try:
        f = open(path, encoding='utf-8-sig')
    except PermissionError:
        raise WSSSInputError('unreadable (permission denied)', path=path) from None
    except IsADirectoryError:
        raise WSSSInputError('is a folder, not a list file', path=path) from None
    lineno = 0
    with f:
        try:
            for line in iter(lambda: f.readline(MAX_LIST_LINE + 1), ''):
                lineno += 1
                if len(line) > MAX_LIST_LINE:
                    raise WSSSInputError(f'line {lineno} is over {MAX_LIST_LINE} characters '
                                         'long: not a list of image ids', path=path)
                if '\0' in line:
                    raise WSSSInputError(
                        f'line {lineno} holds a NUL byte: not a text file (a binary file, '
                        'or UTF-16? save it as UTF-8)', path=path)
                yield lineno, line
        except UnicodeDecodeError:
            pass
        else:
            return
    _refuse_undecodable(path)


def _refuse_undecodable(path: str) -> None:
    """The line and byte of the first bytes of ``path`` that are not UTF-8."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith((b'\xff\xfe', b'\xfe\xff')):
        raise WSSSInputError('line 1: UTF-16 text (its byte order mark), not UTF-8: save '
                             'the list as UTF-8', path=path)
    try:
        data.decode('utf-8')
    except UnicodeDecodeError as e:
        head = data[:e.start]
        line = head.count(b'\n') + head.count(b'\r') - head.count(b'\r\n') + 1
        column = e.start - max(head.rfind(b'\n'), head.rfind(b'\r'))
        raise WSSSInputError(f'line {line}, byte {column}: not UTF-8 text '
                             f'({data[e.start:e.start + 4]!r}); save the list as UTF-8',
                             path=path) from None
    raise AssertionError(f'{path}: decodes on a second read')  # changed under us


def _read_list(path: str, what: str) -> Tuple[List[int], List[str], List[str]]:
    """The line numbers, image ids and lines of the non-blank lines of an id
    list (three lists: no object per line for the garbage collector to walk),
    every id checked by :func:`image_id_problem` and none naming an image
    twice: listed twice, or under two spellings (``x`` beside
    ``../JPEGImages/x.jpg``, ``./x``, ``X``), each a :class:`WSSSInputError`
    naming the file and both lines."""
    linenos, ids, lines = [], [], []
    first: Dict[str, int] = {}  # the image a token names -> its first row
    for lineno, line in _text_lines(path):
        token = line.split(None, 1)[0] if line and not line.isspace() else None
        if token is None:
            continue
        key = _named_image(token)
        problem = image_id_problem(token)
        if problem or key in first:
            # the other line naming the same image: an earlier one, or a later one
            other = (linenos[first[key]], ids[first[key]]) if key in first else next(
                ((n, t) for n, t in _later_ids(path, lineno) if _named_image(t) == key), None)
            _refuse_id(path, lineno, token, problem, other)
        first[key] = len(ids)
        linenos.append(lineno)
        ids.append(token)
        lines.append(line)
    if not ids:
        raise WSSSInputError(f'the {what} is empty', path=path)
    return linenos, ids, lines


def _later_ids(path: str, after: int) -> Iterator[Tuple[int, str]]:
    """(line number, first token) of the lines after line ``after``."""
    for lineno, line in _text_lines(path):
        parts = line.split(None, 1)
        if lineno > after and parts:
            yield lineno, parts[0]


def _refuse_id(path: str, lineno: int, img_id: str, problem: Optional[str],
               other: Optional[Tuple[int, str]]) -> None:
    """The error of a line whose id is not one (``problem``) or whose image
    ``other`` (line number, id) names too."""
    if problem and other:
        raise WSSSInputError(
            f'line {lineno}: {img_id!r} {problem}; it names the image of line '
            f'{other[0]} ({other[1]!r}) a second time', path=path)
    if problem:
        raise WSSSInputError(f'line {lineno}: {img_id!r} {problem}', path=path)
    if other[1] == img_id:
        raise WSSSInputError(f'line {lineno}: listed twice (first on line {other[0]})',
                             img_id, path)
    nfc = [unicodedata.normalize('NFC', t) for t in (other[1], img_id)]
    a, b = map(ascii if nfc[0] == nfc[1] else repr, (other[1], img_id))  # look alike
    raise WSSSInputError(
        f'lines {other[0]} and {lineno} name one image under two spellings, {a} and '
        f'{b} (one file on a case-insensitive disk, or one name in two Unicode '
        'forms): keep one', img_id, path)


def read_id_list(path: str, what: str = 'image list') -> List[str]:
    """Image ids: the first token of each line, so that a WSSS-BED class list
    (``<img_id> <c> ...``) serves as a split list too. Blank lines, a UTF-8 BOM
    and CRLF endings are fine; bytes that are not UTF-8 text, an id that is
    not one by :func:`image_id_problem` (a DeepLab-style
    ``/JPEGImages/x.jpg /SegmentationClassAug/x.png`` list), an image listed
    twice (under one spelling or two) or an empty list is a
    :class:`WSSSInputError` naming the file and the line.
    """
    return _read_list(path, what)[1]


def parse_cls_label_file(path: str, num_classes: Optional[int] = None) -> Dict[str, List[int]]:
    """Read a WSSS-BED list file: one image a line, ``<img_id> <c> <c> ...``
    with 0-based foreground class ids (``2007_000032 0 14``). Its ids are read
    as :func:`read_id_list` reads them, with the same errors.

    Returns:
        dict[str, list[int]]: image id → sorted class ids, in file order.
    """
    out = {}
    for lineno, img_id, line in zip(*_read_list(path, 'image-level label list')):
        ids = line.split()[1:]
        # ASCII digits only: int() also takes '1_0', '+3' and '٣'
        if not all(x.isascii() and x.removeprefix('-').isdigit() for x in ids):
            raise WSSSInputError(f'line {lineno}: class ids must be integers: '
                                 f'{" ".join([img_id] + ids)!r}', img_id, path)
        cls = sorted({int(x) for x in ids})
        bad = [c for c in cls if c < 0 or (num_classes is not None and c >= num_classes)]
        if bad:
            raise WSSSInputError(
                f'line {lineno}: class id(s) {bad} outside 0..{(num_classes or 0) - 1}',
                img_id, path)
        out[img_id] = cls
    return out


def format_cls_label_line(img_id: str, classes) -> str:
    return ' '.join([img_id] + [str(int(c)) for c in sorted(classes)])


def cls_labels_from_label_map(label: np.ndarray, num_classes: int,
                              ignore_index: int = 255) -> List[int]:
    """0-based foreground classes present in a label map (0 bg, c+1 class c)."""
    vals = np.unique(label)
    return [int(v) - 1 for v in vals if 0 < v <= num_classes and v != ignore_index]


def draw_subset(ids: Sequence[str], size: Optional[int] = None,
                fraction: Optional[float] = None, seed: int = 0) -> List[str]:
    """A seeded random subset of ``ids`` (for a semi-supervised ``gt_subset``),
    in the order of ``ids``.

    Args:
        ids (Sequence[str]): the split's image ids (unique).
        size (int, optional): how many to draw.
        fraction (float, optional): or which fraction (rounded, at least 1).
        seed (int): the random seed: the same ids and seed give the same subset.
    """
    if (size is None) == (fraction is None):
        raise ValueError('give exactly one of size and fraction')
    if len(set(ids)) != len(ids):
        raise ValueError('the split lists an image id twice')
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f'fraction must be in (0, 1], not {fraction}')
        size = max(1, round(fraction * len(ids)))
    if not 0 < size <= len(ids):
        raise ValueError(f'size must be in 1..{len(ids)}, not {size}')
    keep = set(np.random.default_rng(seed).choice(len(ids), size, replace=False).tolist())
    return [i for k, i in enumerate(ids) if k in keep]
