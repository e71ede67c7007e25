from .hooks import SafeCheckpointHook, SegTestVisualizationHook
from .loops import DenseCRFTestLoop

__all__ = ['DenseCRFTestLoop', 'SafeCheckpointHook', 'SegTestVisualizationHook']
