"""WAV audio on streams: a RIFF/WAVE reader that decodes as bytes arrive (``encode - ...``
from a pipe), any soundfile-readable input as 16 kHz chunks, and a streaming 16-bit writer."""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import read_exact
from mlcodec.errors import AudioError


#: Largest fmt chunk accepted (WAVE_FORMAT_EXTENSIBLE is 40 bytes); a bigger one is hostile.
MAX_FMT_CHUNK = 1 << 16


def wav_stream(f: BinaryIO, head: bytes, name: str) -> Iterator[tuple[int, np.ndarray]]:
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

    def skip(n: int) -> bool:
        """Drop n bytes after the parsed head without holding them (memory stays flat)."""
        nonlocal pos
        del buf[:pos]
        pos = 0
        if len(buf) >= n:
            del buf[:n]
            return True
        n -= len(buf)
        buf.clear()
        while n > 0:
            b = f.read(min(n, 1 << 16))
            if not b:
                return False
            n -= len(b)
        return True

    pos = 12
    fmt_info = None
    while True:
        if not need(pos + 8):
            raise bad("no data chunk")
        cid, size = bytes(buf[pos:pos + 4]), struct.unpack_from("<I", buf, pos + 4)[0]
        pos += 8
        if cid == b"fmt ":
            if size > MAX_FMT_CHUNK:
                raise bad(f"fmt chunk of {size} bytes (at most {MAX_FMT_CHUNK})")
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
        if not skip(size + (size & 1)):
            raise bad(f"truncated {cid.decode('latin-1')!r} chunk")
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

    A path is read in blocks (:func:`mlcodec.io.blocks.open_blocks`): memory stays flat in its
    length. A stream (stdin) starting with a RIFF/WAVE header is decoded as it arrives, so
    ``encode - out.opus`` streams; any other stream is spooled to a temporary file first
    (soundfile needs to seek), then read in blocks. ``chunk`` is kept for callers; blocks are
    :data:`mlcodec.io.blocks.BLOCK_FRAMES` long.
    """
    import tempfile

    from mlcodec.dsp.audio import INT16_SCALE, MIN_SAMPLES
    from mlcodec.io.blocks import open_blocks

    name = file or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<stream>")
    if isinstance(source, (str, os.PathLike)):
        return open_blocks(source, file=name)
    head = read_exact(source, 12)
    if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        def gen():
            import soxr

            rs = None
            total = 0
            for rate, v in wav_stream(source, head, name):
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
    # Not WAV: spool to memory up to 16 MiB, to a temporary file beyond (flat memory for a
    # piped FLAC/Ogg of any length), then read it in blocks like a path.
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)
    try:
        spool.write(head)
        while True:
            try:
                b = source.read(1 << 20)
            except (OSError, ValueError) as exc:
                raise AudioError(f"cannot read audio: {exc}", file=name) from None
            if not b:
                break
            spool.write(b)
        if spool.tell() == 0:
            raise AudioError("empty input", file=name)
        spool.seek(0)
        fmt.refuse_ogg_input(spool.read(64), file=name)  # an Opus stream on stdin is not audio
        spool.seek(0)
        return open_blocks(spool, file=name)
    except BaseException:
        spool.close()
        raise


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

        if len(x):
            if not self._started:
                self._header()
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
