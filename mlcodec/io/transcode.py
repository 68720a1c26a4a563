"""Whole files by path (``"-"`` = stdin/stdout): encode audio files to mlcodec Ogg Opus and
decode them to 16-bit WAV, atomically (nothing half-written is left under the output name)."""
from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import StreamDecoder
from mlcodec.codec.encoder import encode_stream
from mlcodec.codec.files import CodingStats
from mlcodec.errors import CodecError, MlcodecError
from mlcodec.io import resume, stdio
from mlcodec.io.atomic import AtomicOutput
from mlcodec.io.counting import CountingReader, CountingWriter
from mlcodec.io.wav import WavWriter, iter_audio

#: ``progress(done, total)``: seconds of audio read (encode) or bytes read (decode), and the
#: total when known (else None).
ProgressFn = Callable[[float, "float | None"], None]


def encode_file(src, dst, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = fmt.DEFAULT_FRAME_MS,
                fixed_point: bool = True, serial: int | None = None, progress: ProgressFn | None = None,
                mode: str = "vbr", redundancy_ms: int = 0) -> CodingStats:
    """Encode an audio file (any format/rate soundfile reads; ``"-"`` = stdin; or a binary
    file object) into an mlcodec Ogg Opus file (``"-"`` = stdout), atomically.

    The input is read in blocks (memory flat in its length). The stream carries the settings
    digest tag, and its serial is derived from the settings and the first seconds of audio
    unless ``serial`` is given: the same input and settings give the same bytes
    (:mod:`mlcodec.io.resume`).
    A file is coded in two passes (the whole-file rate meets ``bitrate``); stdin in one (leaky
    bucket), so a pipe's bytes differ from a path's. An Ogg/Opus input is refused (CodecError):
    it is a stream to decode, not audio. ``redundancy_ms``: feature redundancy on top of
    ``bitrate`` (docs/loss.md s5)."""
    t0 = time.perf_counter()
    in_name = stdio.name_of(src)
    fmt.toc_config(frame_ms)
    fmt.parse_bitrate(bitrate)
    two_pass = not stdio.is_stdio(src)
    if stdio.is_stdio(src):
        src = stdio.stdin()
    elif isinstance(src, (str, os.PathLike)) and os.path.isfile(src):
        with open(src, "rb") as f:
            fmt.refuse_ogg_input(f.read(64), file=in_name)
    chunks, total = iter_audio(src, file=in_name)
    try:
        with AtomicOutput(dst, suffix=".opus") as out:
            counter = CountingWriter(out.f)
            enc = encode_chunks(chunks, counter, model=model, bitrate=bitrate, frame_ms=frame_ms,
                                fixed_point=fixed_point, serial=serial, mode=mode, two_pass=two_pass,
                                redundancy_ms=redundancy_ms,
                                progress=(lambda s: progress(s, total)) if progress else None)
    except MlcodecError as exc:
        raise exc.with_file(in_name)
    return CodingStats(in_name, stdio.name_of(dst), enc.samples_in / fmt.SAMPLE_RATE, enc.packets_out,
                       enc.payload_bytes, counter.n, time.perf_counter() - t0, bitrate, int(frame_ms),
                       redundancy_ms=int(redundancy_ms), redundancy_bytes=enc.redundancy_bytes)


def encode_chunks(chunks, out, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE,
                  frame_ms: int = fmt.DEFAULT_FRAME_MS, fixed_point: bool = True, serial: int | None = None,
                  progress: Callable[[float], None] | None = None, mode: str = "vbr", two_pass: bool = True,
                  redundancy_ms: int = 0):
    """:func:`~mlcodec.codec.encoder.encode_stream` with the settings digest tag and, unless
    ``serial`` is given, the content-derived serial (:mod:`mlcodec.io.resume`); the one
    encode path of files, pipes and :func:`mlcodec.encode`. Returns the Encoder."""
    from mlcodec.codec.encoder import load_model

    model = load_model(model)
    digest = resume.settings_digest(model, bitrate, frame_ms, fixed_point, mode, redundancy_ms)
    if serial is None:
        chunks, serial = resume.content_serial(chunks, digest)
    return encode_stream(chunks, out, model=model, bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point,
                         serial=serial, tags=[resume.settings_tag(digest)], progress=progress, mode=mode,
                         two_pass=two_pass, redundancy_ms=redundancy_ms)


