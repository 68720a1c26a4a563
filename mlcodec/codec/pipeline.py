"""Encode and decode pipelines: audio -> features -> latents -> Ogg Opus packets, and back.

Encoding (docs/codec.md): 16 kHz audio -> LPCNet features (``mlcodec.dsp.features``, specs
07) -> the model's encoder, one latent per 20 ms -> dead-zone quantization at the preset's
level -> range-coded payload (``payload.py``) -> one RFC 6716 packet per ``frame_ms`` with the
payload in its extension area (``format.py``) -> Ogg Opus pages (RFC 7845).
Decoding runs the same chain backwards and synthesises audio with a vocoder (``vocoder=``
hook; by default the measured better one for the stream's preset, :func:`auto_vocoder`).

Everything streams: :class:`Encoder` and :class:`Decoder` keep their state between calls, and
:func:`encode_file`/:func:`decode_file` work on pipes. The library never prints; progress is
reported through callbacks.
"""
from __future__ import annotations

import io
import os
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

import numpy as np

from mlcodec.bitstream.extensions import Extension
from mlcodec.codec import format as fmt
from mlcodec.codec.payload import CodingTables, read_payload, write_payload
from mlcodec.errors import AudioError, CodecError, ContainerError, MlcodecError
from mlcodec.fileio import AtomicOutput

#: Samples per 10 ms feature frame at 16 kHz.
FRAME_SIZE = 160
#: Samples per latent (two feature frames).
LATENT_SAMPLES = 2 * FRAME_SIZE
#: Output rates offered by ``decode --rate``.
OUTPUT_RATES = (16000, 48000)

ProgressFn = Callable[[float, float | None], None]


# ---------------------------------------------------------------------------------------------
# Model, vocoder and timing


