"""Ogg Opus (RFC 7845; specs 04 §2-§6): headers (:mod:`.opusheaders`), per-packet granules with pre-skip
and end trimming, a streaming reader and a writer.

Reading yields :class:`OggOpusPacket` records for every Opus logical stream in the input
(several may be multiplexed or chained). Each carries the Ogg packet bytes (for mapping
families 1/255 with several streams, N-1 self-delimited packets then one normal packet:
split them with ``mlcodec.bitstream.packet.split_multistream``), its granule span and the
range of output PCM samples it produces.
"""
from __future__ import annotations

import os
from itertools import accumulate
from operator import itemgetter
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, Mapping, NamedTuple

from mlcodec.containers.ogg import FLAG_BOS, OggStreamWriter, iter_page_packets, iter_pages
from mlcodec.errors import ContainerError

from . import reasons as R
from .opusheaders import (  # noqa: F401 - re-exported: the headers belong to Ogg Opus
    DEFAULT_PRE_SKIP, HEAD_MAGIC, HEAD_SIZE, MAX_TAGS_SIZE, TAGS_MAGIC, VENDOR, OpusHead, OpusTags)

#: Granule unit (specs 04 §5).
RATE = 48000

# Frame duration in 48 kHz samples for each TOC configuration (RFC 6716 §3.1, specs 01 §2.1).
_FRAME_SAMPLES = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4


class _Durations(dict):
    """packet_samples() by a packet's first two bytes (filled on first use: few distinct keys)."""

    def __missing__(self, key: bytes) -> int:
        n = self[key] = packet_samples(key)
        return n


_DURATIONS = _Durations()
_FIRST2 = itemgetter(slice(0, 2))


def packet_samples(data: bytes) -> int:
    """Duration in 48 kHz samples of an Opus packet (TOC + frame count; specs 01 §2, §4).

    Only the first stream's TOC matters for a multistream packet (all share the duration).
    Returns 0 when the bytes cannot tell (empty packet, code 3 without its count byte).
    """
    if not data:
        return 0
    toc = data[0]
    code = toc & 3
    n = _FRAME_SAMPLES[toc >> 3]
    if code == 0:
        return n
    if code != 3:
        return 2 * n
    if len(data) < 2:
        return 0
    return n * (data[1] & 0x3F)


# ---------------------------------------------------------------------------------------------
# Headers


@dataclass(slots=True)
class OggOpusStreamInfo:
    """An Opus logical stream whose headers have been read (``index``: order of its BOS)."""

    serial: int
    index: int
    head: OpusHead
    tags: OpusTags
    head_offset: int | None = None
    packets: int = 0


class OggOpusPacket(NamedTuple):
    """One audio (Ogg) packet with its timing (a NamedTuple: cheap on the hot path).

    ``granule``: granule position at the end of the packet (48 kHz, before end trimming);
    ``samples``: duration from the TOC; ``pcm_start``/``pcm_end``: the output samples (after
    pre-skip and end trimming, 48 kHz) the packet contributes, possibly an empty range;
    ``page_granule``: the page's granule when this is the last packet completed on it.
    """

    stream: OggOpusStreamInfo
    index: int
    data: bytes
    offset: int | None
    page: int
    granule: int
    samples: int
    pcm_start: int
    pcm_end: int
    page_granule: int | None
    eos: bool

    @property
    def serial(self) -> int:
        return self.stream.serial


class _Opus:
    """Per logical stream state of the Ogg Opus layer."""

    __slots__ = ("info", "state", "prev_granule", "audio_index")

    def __init__(self, info: OggOpusStreamInfo):
        self.info = info
        self.state = 0  # 0: waiting for OpusTags, 1: audio
        self.prev_granule: int | None = None  # granule of the previous audio page
        self.audio_index = 0


_NOT_OPUS = object()


def iter_ogg_opus(fileobj: BinaryIO, *, file: str | None = None
                  ) -> Iterator[OggOpusStreamInfo | OggOpusPacket]:
    """Yield an :class:`OggOpusStreamInfo` when a stream's headers are read, then its
    :class:`OggOpusPacket` records, for every Opus logical stream (others are skipped).

    Packets are yielded once the page they end on is complete (their granule is then known:
    RFC 7845 §4 works backwards from the page granule, or forwards on a trimmed EOS page).
    Raises ContainerError (after yielding everything readable) on broken framing or headers.
    """
    for ev in _audio_pages(fileobj, file):
        if type(ev) is OggOpusStreamInfo:
            yield ev
        else:
            yield from _page_packets(*ev, file)


class OggOpusPage(NamedTuple):
    """The audio packets completed on one Ogg page: packet ``index`` of the first, their bytes,
    input offsets and end granules (as in :class:`OggOpusPacket`)."""

    stream: OggOpusStreamInfo
    index: int
    datas: list
    offsets: list
    granules: list


