"""Figures: the image / CAM / saliency / pseudo label / GT grid and τ curves."""
from .figures import (PseudoLabelSource, grid_figure, grid_row, grid_row_from_store,
                      label_to_rgb, save_grid_figure, save_tau_curves, tau_curves_figure)

__all__ = ['PseudoLabelSource', 'grid_figure', 'grid_row', 'grid_row_from_store',
           'label_to_rgb', 'save_grid_figure', 'save_tau_curves', 'tau_curves_figure']