def _load_model(model=None):
    """The given model, a model loaded from a path, or the shipped one."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    from mlcodec.codec.model import load_model

    return load_model(model)


#: Vocoder names accepted by ``vocoder=`` (and ``mlcodec decode --vocoder``).
VOCODERS = ("auto", "neural", "reference")


def neural_vocoder_available() -> bool:
    """True when the neural vocoder and its shipped weights are installed."""
    try:
        from mlcodec.vocoder.fargan import DEFAULT_MODEL
    except ImportError:
        return False
    return os.path.isfile(DEFAULT_MODEL)


#: What ``auto`` means, chosen by measurement (docs/benchmarks.md, docs/vocoder.md;
#: bench/bench_vocoder.py, bench/bench_codec.py): the neural vocoder is the default where it
#: beats the reference synthesizer on PESQ-WB, STOI *and* DNSMOS (issue 6's rule), else the
#: reference synthesizer. ``AUTO_VOCODER`` is the choice for clean (unquantized) features and
#: any stream whose preset is not listed in ``AUTO_VOCODER_BY_PRESET``. Measured on the 50-file
#: evaluation subset (vocoder_v1 sha256 9c3300f1..., postfilter on): clean features, 3k and 6k
#: neural wins all of them; at 1.5k it wins PESQ-WB/STOI/P.808 but trails OVRL by 0.007.
AUTO_VOCODER = "neural"
AUTO_VOCODER_BY_PRESET: dict[str, str] = {"1.5k": "reference"}


def auto_vocoder(preset: str | None = None) -> str:
    """The vocoder name ``auto`` resolves to for a stream of bit-rate ``preset`` (None: any)."""
    name = AUTO_VOCODER_BY_PRESET.get(preset, AUTO_VOCODER) if preset else AUTO_VOCODER
    return name if (name != "neural" or neural_vocoder_available()) else "reference"


def default_vocoder(name: str = "auto", *, fixed_point: bool = True, preset: str | None = None):
    """A fresh vocoder by name: ``neural`` (``mlcodec.vocoder``, specs 08 §1), ``reference``
    (``mlcodec.dsp.synth``) or ``auto`` (:func:`auto_vocoder` of the stream's ``preset``)."""
    if name not in VOCODERS:
        raise CodecError(f"unknown vocoder {name!r} (choose {', '.join(VOCODERS)})")
    if name == "auto":
        name = auto_vocoder(preset)
    if name == "neural":
        if not neural_vocoder_available():
            raise CodecError("the neural vocoder's weights (mlcodec/models/vocoder_v1.bin) are not installed")
        from mlcodec.vocoder import load_vocoder

        return load_vocoder(fixed_point=fixed_point)
    from mlcodec.dsp.synth import ReferenceSynth

    return ReferenceSynth()


def _make_vocoder(vocoder, fixed_point: bool = True, preset: str | None = None):
    if vocoder is None or isinstance(vocoder, str):
        return default_vocoder(vocoder or "auto", fixed_point=fixed_point, preset=preset)
    if isinstance(vocoder, type) or (callable(vocoder) and not hasattr(vocoder, "synthesize")):
        return vocoder()  # a factory (e.g. a class): one fresh vocoder per decoder
    return vocoder


def _reference_delay() -> int:
    from mlcodec.dsp.synth import SYNTH_DELAY

    return int(SYNTH_DELAY)


def vocoder_delay(vocoder=None) -> int:
    """16 kHz samples by which a vocoder's output lags the features' audio: its ``delay``
    attribute, else the reference synthesizer's (also used for ``None``)."""
    if vocoder is None or isinstance(vocoder, (str, type)):
        d = getattr(vocoder, "delay", None) if isinstance(vocoder, type) else None
        return _reference_delay() if d is None else int(d)
    d = getattr(vocoder, "delay", None)
    return _reference_delay() if d is None else int(d)


def codec_delay() -> int:
    """The end-to-end delay (16 kHz samples) the encoder declares (pre-skip, MLCODEC_DELAY).

    Feature frame t describes input samples [160 t, 160 t + 160) (specs 07 §6), so the
    analysis adds no offset; the vocoder lags by one frame (reference and neural alike). A
    decoder whose vocoder lags otherwise compensates (:func:`decode_stream`).
    """
    return _reference_delay()


# ---------------------------------------------------------------------------------------------
# Packets


def build_codec_packet(payload: bytes, frame_ms: int) -> bytes:
    """An RFC 6716 code-3 packet of one zero-length SILK WB frame carrying ``payload`` in
    extension :data:`~mlcodec.codec.format.EXTENSION_ID` of frame 0 (docs/format.md §3)."""
    from mlcodec.bitstream.packet import build_packet

    return build_packet(fmt.toc_config(frame_ms), [b""],
                        extensions=[Extension(0, fmt.EXTENSION_ID, bytes(payload))], force_code3=True)


def split_codec_packet(data: bytes, *, offset: int | None = None) -> tuple[int, bytes]:
    """(frame_ms, payload) of an mlcodec packet; CodecError if it is not one."""
    from mlcodec.bitstream.packet import packet_extensions, parse_packet

    try:
        pkt = parse_packet(bytes(data))
        exts = packet_extensions(pkt)
    except MlcodecError as exc:
        raise CodecError(f"bad Opus packet: {exc.reason}", offset=offset) from None
    toc = data[0]
    config = toc >> 3
    frame_ms = fmt.frame_ms_of_config(config) if config in fmt.TOC_CONFIG.values() else None
    nframes = len(getattr(pkt, "frames", [b""]))
    if frame_ms is None or nframes != 1:
        raise CodecError(f"Opus packet with TOC 0x{toc:02x} ({nframes} frames) is not an mlcodec packet",
                         offset=offset)
    for e in exts:
        if e.id == fmt.EXTENSION_ID and e.frame == 0:
            return frame_ms, bytes(e.data)
    raise CodecError(f"packet carries no mlcodec payload (extension {fmt.EXTENSION_ID})", offset=offset)


# ---------------------------------------------------------------------------------------------
# Encoder


class Encoder:
    """Streaming encoder: :meth:`process` 16 kHz int16-unit samples, then :meth:`flush`.

    Both return complete Opus packets. ``pre_skip`` and :meth:`final_granule` give the Ogg
    Opus timing (RFC 7845 §4): the input is delayed by :func:`codec_delay` samples, padded
    with zeros to whole packets, and the end is trimmed through the last granule.
    """

    def __init__(self, model=None, *, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = fmt.DEFAULT_FRAME_MS,
                 fixed_point: bool = True, delay: int | None = None):
        from mlcodec.codec.model import FRAMES_PER_LATENT, quantize
        from mlcodec.dsp.features import FeatureExtractor

        if FRAMES_PER_LATENT * 10 != fmt.LATENT_MS:  # pragma: no cover - model contract
            raise CodecError(f"model has {FRAMES_PER_LATENT} frames per latent; the format needs 2")
        self.model = _load_model(model)
        presets = getattr(self.model, "PRESETS", {})
        if bitrate not in presets:
            raise CodecError(f"unknown bit-rate preset {bitrate!r} (choose {', '.join(presets) or 'none'})")
        self.bitrate = bitrate
        self.level = int(presets[bitrate])
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
        """Granule position of the last packet: input length plus pre-skip (RFC 7845 §4)."""
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
        pkt = build_codec_packet(payload, self.frame_ms)
        self.packets_out += 1
        self.payload_bytes += len(payload)
        self.packet_bytes += len(pkt)
        return pkt


# ---------------------------------------------------------------------------------------------
# Decoder


class Decoder:
    """Streaming decoder of one stream's packets: features and audio (16 kHz, int16 units).

    ``info`` comes from the stream's OpusTags; the model must have the checksum it names
    (CodecError otherwise). ``vocoder`` is an object with ``synthesize(features) -> audio``
    (streaming, stateful), a factory returning one, or a name from :data:`VOCODERS`; by
    default the neural vocoder when installed, else the reference synthesizer.
    """

    def __init__(self, info: fmt.StreamInfo, model=None, *, vocoder=None, fixed_point: bool = True):
        from mlcodec.codec.model import dequantize

        self.model = _load_model(model)
        fmt.check_model(info, self.model)
        self.info = info
        self.tables = self.model.quant_tables(info.level)
        self.coding = CodingTables.from_quant_tables(self.tables)
        self._dequantize = dequantize
        self._net = self.model.new_decoder(info.level, fixed_point=fixed_point)
        self.vocoder = _make_vocoder(vocoder, fixed_point, info.bitrate)
        self.packets_in = 0
        self.payload_bytes = 0

    def decode_features(self, packet: bytes, *, offset: int | None = None) -> np.ndarray:
        """Features (2 per latent, 20 values each) of one packet."""
        frame_ms, payload = split_codec_packet(packet, offset=offset)
        q = read_payload(payload, fmt.latents_per_packet(frame_ms), self.coding, offset=offset)
        # Causal decoder: one block call equals one step() per latent, bit for bit.
        feats = np.asarray(self._net.process(self._dequantize(q, self.tables)), dtype=np.float32)
        self.packets_in += 1
        self.payload_bytes += len(payload)
        return feats.reshape(-1, 20)

    def synthesize(self, feats: np.ndarray) -> np.ndarray:
        """Audio for features, through the (stateful) vocoder."""
        return np.asarray(self.vocoder.synthesize(feats), dtype=np.float32).reshape(-1)

    def decode_packet(self, packet: bytes, *, offset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features, audio) of one packet; audio is 16 kHz int16-unit float32."""
        feats = self.decode_features(packet, offset=offset)
        return feats, self.synthesize(feats)


# ---------------------------------------------------------------------------------------------
# Audio input


def _wav_stream(f: BinaryIO, head: bytes, name: str) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (rate, mono float64 +-1 chunk) from a RIFF/WAVE stream read sequentially."""
    buf = bytearray(head)

    def need(n: int) -> bool:
        while len(buf) < n:
            b = f.read(max(n - len(buf), 1 << 16))
            if not b:
                return False
            buf.extend(b)
        return True

    def bad(why: str):
        return AudioError(f"bad WAV stream: {why}", file=name)

    pos = 12
    fmt_info = None
    while True:
        if not need(pos + 8):
            raise bad("no data chunk")
        cid, size = bytes(buf[pos:pos + 4]), struct.unpack_from("<I", buf, pos + 4)[0]
        pos += 8
        if cid == b"fmt ":
            if not need(pos + size) or size < 16:
                raise bad("short fmt chunk")
            tag, ch, rate, _, align, bits = struct.unpack_from("<HHIIHH", buf, pos)
            if tag == 0xFFFE and size >= 40:
                tag = struct.unpack_from("<H", buf, pos + 24)[0]
            fmt_info = (tag, ch, rate, align, bits)
            pos += size + (size & 1)
            continue
        if cid == b"data":
            break
        pos += size + (size & 1)
    if fmt_info is None:
        raise bad("data chunk before fmt chunk")
    tag, ch, rate, align, bits = fmt_info
    kinds = {(1, 8): "u1", (1, 16): "<i2", (1, 24): "i3", (1, 32): "<i4", (3, 32): "<f4", (3, 64): "<f8"}
    kind = kinds.get((tag, bits))
    if kind is None or ch < 1 or rate < 1:
        raise AudioError(f"unsupported WAV encoding (format {tag}, {bits} bits, {ch} channels)", file=name)
    width = bits // 8 * ch
    remaining = None if size in (0, 0xFFFFFFFF) else size  # streaming writers leave it open
    del buf[:pos]
    while True:
        if remaining is not None and remaining <= 0:
            return
        want = 1 << 16
        b = f.read(want) if not buf else b""
        if buf:
            b, buf = bytes(buf), bytearray()
        if not b:
            return
        if remaining is not None:
            b, remaining = b[:remaining], remaining - len(b)
        carry = len(b) % width
        if carry:
            extra = f.read(width - carry)
            b += extra
            if len(b) % width:
                b = b[: len(b) - len(b) % width]
        if not b:
            return
        if kind == "i3":
            a = np.frombuffer(b, np.uint8).reshape(-1, 3).astype(np.int32)
            v = (a[:, 0] | (a[:, 1] << 8) | (a[:, 2] << 16))
            v = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
        elif kind == "u1":
            v = (np.frombuffer(b, np.uint8).astype(np.float64) - 128.0) / 128.0
        else:
            with np.errstate(invalid="ignore"):  # a signalling NaN: refused just below, not warned about
                raw = np.frombuffer(b, kind).astype(np.float64)
            v = raw if kind[1] == "f" else raw / float(1 << (bits - 1))
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, 1e308 + 1e308: refused below
            v = v.reshape(-1, ch).mean(axis=1)
        if not np.all(np.isfinite(v)):
            raise AudioError("audio contains non-finite samples", file=name)
        yield rate, v


def iter_audio(source, *, file: str | None = None, chunk: int = 16000) -> tuple[Iterator[np.ndarray], float | None]:
    """(chunks, duration_s) of any soundfile-readable input as 16 kHz int16-unit float32.

    A path is read whole (``mlcodec.dsp.audio.read_audio``). A stream (stdin) starting with a
    RIFF/WAVE header is decoded as it arrives, so ``encode - out.opus`` streams; any other
    stream is read into memory first (soundfile needs to seek).
    """
    from mlcodec.dsp.audio import INT16_SCALE, MIN_SAMPLES, read_audio

    name = file or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<stream>")
    if isinstance(source, (str, os.PathLike)):
        x = read_audio(source, file=name)
        return (x[i:i + chunk] for i in range(0, x.shape[0], chunk)), x.shape[0] / fmt.SAMPLE_RATE
    head = _read_exact(source, 12)
    if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        def gen():
            import soxr

            rs = None
            total = 0
            for rate, v in _wav_stream(source, head, name):
                if rate != fmt.SAMPLE_RATE:
                    rs = rs or soxr.ResampleStream(rate, fmt.SAMPLE_RATE, 1, dtype="float64", quality="VHQ")
                    v = rs.resample_chunk(v, last=False)
                total += v.shape[0]
                if v.shape[0]:
                    yield (v * INT16_SCALE).astype(np.float32)
            if rs is not None:
                v = rs.resample_chunk(np.zeros(0), last=True)
                total += v.shape[0]
                if v.shape[0]:
                    yield (v * INT16_SCALE).astype(np.float32)
            if total < MIN_SAMPLES:
                raise AudioError(f"audio too short ({total} samples at 16 kHz; need at least {MIN_SAMPLES})",
                                 file=name)
        return gen(), None
    rest = source.read()
    x = read_audio(io.BytesIO(head + rest), file=name)
    return (x[i:i + chunk] for i in range(0, x.shape[0], chunk)), x.shape[0] / fmt.SAMPLE_RATE


def _read_exact(f: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            break
        out += b
    return out


# ---------------------------------------------------------------------------------------------
# WAV output that streams


class WavWriter:
    """16-bit PCM mono WAV writer that streams: the RIFF/data sizes are written as 0xFFFFFFFF
    ("unknown", as sox/ffmpeg do for pipes) and patched at :meth:`close` when the file can
    seek. Samples are int16-unit floats (rounded and saturated). The header goes out with the
    first write (or at close): a decode rejected before any audio writes nothing, which matters
    when the output is a pipe."""

    def __init__(self, fileobj: BinaryIO, rate: int):
        self.f = fileobj
        self.rate = int(rate)
        self.frames = 0
        self._start: int | None = None
        self._started = False

    def _header(self) -> None:
        self._started = True
        try:
            self._start = self.f.tell() if self.f.seekable() else None
        except (OSError, ValueError, AttributeError):
            self._start = None
        hdr = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        hdr += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, self.rate, self.rate * 2, 2, 16)
        hdr += b"data" + struct.pack("<I", 0xFFFFFFFF)
        self.f.write(hdr)

    def write(self, x: np.ndarray) -> None:
        from mlcodec.dsp.audio import to_int16

        if not self._started:
            self._header()
        if len(x):
            pcm = to_int16(x).astype("<i2")
            self.f.write(pcm.tobytes())
            self.frames += pcm.shape[0]

    def close(self) -> None:
        if not self._started:
            self._header()
        data = self.frames * 2
        try:
            if self._start is not None and data + 36 <= 0xFFFFFFFF:
                pos = self.f.tell()
                self.f.seek(self._start + 4)
                self.f.write(struct.pack("<I", 36 + data))
                self.f.seek(self._start + 40)
                self.f.write(struct.pack("<I", data))
                self.f.seek(pos)
        except (OSError, ValueError, AttributeError):
            pass
        self.f.flush()


# ---------------------------------------------------------------------------------------------
# Atomic output


class _CountingWriter(io.RawIOBase):
    def __init__(self, f: BinaryIO):
        self.f, self.n = f, 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.f.write(b)
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        self.f.flush()

    def seekable(self) -> bool:
        try:
            return self.f.seekable()
        except (AttributeError, ValueError, OSError):
            return False

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()


class _CountingReader(io.RawIOBase):
    def __init__(self, f: BinaryIO):
        self.f, self.n = f, 0
        self._read1 = getattr(f, "read1", None) or f.read

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.n += len(b)
        return b

    def read1(self, n: int = -1) -> bytes:
        b = self._read1(n)
        self.n += len(b)
        return b


# ---------------------------------------------------------------------------------------------
# Whole files


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


def _name(x, default: str) -> str:
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x)
    return getattr(x, "name", None) if isinstance(getattr(x, "name", None), str) else default