def iter_ogg_opus_pages(fileobj: BinaryIO, *, file: str | None = None
                        ) -> Iterator[OggOpusStreamInfo | OggOpusPage]:
    """:func:`iter_ogg_opus` by page: one :class:`OggOpusPage` per audio page (for bulk
    readers: no per-packet record); same checks, same errors, same order."""
    for ev in _audio_pages(fileobj, file):
        if type(ev) is OggOpusStreamInfo:
            yield ev
            continue
        op, page, _page_index, datas, offsets = ev
        idx = op.audio_index
        durs, ends, _trim, error = _page_timing(op, page, datas)
        yield OggOpusPage(op.info, idx, datas, offsets, ends)
        op.audio_index = idx + len(datas)
        op.info.packets += len(datas)
        op.prev_granule = page.granule
        if error:
            raise R.container_error(*error, file=file, offset=offsets[-1])


def _audio_pages(fileobj: BinaryIO, file):
    """Stream infos (after their headers) and ``(state, page, page_index, datas, offsets)``
    for each audio page of an Opus logical stream."""
    for page, page_index, st, datas, offsets in iter_page_packets(iter_pages(fileobj, file=file),
                                                                  file=file):
        if not datas:
            continue
        op = st.user
        if op is _NOT_OPUS:
            continue
        if op is None or op.state == 0:
            # Header packets (RFC 7845 §3, §5): OpusHead alone on the BOS page, then OpusTags
            # ending a page.
            for k, data in enumerate(datas):
                last = k == len(datas) - 1
                if st.user is None:
                    if not data.startswith(HEAD_MAGIC):
                        st.user = _NOT_OPUS  # not Opus: ignore this logical stream
                        break
                    if not (page.flags & FLAG_BOS) or len(datas) != 1 or st.parts:
                        raise R.container_error(R.C_HEAD_ALONE, file=file, offset=offsets[k])
                    if page.granule != 0:
                        raise R.container_error(R.C_HEAD_GRANULE, page.granule, file=file, offset=offsets[k])
                    head = OpusHead.parse(data, file=file, offset=offsets[k])
                    st.user = _Opus(OggOpusStreamInfo(st.serial, st.index, head, OpusTags(), offsets[k]))
                    continue
                op = st.user
                op.info.tags = OpusTags.parse(data, file=file, offset=offsets[k])
                if not last or st.parts:
                    raise R.container_error(R.C_TAGS_SHARED, file=file, offset=offsets[k])
                op.state = 1
                yield op.info
            continue
        yield op, page, page_index, datas, offsets


def _page_timing(op: _Opus, page, datas: list):
    """(durations, end granules, trim position, error) of the packets completed on one audio
    page (RFC 7845 §4)."""
    info = op.info
    # packet_samples() by the first two bytes, looked up at C speed (the hot path of bulk reads)
    durs = list(map(_DURATIONS.__getitem__, map(_FIRST2, datas)))
    total = sum(durs)
    g = page.granule
    prev = op.prev_granule
    eos = bool(page.flags & 4)
    error = None
    trim_at = None
    if (eos and prev is not None and g < prev + total) or (prev is None and g < total):
        # Forwards: end trimming on the EOS page, or a first page with too small a granule.
        if prev is None:
            if not eos:
                error = (R.G_FIRST, g, total)
            elif g < info.head.pre_skip:
                error = (R.G_PRESKIP, g, info.head.pre_skip)
            else:
                trim_at = g
        else:
            trim_at = g
        ends = list(accumulate(durs, initial=prev or 0))
    else:
        # Backwards from the page granule.
        ends = list(accumulate(durs, initial=g - total))
    del ends[0]
    return durs, ends, trim_at, error


def _page_packets(op: _Opus, page, page_index: int, datas: list, offsets: list, file):
    """The OggOpusPacket records of one audio page (RFC 7845 §4 timing)."""
    info = op.info
    g = page.granule
    eos = bool(page.flags & 4)
    durs, ends, trim_at, error = _page_timing(op, page, datas)
    pre = info.head.pre_skip
    n = len(datas)
    idx = op.audio_index
    last = n - 1
    for i in range(n):
        end = ends[i]
        d = durs[i]
        a = end - d - pre
        if a < 0:
            a = 0
        b = (end if trim_at is None or end < trim_at else trim_at) - pre
        if b < a:
            b = a
        yield OggOpusPacket(info, idx + i, datas[i], offsets[i], page_index, end, d, a, b,
                            g if i == last else None, eos and i == last)
    op.audio_index = idx + n
    info.packets += n
    op.prev_granule = g
    if error:
        raise R.container_error(*error, file=file, offset=offsets[-1])


