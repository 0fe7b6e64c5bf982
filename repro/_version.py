"""repro's release version: host-only, outside the runtime closure, so a
release that leaves the library alone changes no image (see repro.images.closure).
A run image carries its own ``_version.py``, naming its closure instead."""
__version__ = '0.1.0'
