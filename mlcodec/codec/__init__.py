"""The neural speech codec: stream format, latent payload coding, streaming encoder/decoder.

Importing this package registers the codec's extension ID (format.EXTENSION_ID) with the
extension registry, so inspectors show it by name. Modules: ``format`` (presets, rates,
packets, tags), ``payload``, ``model``, ``vocoders`` (vocoder policy), ``encoder``,
``decoder``, ``files`` (whole streams on file objects). Paths and WAV are ``mlcodec.io``.
"""
from mlcodec.codec import format  # noqa: F401  (registers the extension name)
from mlcodec.codec.format import EXTENSION_ID, FORMAT_VERSION, StreamInfo, parse_stream_tags

__all__ = ["EXTENSION_ID", "FORMAT_VERSION", "StreamInfo", "parse_stream_tags"]
