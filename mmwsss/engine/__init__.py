from .hooks import SafeCheckpointHook, SegTestVisualizationHook
from .loops import DenseCRFTestLoop
from .optimizers import SummaryOptimWrapperConstructor

__all__ = ['DenseCRFTestLoop', 'SafeCheckpointHook', 'SegTestVisualizationHook',
           'SummaryOptimWrapperConstructor']
