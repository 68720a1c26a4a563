"""Audio input/output for the speech codec: any soundfile format in, 16 kHz mono int16-scaled out.

The feature analysis works on float samples in int16 units (+-32768), not +-1, because the
LPCNet features depend on the absolute level (specs 07 s1, s8).
"""
from __future__ import annotations

import io
import os
import re
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from mlcodec.errors import AudioError
from mlcodec.io.atomic import atomic_write

#: The codec's sample rate (specs 07 s1).
SAMPLE_RATE = 16000
#: Scale from soundfile's +-1 floats to libopus's int16 units (specs 07 s1).
INT16_SCALE = 32768.0
#: Shortest accepted input: one 10 ms feature frame at 16 kHz (specs 07 s1).
MIN_SAMPLES = 160
#: soxr quality for resampling (very high quality; the issue asks for a maintained resampler).
RESAMPLE_QUALITY = "VHQ"


def _source_name(source, file: str | None) -> str:
    if file is not None:
        return file
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or "<stream>"


def _bytes_left(f: BinaryIO) -> int | None:
    """Bytes from a seekable stream's position to its end (None if that cannot be told)."""
    try:
        pos = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(pos)
    except (AttributeError, OSError, ValueError):
        return None
    return end - pos


def _check_readable(path, name: str) -> None:
    """Name an unreadable file plainly: libsndfile reports a refused open as "System error"."""
    try:
        with open(path, "rb"):
            pass
    except (FileNotFoundError, IsADirectoryError):
        pass  # the caller's own words ("no such file", "is a directory")
    except OSError as exc:  # PermissionError above all
        raise AudioError(exc.strerror or str(exc), file=name) from None


def read_audio(source: str | os.PathLike | BinaryIO, *, file: str | None = None) -> np.ndarray:
    """Read any soundfile-readable audio, mix to mono, resample to 16 kHz, scale to int16 units.

    ``file`` names the input in error messages (e.g. "-" for stdin). Returns float32.
    Raises :class:`AudioError` for unreadable, empty, too short or non-finite input.
    """
    name = _source_name(source, file)
    if not isinstance(source, (str, os.PathLike)):
        # soundfile needs a seekable stream; pipes (stdin) are read into memory first.
        try:
            seekable = source.seekable()
        except (AttributeError, OSError, ValueError):
            seekable = False
        if not seekable:
            try:
                data = source.read()
            except (OSError, ValueError) as exc:
                raise AudioError(f"cannot read audio: {exc}", file=name) from None
            if not data:
                raise AudioError("empty input", file=name)
            source = io.BytesIO(data)
        elif _bytes_left(source) == 0:  # libsndfile would say "Format not recognised"
            raise AudioError("empty input", file=name)
    elif not os.path.exists(source):
        raise AudioError("no such file", file=name)
    elif os.path.isdir(source):
        raise AudioError("is a directory", file=name)
    else:
        _check_readable(source, name)
        if os.path.isfile(source) and os.path.getsize(source) == 0:
            raise AudioError("empty file", file=name)
    try:
        x, rate = sf.read(source, dtype="float64", always_2d=True)
    except FileNotFoundError:
        raise AudioError("no such file", file=name) from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = re.sub(r"^Error opening .*?: ", "", reason)  # libsndfile repeats the (internal) name
        raise AudioError(f"unreadable audio ({reason})", file=name) from None
    return prepare_audio(x, rate, file=name)


def prepare_audio(x: np.ndarray, rate: int, *, file: str | None = None) -> np.ndarray:
    """Float audio in [-1, 1] (frames, or frames x channels) at any ``rate`` -> 16 kHz mono
    float32 in int16 units, as the encoder wants it: channels mixed, soxr resampled."""
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    name = file
    if x.ndim != 2 or x.shape[1] == 0 or x.shape[0] == 0:
        raise AudioError("audio has no samples", file=name)
    if not np.all(np.isfinite(x)):
        raise AudioError("audio contains non-finite samples", file=name)
    mono = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if rate <= 0:
        raise AudioError(f"unsupported sample rate {rate}", file=name)
    if rate != SAMPLE_RATE:
        mono = resample(mono, rate, SAMPLE_RATE)
    if mono.shape[0] < MIN_SAMPLES:
        raise AudioError(
            f"audio too short ({mono.shape[0]} samples at 16 kHz; need at least {MIN_SAMPLES})",
            file=name,
        )
    return (mono * INT16_SCALE).astype(np.float32)


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a mono signal with soxr (very high quality); returns float64 (float32 in -> float32)."""
    if from_rate == to_rate:
        return np.asarray(x)
    if from_rate <= 0 or to_rate <= 0:
        raise AudioError(f"unsupported sample rate conversion {from_rate} -> {to_rate} Hz")
    x = np.asarray(x)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    return soxr.resample(x.astype(dtype, copy=False), from_rate, to_rate, quality=RESAMPLE_QUALITY)


#: Corner of the DC-reject high-pass (Hz), as libopus's encoder applies before analysis.
DC_REJECT_HZ = 3.0


class DCReject:
    """Streaming first-order DC-reject high-pass (corner ~3 Hz), state kept across chunks.

    Some recordings carry a large DC offset (one eval file sits at -8400 in int16 units),
    which lands in the lowest band and becomes a low rumble after synthesis. libopus's encoder
    removes DC (its ``dc_reject``, coefficient 6.3*f/Fs) before any analysis; the codec's
    encoder should do the same before :func:`mlcodec.dsp.features.compute_features`. The
    feature analysis itself stays exactly specs 07.
    """

    def __init__(self, cutoff_hz: float = DC_REJECT_HZ, rate: int = SAMPLE_RATE) -> None:
        self._a = 6.3 * cutoff_hz / rate
        self._m = 0.0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        out = np.empty(x.shape[0], dtype=np.float32)
        self._m = _dc_reject(x, out, self._a, self._m)
        return out


def dc_reject(x: np.ndarray) -> np.ndarray:
    """Whole-signal DC removal (see :class:`DCReject`); float32 in int16 units."""
    return DCReject().process(x)


def _dc_reject_py(x, out, a, m):
    for i in range(x.shape[0]):
        out[i] = x[i] - m
        m = a * x[i] + (1.0 - a) * m
    return m


try:  # numba keeps this per-sample recursion fast; the loop is the same in both cases
    from numba import njit

    _dc_reject = njit(cache=True)(_dc_reject_py)
except ImportError:  # pragma: no cover - numba is a runtime dependency
    _dc_reject = _dc_reject_py


def to_int16(x: np.ndarray) -> np.ndarray:
    """Round int16-unit floats to int16 with saturation."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64)), -32768, 32767).astype(np.int16)


def write_audio(path_or_file, x: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16-unit float samples as a 16-bit PCM WAV file.

    A path is written atomically (temp file in the same directory, then rename); a binary
    file object is written directly (the caller maps "-" to stdout).
    """
    pcm = to_int16(x)
    if isinstance(path_or_file, (str, os.PathLike)):
        with atomic_write(path_or_file, suffix=".wav") as fh:
            sf.write(fh, pcm, rate, format="WAV", subtype="PCM_16")
    else:
        buf = io.BytesIO()
        sf.write(buf, pcm, rate, format="WAV", subtype="PCM_16")
        path_or_file.write(buf.getvalue())
