"""Streaming encoder: 16 kHz audio -> features -> latents -> payloads -> Opus packets -> Ogg.

Encoding (docs/codec.md): LPCNet features (``mlcodec.dsp.features``, specs 07) -> the model's
encoder, one latent per 20 ms -> dead-zone quantization at the preset's level -> range-coded
payload (``payload.py``) -> one RFC 6716 packet per ``frame_ms`` with the payload in its
extension area (``format.py``) -> Ogg Opus pages (RFC 7845).

Units: :class:`Encoder` and :func:`encode_stream` take **16 kHz mono float samples in int16
units** (full scale +-32768); the public :func:`mlcodec.encode` converts float [-1, 1] audio
at any rate to that.
"""
from __future__ import annotations

from typing import BinaryIO, Callable, Iterable

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.payload import CodingTables, write_payload
from mlcodec.codec.vocoders import codec_delay
from mlcodec.errors import AudioError, CodecError


def load_model(model=None):
    """The given model, a model loaded from a path, or the shipped one."""
    import os

    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    from mlcodec.codec.model import load_model as _load

    return _load(model)


class Encoder:
    """Streaming encoder: :meth:`process` 16 kHz int16-unit samples, then :meth:`flush`.

    Both return complete Opus packets. ``pre_skip`` and :meth:`final_granule` give the Ogg
    Opus timing (RFC 7845 s4): the input is delayed by :func:`codec_delay` samples, padded
    with zeros to whole packets, and the end is trimmed through the last granule.
    """

    def __init__(self, model=None, *, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = fmt.DEFAULT_FRAME_MS,
                 fixed_point: bool = True, delay: int | None = None):
        from mlcodec.codec.model import FRAMES_PER_LATENT, quantize
        from mlcodec.dsp.features import FeatureExtractor

        if FRAMES_PER_LATENT * 10 != fmt.LATENT_MS:  # pragma: no cover - model contract
            raise CodecError(f"model has {FRAMES_PER_LATENT} frames per latent; the format needs 2")
        self.model = load_model(model)
        self.level = fmt.preset_level(getattr(self.model, "PRESETS", {}), bitrate)
        self.bitrate = bitrate
        self.frame_ms = int(frame_ms)
        self.latents_per_packet = fmt.latents_per_packet(self.frame_ms)
        self.fixed_point = fixed_point
        self.tables = self.model.quant_tables(self.level)
        self.coding = CodingTables.from_quant_tables(self.tables)
        self._quantize = quantize
        self._net = self.model.new_encoder(fixed_point=fixed_point)
        self._fx = FeatureExtractor()
        self.delay = codec_delay() if delay is None else int(delay)
        self._frames = np.zeros((0, 20), dtype=np.float32)
        self._q: list[np.ndarray] = []
        self.samples_in = 0
        self.packets_out = 0
        self.payload_bytes = 0
        self.packet_bytes = 0
        self._flushed = False

    # -- stream description --
    @property
    def info(self) -> fmt.StreamInfo:
        return fmt.StreamInfo(model_name=str(getattr(self.model, "name", "")),
                              model_checksum=str(self.model.checksum), level=self.level,
                              frame_ms=self.frame_ms, bitrate=self.bitrate, delay=self.delay)

    @property
    def pre_skip(self) -> int:
        """OpusHead pre-skip (48 kHz samples)."""
        return self.delay * fmt.GRANULE_PER_SAMPLE

    def final_granule(self) -> int:
        """Granule position of the last packet: input length plus pre-skip (RFC 7845 s4)."""
        return self.samples_in * fmt.GRANULE_PER_SAMPLE + self.pre_skip

    # -- coding --
    def process(self, samples: np.ndarray) -> list[bytes]:
        """Feed samples (16 kHz, int16 units); returns the packets completed so far."""
        if self._flushed:
            raise CodecError("encoder already flushed")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples_in += x.shape[0]
        return self._frames_in(self._fx.process(x))

    def flush(self) -> list[bytes]:
        """Pad with zeros to cover the delay and whole packets; returns the last packets."""
        if self._flushed:
            return []
        need = self.samples_in + self.delay
        per = fmt.packet_samples(self.frame_ms)
        total = -(-need // per) * per
        out = self._frames_in(self._fx.process(np.zeros(total - self.samples_in, dtype=np.float32)))
        out += self._frames_in(self._fx.flush())
        self._flushed = True
        if self._frames.shape[0] or self._q:  # pragma: no cover - padding makes this impossible
            raise CodecError("internal error: encoder left a partial packet")
        return out

    def _frames_in(self, frames: np.ndarray) -> list[bytes]:
        if frames.shape[0]:
            self._frames = np.concatenate([self._frames, np.asarray(frames, dtype=np.float32)])
        n = self._frames.shape[0] // 2
        if n == 0:
            return []
        # The model's encoder is causal: one block call equals n step() calls bit for bit.
        z = self._net.process(self._frames[: 2 * n])
        self._frames = self._frames[2 * n:]
        q = np.asarray(self._quantize(z, self.tables)).reshape(n, -1)
        out = []
        for row in q:
            self._q.append(row)
            if len(self._q) == self.latents_per_packet:
                out.append(self._emit())
        return out

    def _emit(self) -> bytes:
        payload = write_payload(np.stack(self._q), self.coding)
        self._q = []
        pkt = fmt.build_codec_packet(payload, self.frame_ms)
        self.packets_out += 1
        self.payload_bytes += len(payload)
        self.packet_bytes += len(pkt)
        return pkt


class _HoldHeaders:
    """Holds the Ogg Opus header pages back until an audio page follows them (or the stream is
    complete): an encode that fails before its first audio page writes nothing to ``out``,
    which matters when ``out`` is a pipe."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.held: bytearray | None = bytearray()
        self.header_bytes = 0

    def write(self, b) -> int:
        if self.held is None:
            return self.out.write(b)
        self.held += b
        if self.header_bytes and len(self.held) > self.header_bytes:
            self.release()
        return len(b)

    def release(self) -> None:
        if self.held is not None:
            held, self.held = bytes(self.held), None
            if held:
                self.out.write(held)

    def flush(self) -> None:
        if self.held is None and hasattr(self.out, "flush"):
            self.out.flush()


def encode_stream(chunks: Iterable[np.ndarray], out: BinaryIO, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE,
                  frame_ms: int = fmt.DEFAULT_FRAME_MS, fixed_point: bool = True, serial: int | None = None,
                  progress: Callable[[float], None] | None = None, tags: Iterable[str] = ()) -> Encoder:
    """Encode 16 kHz int16-unit chunks into an Ogg Opus stream written to ``out``.

    ``tags``: extra ``NAME=value`` OpusTags comments after the format's own (the batch
    runner's settings digest, mlcodec.io.resume).

    The Ogg Opus header pages (RFC 7845 s3) are written with the first audio page, not
    before: an input that fails early (no data chunk, too short, no samples, bad samples
    before the first page) writes nothing to ``out``. ``progress(seconds_read)`` is called
    after each chunk.
    """
    from mlcodec import __version__
    from mlcodec.containers.oggopus import OggOpusWriter

    enc = Encoder(model, bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point)
    hold = _HoldHeaders(out)
    writer = None

    def write(packets) -> None:
        nonlocal writer
        for p in packets:
            if writer is None:
                writer = OggOpusWriter(hold, channels=1, input_sample_rate=fmt.SAMPLE_RATE, pre_skip=enc.pre_skip,
                                       serial=serial, tags=enc.info.tags() + list(tags), vendor=f"mlcodec {__version__}")
                hold.header_bytes = len(hold.held)
            writer.write_packet(p)

    for x in chunks:
        write(enc.process(x))
        if progress:
            progress(enc.samples_in / fmt.SAMPLE_RATE)
    if enc.samples_in == 0:
        raise AudioError("audio has no samples")
    write(enc.flush())
    if writer is None:  # pragma: no cover - flush always ends the stream with a packet
        raise AudioError("audio has no samples")
    writer.close(final_granule=enc.final_granule())
    hold.release()
    return enc
