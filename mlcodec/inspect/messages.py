"""Messages and counts of a :class:`~.table.PacketTable`, from the shared code tables.

The kernels store an error code (:mod:`mlcodec.bitstream.reasons`) and offset per row; the
one-line message with its numbers is the reference parser's, obtained by re-reading that
row's bytes (errors are rare, so this costs nothing on the bulk path and cannot drift).
"""
from __future__ import annotations

import numpy as np

from mlcodec.bitstream.extensions import parse_extensions
from mlcodec.bitstream.packet import parse_packet, split_multistream
from mlcodec.bitstream.reasons import MS_FLAG, ZERO_BYTE, kind, reason
from mlcodec.errors import MlcodecError

from .decoders import ext_name, is_versioned
from .kernels import summarize
from .reference import EMPTY_LOST, EMPTY_OGG, error_text
from .report import IdCount, SummaryReport
from .table import PacketTable

error_kind = kind


def error_message(t: PacketTable, i: int) -> str | None:
    """The row's ``error`` string, exactly as the reference report has it, or None."""
    e = int(t.error[i])
    if not e:
        return None
    if e == ZERO_BYTE:
        return EMPTY_OGG if t.fmt == "ogg" else EMPTY_LOST
    what = kind(e)
    try:
        if what == "extensions":
            start = int(t.padding_pos[i])
            parse_extensions(t._bytes(start, int(t.padding_len[i])), int(t.frame_count[i]),
                             base_offset=start - int(t.pos[i]))
        elif what == "multistream packet":
            ns = {s.serial: s.head["stream_count"] for s in t.streams}.get(int(t.serial[i]), 1)
            split_multistream(t.packet_bytes(i), ns)
        else:
            parse_packet(t.packet_bytes(i), self_delimited=t.self_delimited)
    except MlcodecError as exc:
        if getattr(exc, "num", e) == e:
            return error_text(exc, what)
    # not reproduced by the reference (a defect): the code's reason without its numbers
    return f"{what}: {reason(e & ~MS_FLAG)} at byte {int(t.error_offset[i])}"


def summary(t: PacketTable, ids=None) -> SummaryReport:
    """Counts per extension ID and per frame, as the reference ``Summary`` over every report."""
    keep = np.ones(128, np.bool_)
    if ids:
        keep[:] = False
        for i in ids:
            if 0 <= int(i) < 128:
                keep[int(i)] = True
    cnt, nbytes, first, per_frame, rows_with = summarize(
        t.ext_packet, t.ext_frame, t.ext_id, t.ext_length, keep)
    by_id = []
    for u in np.flatnonzero(cnt).tolist():
        k = int(first[u])
        by_id.append(IdCount(u, ext_name(u, t.ext_payload(k) if is_versioned(u) else b""),
                             int(cnt[u]), int(nbytes[u])))
    by_frame = tuple((f, int(c)) for f, c in enumerate(per_frame.tolist()) if c)
    return SummaryReport(len(t), int(np.count_nonzero(t.error)), int(t.padding_len.sum()),
                         int(rows_with), tuple(by_id), by_frame)
