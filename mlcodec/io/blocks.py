"""Audio files read in blocks: any soundfile-readable path (or seekable file) as 16 kHz chunks.

Memory stays flat in the input's length (issue 15): soundfile decodes ``BLOCK_FRAMES`` frames
at a time, channels are mixed, and soxr's ``ResampleStream`` converts the rate chunk by chunk
(its streamed output equals its one-shot output, so a path codes exactly as the same samples
given to :func:`mlcodec.encode`). Errors are the ones :func:`mlcodec.dsp.audio.read_audio`
raises, with the same words.
"""
from __future__ import annotations

import os
import re
from typing import BinaryIO, Iterator

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.errors import AudioError

#: Frames decoded per soundfile read (at the input's rate): 64 Ki frames, ~1.4 s at 48 kHz.
BLOCK_FRAMES = 1 << 16


def _check_path(path, name: str) -> None:
    if not os.path.exists(path):
        raise AudioError("no such file", file=name)
    if os.path.isdir(path):
        raise AudioError("is a directory", file=name)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:  # PermissionError above all (libsndfile would say "System error")
        raise AudioError(exc.strerror or str(exc), file=name) from None
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise AudioError("empty file", file=name)


def _unreadable(exc: BaseException, name: str) -> AudioError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = re.sub(r"^Error opening .*?: ", "", reason)  # libsndfile repeats the (internal) name
    return AudioError(f"unreadable audio ({reason})", file=name)


def open_blocks(source: "str | os.PathLike | BinaryIO", *, file: str | None = None,
                block: int = BLOCK_FRAMES) -> tuple[Iterator[np.ndarray], float | None]:
    """(chunks, duration_s) of a path or seekable binary file: 16 kHz mono float32 chunks in
    int16 units. The file is opened (and its header checked) now; audio is read as the chunks
    are consumed. AudioError for missing, empty, unreadable, too short or non-finite input."""
    import soundfile as sf

    name = file or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<stream>")
    if isinstance(source, (str, os.PathLike)):
        _check_path(source, name)
    try:
        f = sf.SoundFile(source)
    except FileNotFoundError:
        raise AudioError("no such file", file=name) from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise _unreadable(exc, name) from None
    rate, frames = f.samplerate, f.frames
    if rate <= 0:
        f.close()
        raise AudioError(f"unsupported sample rate {rate}", file=name)
    known = 0 < frames < (1 << 62)
    duration = frames / rate if known else None
    return _chunks(f, rate, name, block), duration


def _chunks(f, rate: int, name: str, block: int) -> Iterator[np.ndarray]:
    from mlcodec.dsp.audio import INT16_SCALE, MIN_SAMPLES, RESAMPLE_QUALITY

    rs = None
    if rate != fmt.SAMPLE_RATE:
        import soxr

        rs = soxr.ResampleStream(rate, fmt.SAMPLE_RATE, 1, dtype="float64", quality=RESAMPLE_QUALITY)
    made = 0
    read_any = False
    try:
        while True:
            try:
                x = f.read(block, dtype="float64", always_2d=True)
            except (RuntimeError, ValueError, OSError) as exc:
                raise _unreadable(exc, name) from None
            if x.shape[0] == 0:
                break
            read_any = True
            if not np.all(np.isfinite(x)):
                raise AudioError("audio contains non-finite samples", file=name)
            mono = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
            if rs is not None:
                mono = rs.resample_chunk(mono, last=False)
            made += mono.shape[0]
            if mono.shape[0]:
                yield (mono * INT16_SCALE).astype(np.float32)
        if not read_any:
            raise AudioError("audio has no samples", file=name)
        if rs is not None:
            mono = rs.resample_chunk(np.zeros(0, np.float64), last=True)
            made += mono.shape[0]
            if mono.shape[0]:
                yield (mono * INT16_SCALE).astype(np.float32)
        if made < MIN_SAMPLES:
            raise AudioError(f"audio too short ({made} samples at 16 kHz; need at least {MIN_SAMPLES})", file=name)
    finally:
        f.close()
