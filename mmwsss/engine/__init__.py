from .hooks import SafeCheckpointHook, SegTestVisualizationHook

__all__ = ['SafeCheckpointHook', 'SegTestVisualizationHook']
