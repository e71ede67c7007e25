from .hooks import CollectDirHook, SafeCheckpointHook, SegTestVisualizationHook
from .loops import DenseCRFTestLoop
from .optimizers import SummaryOptimWrapperConstructor
from .runner import QuietRunner

__all__ = ['CollectDirHook', 'DenseCRFTestLoop', 'QuietRunner', 'SafeCheckpointHook',
           'SegTestVisualizationHook', 'SummaryOptimWrapperConstructor']