def encode_stream(chunks, out: BinaryIO, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE,
                  frame_ms: int = fmt.DEFAULT_FRAME_MS, fixed_point: bool = True, serial: int | None = None,
                  progress: Callable[[float], None] | None = None) -> Encoder:
    """Encode 16 kHz int16-unit chunks into an Ogg Opus stream written to ``out``.

    The Ogg Opus header pages (RFC 7845 §3) are written with the first audio packet, not
    before: an input that fails early (no data chunk, too short, no samples) writes nothing
    to ``out``, which matters when ``out`` is a pipe.
    """
    from mlcodec import __version__
    from mlcodec.containers.oggopus import OggOpusWriter

    enc = Encoder(model, bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point)
    writer = None

    def write(packets) -> None:
        nonlocal writer
        for p in packets:
            if writer is None:
                writer = OggOpusWriter(out, channels=1, input_sample_rate=fmt.SAMPLE_RATE, pre_skip=enc.pre_skip,
                                       serial=serial, tags=enc.info.tags(), vendor=f"mlcodec {__version__}")
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
    return enc


def encode_file(src, dst, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = fmt.DEFAULT_FRAME_MS,
                fixed_point: bool = True, serial: int | None = None, progress: ProgressFn | None = None) -> CodingStats:
    """Encode an audio file (any format/rate soundfile reads; ``"-"`` = stdin) into an
    mlcodec Ogg Opus file (``"-"`` = stdout), atomically. Returns the :class:`CodingStats`."""
    t0 = time.perf_counter()
    in_name = _name(src, "-")
    fmt.toc_config(frame_ms)
    if isinstance(src, (str, os.PathLike)) and os.fspath(src) == "-":
        src = sys.stdin.buffer
    chunks, total = iter_audio(src, file=in_name)
    try:
        with AtomicOutput(dst, suffix=".opus") as out:
            counter = _CountingWriter(out.f)
            enc = encode_stream(chunks, counter, model=model, bitrate=bitrate, frame_ms=frame_ms,
                                fixed_point=fixed_point, serial=serial,
                                progress=(lambda s: progress(s, total)) if progress else None)
    except MlcodecError as exc:
        raise exc.with_file(in_name)
    return CodingStats(in_name, _name(dst, "-"), enc.samples_in / fmt.SAMPLE_RATE, enc.packets_out,
                       enc.payload_bytes, counter.n, time.perf_counter() - t0, bitrate, int(frame_ms))