class OggOpusReader:
    """Head, tags and packet iterator of the first Opus logical stream of an input."""

    def __init__(self, fileobj: BinaryIO, *, file: str | None = None):
        self.file = file
        self._events = iter_ogg_opus(fileobj, file=file)
        self.info: OggOpusStreamInfo | None = None
        for ev in self._events:
            if isinstance(ev, OggOpusStreamInfo):
                self.info = ev
                break
        if self.info is None:
            raise ContainerError("no Opus logical stream found (no OpusHead/OpusTags)", file=file, offset=0)
        #: Other Opus logical streams met while reading (chained or multiplexed), not returned.
        self.other_streams: list[OggOpusStreamInfo] = []

    @property
    def head(self) -> OpusHead:
        return self.info.head

    @property
    def tags(self) -> OpusTags:
        return self.info.tags

    @property
    def serial(self) -> int:
        return self.info.serial

    def packets(self) -> Iterator[OggOpusPacket]:
        """Audio packets of this stream (other logical streams are skipped)."""
        serial = self.info.serial
        for ev in self._events:
            if isinstance(ev, OggOpusPacket):
                if ev.stream.serial == serial:
                    yield ev
            elif isinstance(ev, OggOpusStreamInfo):
                self.other_streams.append(ev)

    def __iter__(self) -> Iterator[OggOpusPacket]:
        return self.packets()


def read_ogg_opus(source: BinaryIO | str | os.PathLike, *, file: str | None = None) -> OggOpusReader:
    """Open an Ogg Opus input: ``.head``, ``.tags`` are read now, ``.packets()`` streams the rest.

    ``source`` is a binary file object (a pipe works) or a path.
    """
    if isinstance(source, (str, os.PathLike)):
        f = open(source, "rb")
        return OggOpusReader(f, file=file or str(source))
    return OggOpusReader(source, file=file)


# ---------------------------------------------------------------------------------------------
# Writing


class OggOpusWriter:
    """Write an Ogg Opus stream (RFC 7845): OpusHead page, OpusTags page(s), audio pages.

    ``write_packet(data, granule=None)``: ``granule`` is the granule position at the end of
    the packet (48 kHz samples, pre-skip included); when omitted it advances by the packet's
    TOC duration. The last packet written goes on the EOS page at :meth:`close`; pass its
    (smaller) granule to trim the end, or ``close(final_granule=...)``. A page is flushed
    when it holds more than ``page_bytes`` bytes or ``max_page_samples`` of audio.
    """

    def __init__(self, fileobj: BinaryIO, *, channels: int = 1, input_sample_rate: int = 16000,
                 pre_skip: int = DEFAULT_PRE_SKIP, serial: int | None = None,
                 tags: Mapping[str, str] | Iterable | OpusTags | None = None, vendor: str = VENDOR,
                 output_gain: int = 0, head: OpusHead | None = None, page_bytes: int = 4096,
                 max_page_samples: int = RATE):
        if head is None:
            if channels not in (1, 2):
                raise ContainerError("OggOpusWriter: pass head=OpusHead(...) for more than 2 channels")
            head = OpusHead.family0(channels, pre_skip=pre_skip, input_sample_rate=input_sample_rate,
                                    output_gain=output_gain)
        self.head = head
        self.tags = tags if isinstance(tags, OpusTags) else OpusTags.from_tags(tags, vendor)
        if serial is None:
            serial = int.from_bytes(os.urandom(4), "little")
        self.serial = serial
        self._ogg = OggStreamWriter(fileobj, serial, page_bytes=page_bytes)
        self._ogg.write_packet(self.head.to_bytes(), 0, flush=True)
        self._ogg.write_packet(self.tags.to_bytes(), 0, flush=True)
        self.granule = 0
        self._page_start = 0
        self._held: tuple[bytes, int] | None = None
        self.max_page_samples = max_page_samples
        self.packets = 0

    def write_packet(self, data: bytes, granule: int | None = None) -> int:
        """Queue one audio packet; returns its end granule."""
        if not data:
            raise ContainerError("a zero-byte Opus packet is malformed in Ogg (RFC 7845 §3)")
        if self._ogg.closed:
            raise ContainerError("write to a closed OggOpusWriter")
        if granule is None:
            granule = self.granule + packet_samples(data)
        elif granule < self.granule and self.packets:
            raise ContainerError(f"granule goes backwards ({granule} < {self.granule})")
        if self._held is not None:
            self._put(*self._held)
        self._held = (bytes(data), granule)
        self.granule = granule
        self.packets += 1
        return granule

    def _put(self, data: bytes, granule: int) -> None:
        flush = granule - self._page_start >= self.max_page_samples
        self._ogg.write_packet(data, granule, flush=flush)
        if flush or not self._ogg._segs:
            self._page_start = granule

    def close(self, final_granule: int | None = None) -> None:
        """Write the last packet on the EOS page (``final_granule`` trims the end)."""
        if self._ogg.closed:
            return
        if self._held is not None:
            data, g = self._held
            self._held = None
            if final_granule is not None:
                g = final_granule
            if g < self.head.pre_skip:
                raise ContainerError(f"final granule {g} is below the pre-skip {self.head.pre_skip} "
                                     "(RFC 7845 §4: no output at all)")
            self._ogg.write_packet(data, g, eos=True)
        else:
            self._ogg.close()

    def __enter__(self) -> "OggOpusWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
