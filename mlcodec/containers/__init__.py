"""Containers: Ogg pages (RFC 3533), Ogg Opus (RFC 7845), opus_demo .bit, raw length-prefixed framing.

Names are imported from their modules on first use (start-up: a command loads only the
containers it reads)."""
from __future__ import annotations

from mlcodec._lazy import lazy_exports

_EXPORTS = {
    "Input": "detect", "open_input": "detect",
    "OggOpusWriter": "oggopus", "OpusHead": "oggopus", "OpusTags": "oggopus",
    "iter_ogg_opus": "oggopus", "read_ogg_opus": "oggopus",
    "BitWriter": "opusdemo", "iter_bit": "opusdemo",
    "RawWriter": "rawframe", "iter_raw": "rawframe",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