@dataclass
class DecodeResult:
    """Audio and features of a whole stream (see :func:`decode_stream`)."""

    info: fmt.StreamInfo
    samples: int = 0
    packets: int = 0
    payload_bytes: int = 0
    features: list = field(default_factory=list)
    truncated: str | None = None


def decode_stream(src: BinaryIO, sink: Callable[[np.ndarray], None], *, model=None, vocoder=None,
                  fixed_point: bool = True, file: str | None = None,
                  feature_sink: Callable[[np.ndarray], None] | None = None,
                  progress: Callable[[int], None] | None = None) -> DecodeResult:
    """Decode an mlcodec Ogg Opus stream, passing trimmed 16 kHz audio chunks to ``sink``.

    Pre-skip and end trimming follow the granule positions (RFC 7845 §4). A stream that ends
    early or is damaged after its headers (cut or corrupt page, missing EOS, a packet that is
    not an mlcodec packet) is decoded as far as it is readable; the result then has
    ``truncated`` set to the reason (the caller decides to report it). Header problems
    (not Ogg Opus, not mlcodec, wrong model) raise CodecError/ContainerError.
    """
    from mlcodec.containers.oggopus import read_ogg_opus

    head = _read_exact(src, 4)
    if not head:
        raise CodecError("empty input", file=file)
    if head != b"OggS":
        raise CodecError("not an Ogg Opus file (mlcodec decode reads streams made by mlcodec encode)",
                         file=file, offset=0)
    from mlcodec.containers.detect import PrefixedReader

    reader = read_ogg_opus(PrefixedReader(head, src), file=file)
    info = fmt.parse_stream_tags(reader.tags.comments)
    if reader.head.channels != 1:
        raise CodecError(f"mlcodec streams are mono, this one has {reader.head.channels} channels", file=file)
    dec = Decoder(info, model, vocoder=vocoder, fixed_point=fixed_point)
    res = DecodeResult(info)
    last = None
    # The pre-skip removes the delay the encoder assumed (MLCODEC_DELAY); a vocoder with
    # another delay shifts its output by the difference, keeping the length exact.
    shift = vocoder_delay(dec.vocoder) - info.delay
    skip = max(shift, 0)
    if shift < 0:
        sink(np.zeros(-shift, np.float32))
        res.samples += -shift
    owed = max(shift, 0)
    try:
        for p in reader.packets():
            last = p
            feats, audio = dec.decode_packet(p.data, offset=p.offset)
            if feature_sink is not None:
                feature_sink(feats)
            # The packet's audio covers output positions [granule - samples - pre_skip, ...).
            g = fmt.GRANULE_PER_SAMPLE
            start48 = p.granule - p.samples - reader.head.pre_skip
            a = max(p.pcm_start - start48, 0) // g
            b = max(p.pcm_end - start48, 0) // g
            piece = audio[a:b]
            if skip:
                cut = min(skip, piece.shape[0])
                piece, skip = piece[cut:], skip - cut
            if shift < 0 and p.eos:
                piece = piece[:max(piece.shape[0] + shift, 0)]
            if piece.shape[0]:
                sink(piece)
                res.samples += piece.shape[0]
            res.packets += 1
            if progress:
                progress(res.packets)
    except (ContainerError, CodecError) as exc:
        # Damage after the headers: keep what was decoded, report where it stopped.
        res.truncated = exc.reason if exc.offset is None else f"offset {exc.offset}: {exc.reason}"
    else:
        if last is None:
            res.truncated = "stream has no audio packets"
        elif not last.eos:
            res.truncated = "stream ends without its last (EOS) page"
        elif reader.other_streams:
            o = reader.other_streams[0]
            where = "" if o.head_offset is None else f"offset {o.head_offset}: "
            res.truncated = (f"{where}another Opus logical stream (serial {o.serial}) follows; chained "
                             "Ogg files are not supported, only the first stream was decoded")
    if owed and res.truncated is None:
        sink(np.zeros(owed, np.float32))  # the vocoder's extra lag: pad the end back to length
        res.samples += owed
    res.payload_bytes = dec.payload_bytes
    return res


