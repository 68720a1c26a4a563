"""Bitstream layer: Opus packet framing (RFC 6716 s3), extensions (draft-ietf-mlcodec-opus-extension),
range coder (RFC 6716 s4.1/s5.1), and the error code table both parsers and the bulk scanner
(:mod:`mlcodec.inspect.table`) share (:mod:`.reasons`)."""
from .extensions import (  # noqa: F401
    Extension,
    extension_name,
    generate_extensions,
    parse_extensions,
    parse_extensions_frame_order,
    register_extension,
)
from .packet import (  # noqa: F401
    Packet,
    Toc,
    build_packet,
    pad_packet,
    packet_extensions,
    parse_packet,
    parse_toc,
    split_multistream,
)


from mlcodec._lazy import lazy_exports  # noqa: E402

# The range coder is imported on first use (its tables cost start-up time).
__getattr__, __dir__ = lazy_exports(__name__, globals(), {"RangeDecoder": "rangecoder", "RangeEncoder": "rangecoder"})
