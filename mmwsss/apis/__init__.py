"""High-level runs over mmengine's Runner that tools and the demo share."""
from .cam_store import write_cam_store

__all__ = ['write_cam_store']
