"""High-level runs over mmengine's Runner that tools and the demo share."""
from .cam_store import CAMSettings, write_cam_store

__all__ = ['CAMSettings', 'write_cam_store']
