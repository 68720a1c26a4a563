"""mlcodec: machine-learned speech coding in Opus packet extensions.

Data flows one way: containers -> packets -> extensions -> payload -> codec -> audio.
The library never prints; the ``cli`` package is a thin layer over this public API.
"""
from . import _numba_cache

_numba_cache.configure()  # before any kernel module imports numba (read-only installs)

from .errors import (  # noqa: E402,F401
    AudioError,
    CodecError,
    ContainerError,
    ExtensionError,
    MlcodecError,
    OutputError,
    PacketError,
    RangeCoderError,
    WeightsError,
)

__version__ = "0.1.0"
