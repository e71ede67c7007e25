"""Figures (the demo, ``tools/browse_pseudo_labels.py``): a grid of image / CAM /
saliency / pseudo label / GT, and pseudo-label mIoU against τ.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
backend switch, no display needed) and written atomically as PNG. The pseudo
labels come from :class:`mmwsss.functional.PseudoLabelRule` (read from a
:class:`mmwsss.fileio.CAMStore` exactly as ``SaliencyPseudoLabel`` reads it),
the colours from :func:`mmwsss.functional.voc_colormap`.
"""
import io
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from mmwsss.errors import WSSSInputError
from mmwsss.fileio import (CAMStore, atomic_write, cams_to_unit, read_gray_png, read_image,
                           read_label_png)
from mmwsss.fileio.png import check_upright
from mmwsss.functional import PseudoLabelRule, voc_colormap

ArrayOrPath = Union[np.ndarray, str]
COLUMNS = ('image', 'CAM', 'saliency', 'pseudo label', 'GT')


def label_to_rgb(label: np.ndarray, palette: Optional[Sequence] = None) -> np.ndarray:
    """Colour an H×W label map (0 bg, c+1 class c, 255 ignore) → H×W×3 uint8.

    Labels past the end of ``palette`` take the VOC colour map (255, the
    ignore label, is VOC's cream boundary colour)."""
    lut = np.asarray(voc_colormap(256), dtype=np.uint8)
    if palette is not None:
        pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
        lut[:len(pal)] = pal
    return lut[np.asarray(label, dtype=np.uint8)]


def _read_rgb(x: ArrayOrPath, what: str = 'image') -> np.ndarray:
    if isinstance(x, np.ndarray):
        if x.ndim == 2:
            x = np.repeat(x[..., None], 3, -1)
        return np.asarray(x, dtype=np.uint8)
    if not osp.isfile(x):
        raise WSSSInputError(f'{what} file not found', path=x)
    with Image.open(x) as im:
        return np.asarray(im.convert('RGB'))


def _read_label(x: ArrayOrPath) -> np.ndarray:
    """A label map as class indices (a palette PNG's indices, not its colours)."""
    if isinstance(x, np.ndarray):
        return np.asarray(x, dtype=np.uint8)
    return read_label_png(x)


def _read_sal(x: ArrayOrPath) -> np.ndarray:
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:  # a float map in [0, 1]
            x = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
        return x
    return read_gray_png(x, what='saliency map')


def grid_row(img: ArrayOrPath,
             cams: np.ndarray,
             classes: Sequence[int],
             saliency: Optional[ArrayOrPath] = None,
             gt: Optional[ArrayOrPath] = None,
             rule: Optional[PseudoLabelRule] = None,
             title: Optional[str] = None) -> dict:
    """One row of the grid from arrays (or image paths).

    Args:
        img: H×W×3 uint8 RGB image or its path.
        cams (np.ndarray): K×H×W CAMs of the labelled classes, float in
            [0, 1] or uint8 (value / 255).
        classes (Sequence[int]): the K 0-based class ids.
        saliency: H×W uint8 saliency map (or float in [0, 1], or a path);
            required in ``saliency`` mode.
        gt: H×W GT label map or its path (palette indices), optional.
        rule (PseudoLabelRule, optional): default ``PseudoLabelRule()``.
        title (str, optional): row title (e.g. the image id).

    Returns:
        dict: ``img``, ``cam`` (H×W max over the labelled classes), ``saliency``
        (H×W uint8 or None), ``pseudo`` (H×W uint8), ``gt`` and ``title``.
    """
    rule = PseudoLabelRule() if rule is None else rule
    img = _read_rgb(img)
    cams = cams_to_unit(np.asarray(cams))
    if cams.ndim != 3 or cams.shape[1:] != img.shape[:2]:
        raise ValueError(f'cams must be K×H×W with H×W = {img.shape[:2]}, got {cams.shape}')
    sal = None if saliency is None else _read_sal(saliency)
    pseudo = rule(cams, classes, sal)
    cam = cams.max(0) if len(cams) else np.zeros(img.shape[:2], np.float32)
    return dict(img=img, cam=cam, saliency=sal, pseudo=pseudo,
                gt=None if gt is None else _read_label(gt), title=title)


@dataclass(frozen=True)
class PseudoLabelSource:
    """Where a figure's pseudo labels come from and how they are made, as
    ``SaliencyPseudoLabel`` makes them; the same for every row, checked once.

    Args:
        store (CAMStore): the CAMs.
        rule (PseudoLabelRule): default ``PseudoLabelRule()``.
        sal_dir (str, optional): folder of ``<img_id>.png`` saliency maps
            (``saliency`` mode; None for a ``packed`` store: its files hold them).
        crf (str, optional): a DenseCRF preset: the CAM-only label refined as
            ``SaliencyPseudoLabel(crf=...)`` refines it (``no_saliency`` rule).

    Raises:
        ValueError: no saliency folder in ``saliency`` mode, or ``crf`` with it.
    """
    store: CAMStore
    rule: PseudoLabelRule = PseudoLabelRule()
    sal_dir: Optional[str] = None
    crf: Optional[str] = None

    def __post_init__(self):
        if self.rule.needs_saliency and self.sal_dir is None and not self.store.holds_saliency:
            raise ValueError("sal_dir is required in mode 'saliency'")
        if self.crf is not None and self.rule.needs_saliency:
            raise ValueError("crf refines CAM-only labels: use mode='no_saliency'")


