from .hooks import CollectDirHook, SafeCheckpointHook, SegTestVisualizationHook
from .loops import DenseCRFTestLoop
from .optimizers import SummaryOptimWrapperConstructor

__all__ = ['CollectDirHook', 'DenseCRFTestLoop', 'SafeCheckpointHook', 'SegTestVisualizationHook',
           'SummaryOptimWrapperConstructor']
