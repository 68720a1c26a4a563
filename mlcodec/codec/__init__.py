"""The neural speech codec: stream format, latent payload coding, encode/decode pipelines.

Importing this package registers the codec's extension ID (format.EXTENSION_ID) with the
extension registry, so inspectors show it by name.
"""
from mlcodec.codec import format  # noqa: F401  (registers the extension name)
from mlcodec.codec.format import EXTENSION_ID, FORMAT_VERSION, StreamInfo, parse_stream_tags
from mlcodec.codec.pipeline import (
    CodingStats,
    Decoder,
    Encoder,
    decode_file,
    decode_stream,
    encode_file,
    encode_stream,
)

__all__ = [
    "EXTENSION_ID",
    "FORMAT_VERSION",
    "StreamInfo",
    "parse_stream_tags",
    "CodingStats",
    "Encoder",
    "Decoder",
    "encode_file",
    "decode_file",
    "encode_stream",
    "decode_stream",
]