def grid_row_from_store(img_path: str,
                        source: PseudoLabelSource,
                        classes: Optional[Sequence[int]] = None,
                        gt_path: Optional[str] = None,
                        title: Optional[str] = None) -> dict:
    """One row of the grid from files: the pseudo label is made exactly as
    ``SaliencyPseudoLabel`` makes it (``store.load`` + ``rule``, or the CRF).

    Args:
        img_path (str): the image.
        source (PseudoLabelSource): the CAM store, the rule, the saliency
            folder and the CRF preset.
        classes (Sequence[int], optional): labelled classes (None: those of
            the store).
        gt_path (str, optional): the GT label map.
        title (str, optional): row title (default the image id).

    Returns:
        dict: as :func:`grid_row`.
    """
    store, rule, sal_dir = source.store, source.rule, source.sal_dir
    img_id = osp.splitext(osp.basename(img_path))[0]
    check_upright(img_path, img_id)  # training refuses it: never draw it in another frame
    img = _read_rgb(img_path)
    hw = img.shape[:2]
    # a packed store's files hold the saliency maps
    cams, keys, sal = store.load_with_saliency(
        img_id, classes, hw, rule.max_class,
        sal_path=None if sal_dir is None else osp.join(sal_dir, img_id + '.png'),
        required=rule.needs_saliency)
    cams_unit = cams_to_unit(cams)
    if source.crf is not None:
        from mmwsss.functional.dense_crf import crf_label
        # decoded as mmcv's LoadImageFromFile decodes it in training (not by PIL)
        pseudo = crf_label(read_image(img_path, img_id), cams_unit, keys, rule.tau, source.crf)
    else:
        pseudo = rule(cams, keys, sal)
    cam = cams_unit.max(0) if len(cams_unit) else np.zeros(hw, np.float32)
    return dict(img=img, cam=cam, saliency=sal, pseudo=pseudo,
                gt=None if gt_path is None else _read_label(gt_path),
                title=img_id if title is None else title)


def _save_figure(fig, path: str, dpi: int) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def save_grid_figure(path: str,
                     rows: Sequence[dict],
                     class_names: Optional[Sequence[str]] = None,
                     palette: Optional[Sequence] = None,
                     title: Optional[str] = None,
                     cell_inches: float = 1.6,
                     dpi: int = 100) -> None:
    """Write the grid (one row an image: image / CAM / saliency / pseudo label /
    GT) as a PNG, atomically.

    Args:
        path (str): output ``.png``.
        rows (Sequence[dict]): from :func:`grid_row` or :func:`grid_row_from_store`.
        class_names (Sequence[str], optional): label names, background first,
            for the legend.
        palette (Sequence, optional): label colours (default the VOC colour map).
        title (str, optional): figure title (e.g. the method, source and τ).
    """
    fig = grid_figure(rows, class_names, palette, title, cell_inches)
    _save_figure(fig, path, dpi)


def grid_figure(rows: Sequence[dict],
                class_names: Optional[Sequence[str]] = None,
                palette: Optional[Sequence] = None,
                title: Optional[str] = None,
                cell_inches: float = 1.6):
    """The matplotlib ``Figure`` that :func:`save_grid_figure` writes (same arguments,
    less the path and dpi)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    if not rows:
        raise ValueError('save_grid_figure needs at least one row')
    fig = Figure(figsize=(cell_inches * len(COLUMNS), cell_inches * len(rows) + 0.9))
    axes = fig.subplots(len(rows), len(COLUMNS), squeeze=False)
    jet = colormaps['jet']
    used = set()
    for r, row in enumerate(rows):
        img = row['img']
        heat = (jet(np.clip(row['cam'], 0, 1))[..., :3] * 255).astype(np.float32)
        panels = [img, (0.5 * img + 0.5 * heat).astype(np.uint8),
                  row.get('saliency'), row['pseudo'], row.get('gt')]
        for c, (ax, p) in enumerate(zip(axes[r], panels)):
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMNS[c], fontsize=9)
            if c == 0 and row.get('title'):
                ax.set_ylabel(row['title'], fontsize=7)
            if p is None:  # a blank of the image's shape: the row's boxes (and the
                # column titles above them) stay in line
                ax.imshow(np.full(img.shape[:2], 255, np.uint8), cmap='gray', vmin=0,
                          vmax=255)
                ax.text(0.5, 0.5, 'n/a', ha='center', va='center', transform=ax.transAxes)
                continue
            if c == 2:
                ax.imshow(p, cmap='gray', vmin=0, vmax=255, interpolation='nearest')
            elif c >= 3:
                used.update(int(v) for v in np.unique(p))
                ax.imshow(label_to_rgb(p, palette), interpolation='nearest')
            else:
                ax.imshow(p, interpolation='nearest')
    if class_names is not None:
        lut = label_to_rgb(np.arange(256, dtype=np.uint8)[None], palette)[0] / 255
        handles = [Patch(color=lut[v], label=class_names[v] if v < len(class_names) else
                         ('ignore' if v == 255 else str(v))) for v in sorted(used)]
        fig.legend(handles=handles, loc='lower center', ncol=min(len(handles), 7),
                   fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if class_names is not None else 0, 1, 1))
    return fig


def save_tau_curves(path: str,
                    curves: Dict[str, Tuple[Sequence[float], Sequence[float]]],
                    title: str = 'pseudo-label mIoU against τ',
                    ylabel: str = 'mIoU (%)',
                    chosen: Optional[Dict[str, float]] = None,
                    chosen_label: str = 'chosen τ',
                    dpi: int = 100) -> None:
    """Write mIoU-against-τ curves to ``path`` as a PNG, atomically, with a legend
    that says what each marker is; the other arguments are
    :func:`tau_curves_figure`'s."""
    fig = tau_curves_figure(curves, title, ylabel, chosen, chosen_label)
    _save_figure(fig, path, dpi)


