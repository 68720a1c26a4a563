"""Whole streams on file objects: statistics of a run and the one-call stream functions.

The path-level functions (paths, atomic output, WAV) are :mod:`mlcodec.io.transcode`; these
work on binary file objects only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Callable

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import StreamDecoder
from mlcodec.codec.encoder import encode_stream  # noqa: F401  (re-exported: the encode half)


@dataclass(frozen=True)
class CodingStats:
    """What one encode or decode did. Bit rates are over the input's duration: ``payload_kbps``
    counts the extension payloads (version byte + range-coded latents), ``file_kbps`` the whole
    file (Opus packet framing, extension headers and Ogg pages included; docs/codec.md)."""

    input: str
    output: str
    duration: float
    packets: int
    payload_bytes: int
    file_bytes: int
    seconds: float
    bitrate: str = ""
    frame_ms: int = 0
    truncated: bool = False
    #: decode only: audio packets dropped by a simulated loss model, and the milliseconds of
    #: audio filled in for all missing packets (lost, damaged or on lost pages)
    lost_packets: int = 0
    concealed_ms: float = 0.0
    #: decode only: packets undecodable because a lost packet carried the stream's first level
    unlevelled_packets: int = 0
    #: decode only: the part of ``concealed_ms`` rebuilt from the feature redundancy
    rebuilt_ms: float = 0.0
    redundancy_ms: int = 0
    #: Bytes the feature redundancy added (extension payloads and their framing; docs/loss.md s5).
    redundancy_bytes: int = 0

    @property
    def redundancy_kbps(self) -> float:
        return self.redundancy_bytes * 8 / self.duration / 1000 if self.duration else 0.0

    @property
    def payload_kbps(self) -> float:
        return self.payload_bytes * 8 / self.duration / 1000 if self.duration else 0.0

    @property
    def file_kbps(self) -> float:
        return self.file_bytes * 8 / self.duration / 1000 if self.duration else 0.0

    @property
    def speed(self) -> float:
        """Seconds of audio per second of processing."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class DecodeResult:
    """Audio and features of a whole stream (see :func:`decode_stream`)."""

    info: fmt.StreamInfo
    samples: int = 0
    packets: int = 0
    payload_bytes: int = 0
    features: list = field(default_factory=list)
    truncated: str | None = None
    lost_packets: int = 0
    concealed_ms: float = 0.0


def decode_stream(src: BinaryIO, sink: Callable[[np.ndarray], None], *, model=None, vocoder=None,
                  fixed_point: bool = True, file: str | None = None,
                  feature_sink: Callable[[np.ndarray], None] | None = None,
                  progress: Callable[[int], None] | None = None, loss=None, concealment=None) -> DecodeResult:
    """Decode an mlcodec Ogg Opus stream, passing trimmed 16 kHz int16-unit audio blocks to
    ``sink`` (a convenience over :class:`~mlcodec.codec.decoder.StreamDecoder`).

    A stream damaged after its headers is decoded as far as it is readable; the result then
    has ``truncated`` set to the reason. Header problems raise CodecError/ContainerError.
    ``loss`` and ``concealment`` as for :class:`~mlcodec.codec.decoder.StreamDecoder`.
    """
    dec = StreamDecoder(src, model=model, vocoder=vocoder, fixed_point=fixed_point, file=file,
                        keep_features=feature_sink is not None, loss=loss, concealer=concealment)
    seen = 0
    for block in dec:
        if feature_sink is not None:
            for f in dec.features[seen:]:
                feature_sink(f)
            seen = len(dec.features)
        sink(block)
        if progress:
            progress(dec.packets)
    if feature_sink is not None:
        for f in dec.features[seen:]:
            feature_sink(f)
    return DecodeResult(dec.info, dec.samples, dec.packets, dec.payload_bytes, truncated=dec.truncated,
                        lost_packets=dec.lost, concealed_ms=dec.concealed / 16.0)
