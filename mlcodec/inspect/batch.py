"""The fast path of ``inspect-extensions`` on long inputs: JSON Lines and summaries by batch.

The container readers stream the packets (memory stays flat in the input's length); every
:data:`BATCH` packets go through :func:`.vector.parse_batch` and the packets it does not fully
understand (malformed ones, multistream packets, unusual framings) through the reference
(:mod:`.reference`). The output is the reference's text, which ``tests/test_inspect_batch.py``
checks on every vector stream and on mutated inputs. Inputs of fewer than :data:`MIN_VECTOR`
packets never import numpy (start-up).
"""
from __future__ import annotations

from typing import Iterator

from mlcodec.containers.detect import Input
from mlcodec.containers.reasons import C_NO_OPUS, container_error
from mlcodec.errors import MlcodecError

from .decoders import decode_json, ext_name, has_json, is_versioned
from .reference import EMPTY_LOST, EMPTY_OGG, multistream_reports, records, report_packet
from .report import Summary, SummaryReport, decoded_json, name_json, toc_json

#: Packets per batch, and the smallest batch worth numpy (smaller: the reference, no import).
BATCH = 4096
MIN_VECTOR = 2048


class _Cols:
    """One batch: per-packet columns (``granule``/``serial`` for Ogg, ``frange`` for .bit) and
    the finished reports of multistream packets by position (``special``)."""

    __slots__ = ("datas", "packet", "offset", "granule", "serial", "frange", "special")

    def __init__(self, ogg: bool, bit: bool):
        self.datas: list = []
        self.packet: list = []
        self.offset: list = []
        self.granule = [] if ogg else None
        self.serial = [] if ogg else None
        self.frange = [] if bit else None
        self.special: dict = {}

    def __len__(self) -> int:
        return len(self.datas)


def _batches(inp: Input, ids, max_data) -> Iterator[_Cols]:
    """Batches of about BATCH packets; a container error ends the input after the batch read
    so far has been yielded."""
    ogg, bit = inp.format == "ogg", inp.format == "bit"
    cols = _Cols(ogg, bit)
    try:
        if ogg:
            from mlcodec.containers.oggopus import OggOpusPage, iter_ogg_opus_pages

            seen = False
            for ev in iter_ogg_opus_pages(inp.stream, file=inp.name):
                if type(ev) is not OggOpusPage:
                    seen = True
                    continue
                info, index, datas, offsets, granules = ev
                n = len(datas)
                ns = info.head.stream_count
                if ns != 1:
                    for k in range(n):
                        cols.special[len(cols.datas) + k] = multistream_reports(
                            datas[k], ns, index + k, granules[k], offsets[k], info.serial, ids, max_data)
                cols.datas += datas
                cols.packet += range(index, index + n)
                cols.offset += offsets
                cols.granule += granules
                cols.serial += [info.serial] * n
                if len(cols.datas) >= BATCH:
                    yield cols
                    cols = _Cols(ogg, bit)
            if not seen:
                raise container_error(C_NO_OPUS, file=inp.name, offset=0)
        else:
            for index, offset, data, frange in records(inp):
                cols.datas.append(data)
                cols.packet.append(index)
                cols.offset.append(offset)
                if bit:
                    cols.frange.append(frange)
                if len(cols.datas) >= BATCH:
                    yield cols
                    cols = _Cols(ogg, bit)
    except MlcodecError:
        if len(cols):
            yield cols
        raise
    if len(cols):
        yield cols


def _reports(c: _Cols, k: int, ids, max_data) -> list:
    """Reference report(s) of packet ``k`` of a batch."""
    sp = c.special.get(k)
    if sp is not None:
        return sp
    ogg = c.granule is not None
    return [report_packet(c.datas[k], packet=c.packet[k], stream=0 if ogg else None,
                          offset=c.offset[k], granule=c.granule[k] if ogg else None,
                          serial=c.serial[k] if ogg else None,
                          final_range=c.frange[k] if c.frange is not None else None, ids=ids,
                          max_data=max_data, empty=EMPTY_OGG if ogg else EMPTY_LOST)]


def _vector(c: _Cols):
    """The parsed batch (multistream rows marked not ok), or None for a small batch."""
    if len(c) - len(c.special) < MIN_VECTOR:
        return None
    from .vector import parse_batch

    b = parse_batch(c.datas)
    if c.special:
        b.ok[list(c.special)] = False
        keep = b.ok[b.xrow]
        b.xrow, b.xid, b.xpos, b.xlen = b.xrow[keep], b.xid[keep], b.xpos[keep], b.xlen[keep]
    return b


def _keep(b, ids):
    """Indexes of the batch's extensions whose ID is kept."""
    import numpy as np

    if ids is None:
        return np.arange(b.xid.shape[0])
    keep = np.zeros(128, np.bool_)
    keep[list(ids)] = True
    return np.flatnonzero(keep[b.xid])


def _ext_name_of(b, k: int) -> str:
    eid = int(b.xid[k])
    p = int(b.xpos[k])
    return ext_name(eid, b.joined[p:p + int(b.xlen[k])] if is_versioned(eid) else b"")


