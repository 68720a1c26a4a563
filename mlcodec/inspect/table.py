"""The bulk scanner's result: :class:`PacketTable`, every packet of an input as numpy columns.

:func:`scan` runs a walker (:mod:`.walk_ogg`, :mod:`.walk_bit`) over a whole input held in
memory and the framing kernels (:mod:`.kernels`) over its packet rows. Its reference twin is
the per-packet path (:mod:`.reference`); ``tests/test_fastscan.py`` checks that both give the
same packets, verdicts, error codes and offsets, extensions and container errors.

Malformed packets get an error code per row (never an exception); a broken container stops
the scan and is returned as ``PacketTable.container_error`` (a :class:`ContainerError` with the
offset) together with every packet before it - the same packets the reference yields.
Importing this module imports numba (about 150 MB and 0.3 s); the CLI does not use it.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from mlcodec.errors import ContainerError, MlcodecError

from .kernels import parse_rows


@dataclass(frozen=True)
class PacketTable:
    """All packets of an input, one row per Opus (stream) packet, as numpy arrays.

    ``pos`` is a virtual position: below ``len(buf)`` in the input, else in ``side`` (Ogg
    packets continued across pages, joined); ``offset`` is the input offset of the first byte.
    ``packet`` is the packet index of the logical stream / record, ``stream`` the stream
    inside a multistream packet. ``granule`` (Ogg: end granule, RFC 7845 s4) and
    ``final_range`` (.bit) are 0 where not applicable. ``toc``/``code`` are -1 for an empty
    packet. ``frame_count``, ``padding_len``, ``frames`` are 0/empty on a framing error.
    ``error`` (0 = fine, codes of :mod:`mlcodec.bitstream.reasons`) with ``error_offset`` counted from the
    packet's first byte (framing and extension errors alike). Extensions of row i are
    ``ext_*[ext_start[i]:ext_start[i] + ext_count[i]]`` (bitstream order; partial on error).
    ``container_error``: the broken-container error that ended the scan, or None.
    """

    fmt: str
    buf: np.ndarray
    side: np.ndarray
    packet: np.ndarray
    stream: np.ndarray
    serial: np.ndarray
    offset: np.ndarray
    pos: np.ndarray
    length: np.ndarray
    granule: np.ndarray
    final_range: np.ndarray
    toc: np.ndarray
    code: np.ndarray
    frame_count: np.ndarray
    frame_start: np.ndarray
    frames: np.ndarray
    padding_len: np.ndarray
    padding_pos: np.ndarray
    error: np.ndarray
    error_offset: np.ndarray
    ext_start: np.ndarray
    ext_count: np.ndarray
    ext_packet: np.ndarray
    ext_frame: np.ndarray
    ext_id: np.ndarray
    ext_offset: np.ndarray
    ext_length: np.ndarray
    streams: tuple = ()
    container_error: MlcodecError | None = None
    name: str | None = field(default=None)
    #: rows were read with RFC 6716 Appendix B framing (``scan_packets(self_delimited=True)``)
    self_delimited: bool = False

    def __len__(self) -> int:
        return int(self.packet.shape[0])

    def _bytes(self, vpos: int, n: int) -> bytes:
        nb = self.buf.shape[0]
        if vpos < nb:
            return self.buf[vpos:vpos + n].tobytes()
        return self.side[vpos - nb:vpos - nb + n].tobytes()

    def packet_bytes(self, i: int) -> bytes:
        """The bytes of row ``i`` (for a multistream stream: that stream's packet)."""
        return self._bytes(int(self.pos[i]), int(self.length[i]))

    def frame_lengths(self, i: int) -> list[int]:
        a = int(self.frame_start[i])
        return self.frames[a:a + int(self.frame_count[i])].tolist()

    def ext_payload(self, k: int) -> bytes:
        """Payload bytes of flattened extension ``k``."""
        return self._bytes(int(self.ext_offset[k]), int(self.ext_length[k]))

    def extensions(self, i: int) -> list[tuple[int, int, bytes]]:
        """(frame, id, payload) of row ``i`` in bitstream order."""
        a = int(self.ext_start[i])
        return [(int(self.ext_frame[k]), int(self.ext_id[k]), self.ext_payload(k))
                for k in range(a, a + int(self.ext_count[i]))]


def _as_array(buf) -> np.ndarray:
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise ContainerError("scan() needs a 1-D uint8 array or bytes")
        return np.ascontiguousarray(buf)
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return np.frombuffer(buf, np.uint8)
    raise ContainerError(f"scan() needs bytes or a uint8 array, not {type(buf).__name__}")


def _detect(arr: np.ndarray) -> str:
    """Format by content, with the same rules as ``open_input`` (containers/detect.py)."""
    from mlcodec.containers.detect import open_input

    with open_input(io.BytesIO(arr[:1 << 17].tobytes()) if arr.shape[0] > (1 << 17)
                    else io.BytesIO(arr.tobytes())) as inp:
        return inp.format


def scan(buf, fmt: str = "auto", *, file: str | None = None, check_crc: bool = True) -> PacketTable:
    """Scan a whole Ogg Opus (``"ogg"``) or opus_demo (``"bit"``) input into a PacketTable.

    ``fmt="auto"`` detects by content (like ``open_input``). Never raises on bad packets;
    a broken container ends the scan with ``container_error`` set. Raises ContainerError
    only for an unknown/unsupported format or unrecognisable input.
    """
    arr = _as_array(buf)
    if fmt == "auto":
        fmt = _detect(arr)
    if fmt == "ogg":
        from .walk_ogg import scan_ogg

        return scan_ogg(arr, file, check_crc)
    if fmt == "bit":
        from .walk_bit import scan_bit

        return scan_bit(arr, file)
    raise ContainerError(f"fast scan supports the ogg and bit formats, not {fmt!r}", file=file)


def scan_packets(packets, *, self_delimited: bool = False) -> PacketTable:
    """Scan a list of bare packets (one row each; ``offset`` = position in their concatenation)."""
    datas = [bytes(p) for p in packets]
    arr = np.frombuffer(b"".join(datas), np.uint8) if datas else np.zeros(0, np.uint8)
    n = len(datas)
    rows = np.zeros((n, 8), np.int64)
    lens = np.array([len(d) for d in datas], np.int64)
    if n > 1:
        rows[1:, 0] = np.cumsum(lens)[:-1]
    rows[:, 1] = lens
    rows[:, 2] = rows[:, 0]
    rows[:, 3] = np.arange(n)
    rows[:, 4] = -1
    rows[:, 7] = 1
    return finish("packets", arr, np.zeros(0, np.uint8), rows, n, self_delimited, (), None, None)


def finish(fmt, arr, side, rows, nin, sd, streams, cerr, name) -> PacketTable:
    data = arr if side.shape[0] == 0 else np.concatenate((arr, side))
    cols, frames, ext = parse_rows(data, rows, nin, sd)
    (packet, stream, serial, offset, pos, length, granule, frange, toc, code, fcount, fstart,
     padlen, padpos, error, erroff, xstart, xcount) = cols
    # Extension errors are found inside the area; report them from the packet's first byte, as
    # mlcodec.inspect does (parse_extensions with base_offset = the padding offset).
    ext_err = (error >= 32) & (error < 48)
    if ext_err.any():
        erroff = erroff.copy()
        erroff[ext_err] += (padpos[ext_err] - pos[ext_err]).astype(erroff.dtype)
    return PacketTable(
        fmt=fmt, buf=arr, side=side, packet=packet, stream=stream, serial=serial, offset=offset,
        pos=pos, length=length, granule=granule, final_range=frange, toc=toc, code=code,
        frame_count=fcount, frame_start=fstart, frames=frames, padding_len=padlen,
        padding_pos=padpos, error=error, error_offset=erroff, ext_start=xstart, ext_count=xcount,
        ext_packet=ext[0], ext_frame=ext[1], ext_id=ext[2], ext_offset=ext[3], ext_length=ext[4],
        streams=streams, container_error=cerr, name=name, self_delimited=bool(sd))



    rows, nr, err, ea = _bit_walk(arr)
