"""Format-1 streaming encoder (kept to re-make the format-1 conformance vectors and for
comparison; ``encoder.py`` writes formats 3 and 2): 16 kHz audio -> features -> latents -> payloads -> Opus packets -> Ogg.

Encoding (docs/codec.md): LPCNet features (``mlcodec.dsp.features``, specs 07) -> the model's
encoder, one latent per 20 ms -> dead-zone quantization at the preset's level -> range-coded
payload (``payload.py``) -> one RFC 6716 packet per ``frame_ms`` with the payload in its
extension area (``format.py``) -> Ogg Opus pages (RFC 7845).

Units: :class:`Encoder` and :func:`encode_stream` take **16 kHz mono float samples in int16
units** (full scale +-32768); the public :func:`mlcodec.encode` converts float [-1, 1] audio
at any rate to that.
"""
from __future__ import annotations


import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.payload import CodingTables, write_payload
from mlcodec.codec.vocoders import codec_delay
from mlcodec.errors import CodecError


from mlcodec.codec.model_io import load_model  # noqa: E402


class EncoderV1:
    """Streaming encoder: :meth:`process` 16 kHz int16-unit samples, then :meth:`flush`.

    Both return complete Opus packets. ``pre_skip`` and :meth:`final_granule` give the Ogg
    Opus timing (RFC 7845 s4): the input is delayed by :func:`codec_delay` samples, padded
    with zeros to whole packets, and the end is trimmed through the last granule.
    """

    def __init__(self, model=None, *, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = 20,
                 fixed_point: bool = True, delay: int | None = None):
        from mlcodec.codec.model import FRAMES_PER_LATENT, quantize
        from mlcodec.dsp.features import FeatureExtractor

        if FRAMES_PER_LATENT * 10 != fmt.LATENT_MS:  # pragma: no cover - model contract
            raise CodecError(f"model has {FRAMES_PER_LATENT} frames per latent; the format needs 2")
        self.model = load_model(model)
        self.level = fmt.preset_level(getattr(self.model, "PRESETS", {}), bitrate)
        self.bitrate = bitrate
        self.frame_ms = int(frame_ms)
        if self.frame_ms not in fmt.TOC_CONFIG:
            raise CodecError(f"format 1 has 20, 40 or 60 ms packets, not {frame_ms}")
        self.latents_per_packet = self.frame_ms // fmt.LATENT_MS
        self.fixed_point = fixed_point
        self.tables = self.model.quant_tables(self.level)
        self.coding = CodingTables.from_quant_tables(self.tables)
        self._quantize = quantize
        self._net = self.model.new_encoder(fixed_point=fixed_point)
        self._fx = FeatureExtractor(pitch=getattr(self.model, "feature_pitch", "classic"))
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
                              frame_ms=self.frame_ms, bitrate=self.bitrate, delay=self.delay,
                              format_version=fmt.FORMAT_V1)

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
        pkt = fmt.build_v1_packet(payload, self.frame_ms)
        self.packets_out += 1
        self.payload_bytes += len(payload)
        self.packet_bytes += len(pkt)
        return pkt