def open_input(src):
    """(binary file, size or None, file to close or None) for a path, ``"-"`` or a file object;
    CodecError naming the file when it cannot be opened or is empty."""
    if not isinstance(src, (str, os.PathLike)):
        return src, None, None
    if stdio.is_stdio(src):
        return stdio.stdin(), None, None
    name = os.fspath(src)
    try:
        f = open(src, "rb")
    except FileNotFoundError:
        raise CodecError("no such file", file=name) from None
    except IsADirectoryError:
        raise CodecError("is a directory", file=name) from None
    except OSError as exc:  # e.g. "Permission denied"
        raise CodecError(exc.strerror or str(exc), file=name) from None
    total = os.path.getsize(src)
    if total == 0 and os.path.isfile(src):
        f.close()
        raise CodecError("empty file", file=name)
    return f, total, f


class _Resampled:
    """Writes 16 kHz blocks to ``wav`` at ``rate`` through a soxr stream, trimmed to the exact
    length (input samples x rate / 16000)."""

    def __init__(self, wav: WavWriter, rate: int):
        import soxr

        self.wav, self.rate = wav, rate
        self.rs = soxr.ResampleStream(fmt.SAMPLE_RATE, rate, 1, dtype="float32", quality="VHQ")
        self.made = [0, 0]

    def write(self, x: np.ndarray) -> None:
        self.made[0] += x.shape[0]
        y = self.rs.resample_chunk(np.asarray(x, np.float32), last=False)
        self.made[1] += y.shape[0]
        self.wav.write(y)

    def finish(self) -> None:
        y = self.rs.resample_chunk(np.zeros(0, np.float32), last=True)
        want = self.made[0] * self.rate // fmt.SAMPLE_RATE - self.made[1]
        y = y[:max(want, 0)]
        if y.shape[0] < want:
            y = np.concatenate([y, np.zeros(want - y.shape[0], np.float32)])
        self.wav.write(y)


def decode_file(src, dst, *, rate: int = fmt.SAMPLE_RATE, model=None, vocoder=None, fixed_point: bool = True,
                progress: ProgressFn | None = None, loss=None, concealment=None) -> CodingStats:
    """Decode an mlcodec Ogg Opus file (``"-"`` = stdin) to a 16-bit WAV file (``"-"`` =
    stdout, streamed with an open-ended header) at ``rate`` (16000 or 48000), atomically.
    ``loss``: a :mod:`mlcodec.codec.loss` model dropping audio packets (simulated loss, not
    damage); ``concealment``: ``"neural"`` (default) or ``"repeat"`` (docs/loss.md).

    A truncated stream is decoded as far as it is readable and the WAV is kept; then
    CodecError is raised, naming the problem, with the run's ``stats`` attached.
    """
    t0 = time.perf_counter()
    rate = fmt.check_output_rate(rate)
    in_name = stdio.name_of(src)
    f, total, close_in = open_input(src)
    reader = CountingReader(f)
    try:
        with AtomicOutput(dst, suffix=".wav") as out:
            wav = WavWriter(CountingWriter(out.f), rate)  # writes its header with the first audio
            sink = wav if rate == fmt.SAMPLE_RATE else _Resampled(wav, rate)
            dec = StreamDecoder(reader, model=model, vocoder=vocoder, fixed_point=fixed_point, file=in_name,
                                loss=loss, concealer=concealment)
            for block in dec:
                sink.write(block)
                if progress:
                    progress(reader.n, total)
            if dec.truncated and dec.samples == 0:
                # nothing decodable: keep no (empty) output, report the damage alone
                raise CodecError(f"truncated or damaged stream ({dec.truncated}); nothing could be decoded, "
                                 "no output written", file=in_name)
            if sink is not wav:
                sink.finish()
            wav.close()  # a valid stream with no audio still gets its (empty) WAV
    except MlcodecError as exc:
        raise exc.with_file(in_name)
    finally:
        if close_in:
            close_in.close()
    stats = CodingStats(in_name, stdio.name_of(dst), dec.samples / fmt.SAMPLE_RATE, dec.packets, dec.payload_bytes,
                        reader.n, time.perf_counter() - t0, dec.info.bitrate, dec.info.frame_ms,
                        truncated=dec.truncated is not None, lost_packets=dec.lost,
                        unlevelled_packets=dec.unlevelled,
                        concealed_ms=dec.concealed / (fmt.SAMPLE_RATE / 1000),
                        rebuilt_ms=10.0 * dec.decoder.recovery.rebuilt if dec.decoder.recovery else 0.0)
    if dec.truncated:
        err = CodecError(f"truncated or damaged stream ({dec.truncated}); decoded {stats.duration:.2f} s "
                         f"and kept the output", file=in_name)
        err.stats = stats
        raise err
    return stats
