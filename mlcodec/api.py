"""The public API: arrays in, bytes out; files; stream facts; codes for machine learning.

Audio is float in [-1, 1] (or int16) with its sample rate, as soundfile and librosa return it:
``(frames,)`` or ``(frames, channels)``, any rate; it is mixed to mono and resampled to 16 kHz
as ``mlcodec encode`` does. Streams are ``bytes``, binary file objects or paths. See
docs/api.md. Everything is re-exported by ``mlcodec`` (loaded on first use).
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass
from typing import BinaryIO, Union

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import Decoder, StreamDecoder, read_stream_head
from mlcodec.codec.encoder import Encoder, encode_stream, load_model
from mlcodec.codec.files import CodingStats
from mlcodec.codec.format import StreamInfo
from mlcodec.codec.vocoders import make_vocoder, vocoder_delay
from mlcodec.errors import AudioError, CodecError, MlcodecError
from mlcodec.io.transcode import decode_file, encode_file, open_input

__all__ = ["encode", "decode", "encode_file", "decode_file", "info", "read_codes", "decode_codes",
           "FileInfo", "Codes", "StreamInfo", "Encoder", "Decoder", "CodingStats"]

#: A stream: its bytes, a binary file object open for reading, or a path.
Source = Union[bytes, bytearray, memoryview, BinaryIO, str, "os.PathLike[str]"]

#: Peak above which float input is refused: it is then almost surely in int16 units.
FLOAT_PEAK_LIMIT = 2.0


def _as_float(audio, *, name: str = "audio") -> np.ndarray:
    """``audio`` as float64 in [-1, 1]: floats as given, integers scaled by their full scale."""
    a = np.asarray(audio)
    if a.dtype.kind == "f":
        a = a.astype(np.float64)
        peak = float(np.max(np.abs(a))) if a.size and np.all(np.isfinite(a)) else 0.0
        if peak > FLOAT_PEAK_LIMIT:
            raise AudioError(f"float audio must be in [-1, 1], this peaks at {peak:.0f} (int16 units? "
                             "divide by 32768 or pass an int16 array)", file=name)
        return a
    if a.dtype.kind == "i":
        return a.astype(np.float64) / float(2 ** (8 * a.dtype.itemsize - 1))
    if a.dtype.kind == "u" and a.dtype.itemsize == 1:  # 8-bit WAV style
        return (a.astype(np.float64) - 128.0) / 128.0
    raise AudioError(f"unsupported audio dtype {a.dtype} (use float in [-1, 1] or int16)", file=name)


def encode(audio, samplerate: int, bitrate: str = fmt.DEFAULT_BITRATE, *, frame_ms: int = fmt.DEFAULT_FRAME_MS,
           model=None, fixed_point: bool = True, serial: int | None = None, redundancy_ms: int = 0) -> bytes:
    """Encode audio (float in [-1, 1] or int16; ``(frames,)`` or ``(frames, channels)``; any
    ``samplerate``) into an mlcodec Ogg Opus stream. ``bitrate`` is a preset: 1.5k, 3k or 6k.
    The bytes are reproducible: the Ogg serial is derived from the settings and the first 10 s
    of audio (``serial`` overrides it), as for files (mlcodec.io.resume). ``redundancy_ms``:
    copies of the last that many ms (0..1040) for packet loss, on top of ``bitrate``
    (extension 123, docs/loss.md s5)."""
    from mlcodec.dsp.audio import prepare_audio
    from mlcodec.io.transcode import encode_chunks

    x = prepare_audio(_as_float(audio), int(samplerate), file="audio")
    out = io.BytesIO()
    encode_chunks([x], out, model=load_model(model), bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point,
                  serial=serial, redundancy_ms=redundancy_ms)
    return out.getvalue()


class _Opened:
    """A :data:`Source` as a binary file object (closed on exit when opened here) and a name."""

    def __init__(self, src: Source):
        self.close = None
        if isinstance(src, (bytes, bytearray, memoryview)):
            self.f, self.name = io.BytesIO(bytes(src)), "<bytes>"
        elif isinstance(src, (str, os.PathLike)):
            self.f, _, self.close = open_input(src)
            self.name = os.fspath(src)
        else:
            self.f = src
            n = getattr(src, "name", None)
            self.name = n if isinstance(n, str) else "<stream>"

    def __enter__(self) -> "_Opened":
        return self

    def __exit__(self, typ, exc, tb) -> None:
        if self.close is not None:
            self.close.close()
        if isinstance(exc, MlcodecError):
            exc.with_file(self.name)  # errors from inside the stream name the file


def _to_rate(x16: np.ndarray, samplerate: int) -> np.ndarray:
    """16 kHz int16-unit audio -> float32 [-1, 1] at ``samplerate`` (exact length)."""
    from mlcodec.dsp.audio import INT16_SCALE, resample

    y = np.asarray(x16, np.float64) / INT16_SCALE
    if samplerate != fmt.SAMPLE_RATE:
        want = y.shape[0] * samplerate // fmt.SAMPLE_RATE
        y = resample(y, fmt.SAMPLE_RATE, samplerate)[:want]
        if y.shape[0] < want:
            y = np.concatenate([y, np.zeros(want - y.shape[0])])
    return y.astype(np.float32)


def decode(src: Source, samplerate: int = fmt.SAMPLE_RATE, vocoder: str = "auto", *, model=None,
           fixed_point: bool = True, loss=None, concealment: str = "neural") -> tuple[np.ndarray, int]:
    """Decode an mlcodec stream to ``(float32 audio in [-1, 1], samplerate)``.

    ``samplerate`` may be any rate (16000 is the codec's own). A stream damaged after its
    headers raises CodecError whose ``audio`` attribute holds what could be decoded.
    ``loss``: a packet-loss model of :mod:`mlcodec.codec.loss` (``Bernoulli``,
    ``GilbertElliott``, ``Trace``) dropping audio packets before decoding (simulated loss is
    not damage); ``concealment``: how missing packets are filled, ``"neural"`` or ``"repeat"``."""
    samplerate = int(samplerate)
    if samplerate <= 0:
        raise CodecError(f"unsupported output rate {samplerate}")
    with _Opened(src) as o:
        dec = StreamDecoder(o.f, model=load_model(model), vocoder=vocoder, fixed_point=fixed_point, file=o.name,
                            loss=loss, concealer=concealment)
        blocks = list(dec)
    x = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    y = _to_rate(x, samplerate)
    if dec.truncated:
        err = CodecError(f"truncated or damaged stream ({dec.truncated}); decoded {x.shape[0] / fmt.SAMPLE_RATE:.2f} s",
                         file=o.name)
        err.audio = (y, samplerate)
        raise err
    return y, samplerate


@dataclass(frozen=True)
class FileInfo:
    """Facts of an mlcodec stream, read without decoding. Rates are over ``duration``:
    ``file_kbps`` counts the whole file, ``payload_kbps`` the codec payloads only."""

    duration: float
    preset: str
    file_kbps: float
    payload_kbps: float
    file_bytes: int
    payload_bytes: int
    packets: int
    frame_ms: int
    model: str
    model_checksum: str
    format_version: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Codes:
    """The quantized latents of a stream: what the decoder network sees.

    ``codes`` is int32 (frames x dims), one row per 20 ms latent (``frame_rate`` = 50 Hz);
    ``level`` the quantizer level of each frame. ``samples`` (16 kHz) is the stream's audio
    length; with ``model_checksum``, ``delay`` and ``preset`` it lets :func:`decode_codes`
    rebuild the same audio as :func:`decode`."""

    codes: np.ndarray
    level: np.ndarray
    frame_rate: float
    samples: int
    model_checksum: str
    model_name: str = ""
    preset: str = ""
    frame_ms: int = fmt.DEFAULT_FRAME_MS
    delay: int = 0

    def to_json(self) -> str:
        d = {k: v for k, v in asdict(self).items() if k not in ("codes", "level")}
        d["frames"], d["dims"] = (int(x) for x in self.codes.shape)
        return json.dumps(d, sort_keys=True)


def _size(src: Source, f) -> int:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return len(src)
    if isinstance(src, (str, os.PathLike)) and os.path.isfile(src):
        return os.path.getsize(src)
    try:
        return int(f.tell())
    except (AttributeError, OSError, ValueError):
        return 0


def _samples(reader, last) -> int:
    """Audio length (16 kHz) from the end of the last packet's audio (RFC 7845 s4: granule
    position less pre-skip, the end trim applied)."""
    return max(last.pcm_end // fmt.GRANULE_PER_SAMPLE, 0) if last else 0


def info(src: Source) -> FileInfo:
    """Duration, preset, whole-file and payload rates, model and format of an mlcodec stream
    (read without decoding)."""
    with _Opened(src) as o:
        reader, sinfo = read_stream_head(o.f, file=o.name)
        payload, packets, last = 0, 0, None
        for p in reader.packets():
            last = p
            packets += 1
            if sinfo.format_version >= 2:
                payload += len(fmt.carrier_payload(p.data, offset=p.offset)[1] or b"")
            else:
                payload += len(fmt.split_codec_packet(p.data, offset=p.offset)[1])
        size = _size(src, o.f)
    dur = _samples(reader, last) / fmt.SAMPLE_RATE
    return FileInfo(duration=dur, preset=sinfo.bitrate, file_kbps=size * 8 / dur / 1000 if dur else 0.0,
                    payload_kbps=payload * 8 / dur / 1000 if dur else 0.0, file_bytes=size, payload_bytes=payload,
                    packets=packets, frame_ms=sinfo.frame_ms, model=sinfo.model_name,
                    model_checksum=sinfo.model_checksum, format_version=sinfo.format_version)


def read_codes(src: Source, *, model=None) -> Codes:
    """The quantized latents of an mlcodec stream (range decoding only: no networks run)."""
    with _Opened(src) as o:
        reader, sinfo = read_stream_head(o.f, file=o.name)
        dec = Decoder(sinfo, load_model(model), vocoder=False, concealer="repeat")  # nothing to conceal
        rows, levels, last = [], [], None
        for p in reader.packets():
            last = p
            rows.append(dec.read_codes(p.data, offset=p.offset))
            levels.append(dec.last_levels)
    samples = _samples(reader, last)
    codes = np.concatenate(rows).astype(np.int32) if rows else np.zeros((0, dec.model.latent_dim), np.int32)
    level = np.concatenate(levels).astype(np.int32) if levels else np.zeros(0, np.int32)
    return Codes(codes=codes, level=level,
                 frame_rate=1000.0 / fmt.LATENT_MS, samples=int(samples), model_checksum=sinfo.model_checksum,
                 model_name=sinfo.model_name, preset=sinfo.bitrate, frame_ms=sinfo.frame_ms, delay=sinfo.delay)


def decode_codes(codes: Codes, samplerate: int = fmt.SAMPLE_RATE, vocoder: str = "auto", *, model=None,
                 fixed_point: bool = True) -> tuple[np.ndarray, int]:
    """Audio ``(float32 in [-1, 1], samplerate)`` from :func:`read_codes` output (or edited
    codes of the same shape): the same audio :func:`decode` gives for the stream."""
    levels = np.asarray(codes.level).reshape(-1)
    level = int(levels[0]) if levels.shape[0] else 0
    v = 2 if len(codes.model_checksum) <= fmt.CHECKSUM_DIGITS else 1
    sinfo = StreamInfo(model_name=codes.model_name, model_checksum=codes.model_checksum, level=level,
                       frame_ms=codes.frame_ms, bitrate=codes.preset, delay=codes.delay, format_version=v)
    dec = Decoder(sinfo, load_model(model), vocoder=make_vocoder(vocoder, fixed_point, codes.preset),
                  fixed_point=fixed_point, concealer="repeat")  # codes have no gaps
    q = np.asarray(codes.codes)
    # packet by packet, the latent decoder conditioned on each packet's level (as decode does)
    lpp = max(int(codes.frame_ms) // fmt.LATENT_MS, 1)
    feats = []
    for k in range(0, q.shape[0], lpp):
        lv = levels[k:k + lpp] if levels.shape[0] == q.shape[0] else np.full(len(q[k:k + lpp]), level)
        dec.level = int(lv[-1])
        feats.append(dec.features_of_codes(q[k:k + lpp], lv))
    x = dec.synthesize(np.concatenate(feats)) if q.shape[0] else np.zeros(0, np.float32)
    skip = vocoder_delay(dec.vocoder)  # pre-skip (the declared delay) plus the vocoder's own lag
    x = x[skip:skip + codes.samples]
    if x.shape[0] < codes.samples:
        x = np.concatenate([x, np.zeros(codes.samples - x.shape[0], np.float32)])
    return _to_rate(x, int(samplerate)), int(samplerate)
