"""Containers: Ogg pages (RFC 3533), Ogg Opus (RFC 7845), opus_demo .bit, raw length-prefixed framing."""
from .detect import Input, open_input  # noqa: F401
from .oggopus import OggOpusWriter, OpusHead, OpusTags, iter_ogg_opus, read_ogg_opus  # noqa: F401
from .opusdemo import BitWriter, iter_bit  # noqa: F401
from .rawframe import RawWriter, iter_raw  # noqa: F401