def _json_lines(c: _Cols, b, ids, max_data) -> list[str]:
    """One JSON line per report, in input order."""
    out: list[str] = []
    if b is None:
        for k in range(len(c)):
            out += [r.to_json() for r in _reports(c, k, ids, max_data)]
        return out
    import numpy as np

    kx = _keep(b, ids)
    joined = b.joined
    xstr = []
    cut = max_data if max_data is not None else 1 << 62
    names = {}
    for eid, p, ln in zip(b.xid[kx].tolist(), b.xpos[kx].tolist(), b.xlen[kx].tolist()):
        nj = names.get(eid)
        if nj is None:
            if is_versioned(eid):
                nj = name_json(ext_name(eid, joined[p:p + ln]))
            else:
                nj = names[eid] = name_json(ext_name(eid, b""))
        dec = decoded_json(decode_json(eid, joined[p:p + ln], 0)) if has_json(eid) else ""
        xstr.append(f'{{"frame":0,"id":{eid},"name":{nj},"length":{ln},'
                    f'"data":"{joined[p:p + min(ln, cut)].hex()}"{dec}}}')
    n = len(c)
    xcount = np.bincount(b.xrow[kx], minlength=n) if kx.size else np.zeros(n, np.int64)
    xstart = (np.cumsum(xcount) - xcount).tolist()
    ogg = c.granule is not None
    stream = "0" if ogg else "null"
    granules = c.granule if ogg else [None] * n
    tails = ([f',"serial":{s}}}' for s in c.serial] if ogg else
             [f',"final_range":{f}}}' for f in c.frange] if c.frange is not None else ["}"] * n)
    rows = zip(range(n), b.ok.tolist(), c.packet, c.offset, granules, tails, b.toc.tolist(),
               b.count.tolist(), b.flen.tolist(), b.pad.tolist(), xstart, xcount.tolist())
    for k, ok, packet, offset, granule, tail, toc, cnt, fl, pad, xa, xn in rows:
        if not ok:
            out += [r.to_json() for r in _reports(c, k, ids, max_data)]
            continue
        out.append(
            f'{{"packet":{packet},"stream":{stream},"offset":{"null" if offset is None else offset},'
            f'"granule":{"null" if granule is None else granule},"toc":{toc_json(toc)},'
            f'"frames":[{fl if cnt == 1 else ",".join([str(fl)] * cnt)}],"padding":{pad},'
            f'"extensions":[{",".join(xstr[xa:xa + xn]) if xn else ""}],"error":null{tail}')
    return out


def _summarize(c: _Cols, b, ids, summ: Summary) -> None:
    """Add a batch's reports to ``summ`` (names from each ID's first occurrence)."""
    if b is None:
        for k in range(len(c)):
            for r in _reports(c, k, ids, None):
                summ.add(r)
        return
    import numpy as np

    kx = _keep(b, ids)
    xid = b.xid[kx]
    # the first occurrence (row) of each ID not named yet, merged with the reference rows
    events = [(r, 0, 0) for r in np.flatnonzero(~b.ok).tolist()]
    cnt = np.bincount(xid, minlength=128) if kx.size else None
    if kx.size and any(i not in summ.by_id for i in np.flatnonzero(cnt).tolist()):
        uid, first = np.unique(xid, return_index=True)
        for eid, f in zip(uid.tolist(), first.tolist()):
            if eid not in summ.by_id:
                events.append((int(b.xrow[kx[f]]), 1, int(kx[f])))
    for k, named, xk in sorted(events):
        if named:
            summ.name(int(b.xid[xk]), _ext_name_of(b, xk))
        else:
            for r in _reports(c, k, ids, None):
                summ.add(r)
    okrows = np.flatnonzero(b.ok)
    by_id = {}
    rows_with = 0
    if kx.size:
        nb = np.bincount(xid, weights=b.xlen[kx], minlength=128)
        by_id = {int(i): (int(cnt[i]), int(nb[i])) for i in np.flatnonzero(cnt)}
        xrow = b.xrow[kx]  # sorted: count the changes of row
        rows_with = int(np.count_nonzero(xrow[1:] != xrow[:-1])) + 1
    summ.add_counts(int(okrows.size), int(b.pad[okrows].sum()), rows_with, by_id,
                    {0: int(kx.size)} if kx.size else {})
    if kx.size and has_json(126):
        _summarize_dred(b, kx, summ)


def _summarize_dred(b, kx, summ: Summary) -> None:
    """The DRED objects of the batch's error-free packets, per packet, into ``summ``
    (vector rows are frame-0 extensions: frame offset 0)."""
    sel = kx[b.xid[kx] == 126]
    rows: dict = {}
    for k in sel.tolist():
        p, ln = int(b.xpos[k]), int(b.xlen[k])
        rows.setdefault(int(b.xrow[k]), []).append(decode_json(126, b.joined[p:p + ln], 0)[1])
    for r in sorted(rows):
        summ.add_dred(rows[r])


def iter_json(inp: Input, *, ids=None, max_data: int | None = None,
              summary: Summary | None = None) -> Iterator[str]:
    """The JSON Lines of every packet report, as text chunks of whole lines (each ends in a
    newline); with ``summary``, the reports are also counted there. A broken container
    raises after the chunk of everything before it."""
    idset = frozenset(ids) if ids else None
    for c in _batches(inp, idset, max_data):
        b = _vector(c)
        lines = _json_lines(c, b, idset, max_data)
        if summary is not None:
            _summarize(c, b, idset, summary)
        lines.append("")
        yield "\n".join(lines)


def summarize(inp: Input, *, ids=None) -> tuple[SummaryReport, MlcodecError | None]:
    """The summary of every packet report, and the container error that ended the input (or
    None): a broken container still gives the counts of everything before the break."""
    idset = frozenset(ids) if ids else None
    summ = Summary()
    try:
        for c in _batches(inp, idset, None):
            _summarize(c, _vector(c), idset, summ)
    except MlcodecError as exc:
        return summ.report(), exc
    return summ.report(), None
