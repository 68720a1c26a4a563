"""Files, paths, ``"-"`` (stdio), atomic output and WAV streaming: the only part of the
library that knows about them (docs/architecture.md).

Submodules are imported where used (``mlcodec.io.atomic`` is a leaf the lower layers may use
to save files); importing this package loads nothing else.
"""
