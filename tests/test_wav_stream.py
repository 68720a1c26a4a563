"""The sequential WAV parser (stdin): chunk sizes from the stream never decide memory."""
import io
import struct

import numpy as np
import pytest

from mlcodec.errors import AudioError
from mlcodec.io.wav import MAX_FMT_CHUNK, wav_stream


class Zeros(io.RawIOBase):
    """A stream of `head` then `n` zero bytes then `tail`, generated as read; records the largest read."""

    def __init__(self, head: bytes, n: int, tail: bytes):
        self.parts, self.n, self.tail, self.largest = head, n, tail, 0

    def read(self, k=-1):
        k = 1 << 20 if k is None or k < 0 else k
        self.largest = max(self.largest, k)
        if self.parts:
            out, self.parts = self.parts[:k], self.parts[k:]
            return out
        if self.n:
            m = min(k, self.n)
            self.n -= m
            return bytes(m)
        out, self.tail = self.tail[:k], self.tail[k:]
        return out


def fmt_chunk(rate=16000):
    return b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)


def test_big_unknown_chunk_is_skipped_not_held():
    pcm = (np.arange(320, dtype=np.int16) * 50).tobytes()
    big = 200 << 20  # 200 MB LIST chunk: must stream past, not into memory
    head = b"RIFF\xff\xff\xff\xffWAVE" + fmt_chunk() + b"LIST" + struct.pack("<I", big)
    tail = b"data" + struct.pack("<I", len(pcm)) + pcm
    src = Zeros(head[12:], big, tail)
    out = list(wav_stream(src, head[:12], "x.wav"))
    rate, audio = out[0][0], np.concatenate([c for _, c in out])
    assert rate == 16000 and len(audio) == 320
    assert np.allclose(audio * 32768, np.arange(320) * 50)
    assert src.largest <= 1 << 20


def test_huge_fmt_chunk_is_refused_in_one_line():
    head = b"RIFF\xff\xff\xff\xffWAVE" + b"fmt " + struct.pack("<I", 0xFFFFFF00)
    with pytest.raises(AudioError, match="fmt chunk of") as e:
        list(wav_stream(Zeros(head[12:], 0, b""), head[:12], "x.wav"))
    assert "\n" not in str(e.value) and str(MAX_FMT_CHUNK) in str(e.value)


def test_truncated_unknown_chunk_names_it():
    head = b"RIFF\xff\xff\xff\xffWAVE" + fmt_chunk() + b"junk" + struct.pack("<I", 1000) + bytes(10)
    with pytest.raises(AudioError, match="truncated 'junk' chunk"):
        list(wav_stream(Zeros(head[12:], 0, b""), head[:12], "x.wav"))