def decode_file(src, dst, *, rate: int = fmt.SAMPLE_RATE, model=None, vocoder=None, fixed_point: bool = True,
                progress: ProgressFn | None = None) -> CodingStats:
    """Decode an mlcodec Ogg Opus file (``"-"`` = stdin) to a 16-bit WAV file (``"-"`` =
    stdout, streamed with an open-ended header) at ``rate`` (16000 or 48000), atomically.

    A truncated stream is decoded as far as it is readable and the WAV is kept; then
    CodecError is raised, naming the problem (docs/codec.md explains the choice).
    """
    t0 = time.perf_counter()
    if int(rate) not in OUTPUT_RATES:
        raise CodecError(f"unsupported output rate {rate} (choose 16000 or 48000)")
    in_name = _name(src, "-")
    close_in = None
    if isinstance(src, (str, os.PathLike)):
        if os.fspath(src) == "-":
            f = sys.stdin.buffer
        else:
            try:
                f = close_in = open(src, "rb")
            except FileNotFoundError:
                raise CodecError("no such file", file=in_name) from None
            except IsADirectoryError:
                raise CodecError("is a directory", file=in_name) from None
            except OSError as exc:  # e.g. "Permission denied"
                raise CodecError(exc.strerror or str(exc), file=in_name) from None
        total = os.path.getsize(src) if close_in else None
        if total == 0 and os.path.isfile(src):
            close_in.close()
            raise CodecError("empty file", file=in_name)
    else:
        f, total = src, None
    reader = _CountingReader(f)
    try:
        with AtomicOutput(dst, suffix=".wav") as out:
            counter = _CountingWriter(out.f)
            wav = WavWriter(counter, rate)  # writes its header with the first audio
            if int(rate) == fmt.SAMPLE_RATE:
                sink = wav.write
                finish = None
            else:
                import soxr

                rs = soxr.ResampleStream(fmt.SAMPLE_RATE, int(rate), 1, dtype="float32", quality="VHQ")
                made = [0, 0]

                def sink(x):
                    made[0] += x.shape[0]
                    y = rs.resample_chunk(np.asarray(x, np.float32), last=False)
                    made[1] += y.shape[0]
                    wav.write(y)

                def finish():
                    y = rs.resample_chunk(np.zeros(0, np.float32), last=True)
                    want = made[0] * int(rate) // fmt.SAMPLE_RATE - made[1]
                    y = y[:max(want, 0)]
                    if y.shape[0] < want:
                        y = np.concatenate([y, np.zeros(want - y.shape[0], np.float32)])
                    wav.write(y)
            res = decode_stream(reader, sink, model=model, vocoder=vocoder, fixed_point=fixed_point, file=in_name,
                                progress=(lambda n: progress(reader.n, total)) if progress else None)
            if res.truncated and res.samples == 0:
                # nothing decodable: keep no (empty) output, report the damage alone
                raise CodecError(f"truncated or damaged stream ({res.truncated}); nothing could be decoded, "
                                 "no output written", file=in_name)
            if finish:
                finish()
            wav.close()  # a valid stream with no audio still gets its (empty) WAV
    except MlcodecError as exc:
        raise exc.with_file(in_name)
    finally:
        if close_in:
            close_in.close()
    stats = CodingStats(in_name, _name(dst, "-"), res.samples / fmt.SAMPLE_RATE, res.packets, res.payload_bytes,
                        reader.n, time.perf_counter() - t0, res.info.bitrate, res.info.frame_ms,
                        truncated=res.truncated is not None)
    if res.truncated:
        err = CodecError(f"truncated or damaged stream ({res.truncated}); decoded {stats.duration:.2f} s "
                         f"and kept the output", file=in_name)
        err.stats = stats
        raise err
    return stats
