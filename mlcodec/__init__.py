"""mlcodec: machine-learned speech coding in Opus packet extensions.

Data flows one way: containers -> packets -> extensions -> payload -> codec -> audio.
The library never prints; the ``mlcodec_cli`` package (the ``cli/`` folder) is a thin layer
over this public API. The API (``mlcodec.encode``, ``decode``, ``read_codes``, ...; see
docs/api.md) is loaded on first use, so ``import mlcodec`` stays cheap.
"""
__version__ = "0.1.0"

from . import _numba_cache  # noqa: E402

_numba_cache.configure()  # before any kernel module imports numba (never inside site-packages)

from ._numba_cache import kernels_cached  # noqa: E402,F401
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

#: Names served by :mod:`mlcodec.api`, imported on first access (PEP 562).
_API = ("encode", "decode", "encode_file", "decode_file", "info", "read_codes", "decode_codes",
        "FileInfo", "Codes", "StreamInfo", "Encoder", "Decoder", "CodingStats")

from ._lazy import lazy_exports  # noqa: E402

__getattr__, __dir__ = lazy_exports(__name__, globals(), dict.fromkeys(_API, "api"))
