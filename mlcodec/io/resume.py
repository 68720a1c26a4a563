"""Reproducible and resumable encodes: the settings digest, the content-derived Ogg serial, and
the proof that an existing output is complete and was made with the same settings.

* **Settings digest** (:func:`settings_digest`): 16 hex digits of SHA-256 over the mlcodec
  version, the format version, the model checksum, the preset, the packet duration and the
  arithmetic (int8 or float). Every encode writes it as the OpusTags comment
  ``MLCODEC_SETTINGS=<digest>`` (37 bytes per file).
* **Serial** (:func:`content_serial`): RFC 7845 leaves the serial to the encoder; ours is 32
  bits of SHA-256 over the settings digest and the first :data:`SERIAL_SECONDS` of the 16 kHz
  input (rounded to int16), so the same input and settings give the same bytes, whatever the
  file is called or where it lives. Only that first block is held (640 KB at most); the rest
  streams, and a pipe works the same way. Inputs that share their first 10 s and settings
  share a serial; that is harmless for separate files (a serial only has to be unique within
  one physical Ogg stream).
* **Complete** (:func:`output_status`): every page of the file has a valid CRC, one serial,
  consecutive sequence numbers from 0, the last page carries EOS and ends the file, and the
  OpusTags hold our digest. A partial (killed, truncated) or foreign file does not count.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Iterable, Iterator

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.errors import MlcodecError

#: OpusTags comment that carries :func:`settings_digest`.
SETTINGS_TAG = "MLCODEC_SETTINGS"
#: Seconds of input (16 kHz) hashed into the default serial.
SERIAL_SECONDS = 10


def settings_digest(model, bitrate: str, frame_ms: int, fixed_point: bool, mode: str = "vbr",
                    redundancy_ms: int = 0) -> str:
    """16 hex digits naming everything besides the audio that shapes an encode's bytes."""
    from mlcodec import __version__

    key = {"mlcodec": __version__, "format": fmt.FORMAT_VERSION, "model": str(model.checksum),
           "bitrate": str(bitrate), "frame_ms": int(frame_ms), "fixed_point": bool(fixed_point),
           **({} if mode == "vbr" else {"mode": str(mode)}),
           **({"redundancy_ms": int(redundancy_ms)} if redundancy_ms else {})}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def settings_tag(digest: str) -> str:
    return f"{SETTINGS_TAG}={digest}"


def content_serial(chunks: Iterable[np.ndarray], digest: str,
                   seconds: float = SERIAL_SECONDS) -> tuple[Iterator[np.ndarray], int]:
    """(the same chunks, serial): reads up to ``seconds`` of 16 kHz int16-unit chunks, hashes
    them (rounded to int16) with ``digest``, and gives back an iterator over everything read."""
    from mlcodec.dsp.audio import to_int16

    it = iter(chunks)
    held: list[np.ndarray] = []
    h = hashlib.sha256(b"mlcodec-serial\0" + digest.encode() + b"\0")
    want = int(seconds * fmt.SAMPLE_RATE)
    got = 0
    for x in it:
        held.append(x)
        take = x[: max(want - got, 0)]
        h.update(to_int16(take).astype("<i2").tobytes())
        got += x.shape[0]
        if got >= want:
            break
    serial = int.from_bytes(h.digest()[:4], "little")

    def chained() -> Iterator[np.ndarray]:
        while held:
            yield held.pop(0)
        yield from it

    return chained(), serial


def output_status(path: "str | os.PathLike", digest: str) -> str | None:
    """None when ``path`` is a complete mlcodec stream made with settings ``digest``; else
    the reason it does not count ("missing", "no EOS page", "other settings", ...)."""
    from mlcodec.containers.ogg import iter_packets, iter_pages
    from mlcodec.containers.oggopus import OpusTags

    if not os.path.isfile(path):
        return "missing"
    pages = []

    def tracked():
        for p in iter_pages(f, file=os.fspath(path)):
            pages.append((p.serial, p.sequence, p.eos, p.bos))
            yield p

    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            comments = None
            for i, pkt in enumerate(iter_packets(tracked(), file=os.fspath(path))):
                if i == 1:
                    comments = OpusTags.parse(bytes(pkt.data)).comments
            end = f.tell()
    except (MlcodecError, OSError, ValueError) as exc:
        return f"damaged ({getattr(exc, 'reason', exc)})"
    if not pages:
        return "empty"
    if end != size:  # pragma: no cover - iter_pages reads to the end or raises
        return "trailing bytes"
    if not pages[0][3] or len({p[0] for p in pages}) != 1:
        return "not a single Ogg stream"
    if [p[1] for p in pages] != list(range(len(pages))):
        return "pages missing"
    if not pages[-1][2]:
        return "no EOS page (incomplete)"
    if comments is None:
        return "no OpusTags"
    want = settings_tag(digest)
    if want not in comments:
        return "made with other settings" if any(c.startswith(SETTINGS_TAG + "=") for c in comments) \
            else "not made by this mlcodec encode (no settings tag)"
    return None