def tau_curves_figure(curves: Dict[str, Tuple[Sequence[float], Sequence[float]]],
                      title: str = 'pseudo-label mIoU against τ',
                      ylabel: str = 'mIoU (%)',
                      chosen: Optional[Dict[str, float]] = None,
                      chosen_label: str = 'chosen τ'):
    """The matplotlib ``Figure`` of mIoU-against-τ curves.

    Args:
        curves (dict): label (e.g. ``'ird / SYN_CLEAN'``) → (taus, mIoUs).
        title (str): the figure's title (its lines wrapped to the figure's width).
        ylabel (str): the y axis' label.
        chosen (dict, optional): label → the τ used for that curve, e.g. chosen
            on another part of the data than the curve's: a filled star, named
            ``chosen_label`` in the legend. Each curve's own best τ, where it is
            another, gets a hollow circle, "best on this curve". Without
            ``chosen``, each curve's best τ gets the star, as "best on this curve".
        chosen_label (str): the legend's name for the star of ``chosen``.

    Returns:
        matplotlib.figure.Figure
    """
    import textwrap

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    if not curves:
        raise ValueError('tau_curves_figure needs at least one curve')
    chosen = dict(chosen or {})
    unknown = set(chosen) - set(curves)
    if unknown:
        raise ValueError(f'chosen τ for curves that are not drawn: {sorted(unknown)}')
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    star = dict(marker='*', markersize=12, linestyle='none', markeredgecolor='black',
                markeredgewidth=0.6, zorder=3)
    ring = dict(marker='o', markersize=9, linestyle='none', markerfacecolor='none',
                markeredgewidth=1.4, zorder=3)
    drawn_star = drawn_ring = False
    for name, (taus, vals) in curves.items():
        taus, vals = np.asarray(taus, float), np.asarray(vals, float)
        if taus.shape != vals.shape or taus.ndim != 1 or not len(taus):
            raise ValueError(f'curve {name!r}: need equal-length 1-D taus and values, got '
                             f'{taus.shape} and {vals.shape}')
        line, = ax.plot(taus, vals, marker='o', markersize=3, label=name)
        colour = line.get_color()
        b = int(np.nanargmax(vals))
        if name in chosen:
            near = np.flatnonzero(np.isclose(taus, chosen[name], atol=1e-9))
            if not len(near):
                raise ValueError(f'curve {name!r}: chosen τ={chosen[name]:g} is not one of '
                                 'its τ')
            c = int(near[0])
            ax.plot([taus[c]], [vals[c]], color=colour, **star)
            drawn_star = True
            if not np.isclose(vals[b], vals[c]):  # its own best is another τ
                ax.plot([taus[b]], [vals[b]], color=colour, **ring)
                drawn_ring = True
        elif chosen:
            ax.plot([taus[b]], [vals[b]], color=colour, **ring)
            drawn_ring = True
        else:
            ax.plot([taus[b]], [vals[b]], color=colour, **star)
    handles, _ = ax.get_legend_handles_labels()
    if drawn_star:
        handles.append(Line2D([], [], color='grey', label=chosen_label, **star))
    if drawn_ring:
        handles.append(Line2D([], [], color='grey', label='best on this curve', **ring))
    elif not chosen:
        handles.append(Line2D([], [], color='grey', label='best on this curve', **star))
    ax.set_xlabel('τ')
    ax.set_ylabel(ylabel)
    ax.set_title('\n'.join(textwrap.fill(ln, 70) for ln in title.split('\n')), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig
