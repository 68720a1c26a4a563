"""Streaming decoder: Ogg Opus packets -> payloads -> latents -> features -> audio blocks.

Reads formats 3 and 2 (per-packet level, DTX latents: the last coded latent is repeated;
format 3 codes each value in the context of the previous latent of its packet) and format 1.
Missing packets arrive three ways: damage (a bad page CRC, garbage, a packet that does not
decode; the page reader resynchronises on the next intact page, ``containers.resync``), lost
pages (an Ogg granule jump) and simulated loss (a :mod:`mlcodec.codec.loss` model). All three
take the same path, :meth:`Decoder.fill_gap`, called when the packet after the gap arrives (or
at the end): a gap in a DTX pause is bridged with the pause's latent, any other gap is filled
by a :class:`~mlcodec.codec.conceal.Concealer` (default: the neural one) through the vocoder,
so the output length stays exact, and decoding cross-fades back in. Damage is reported once
the stream ends (:attr:`StreamDecoder.truncated`); simulated loss is not damage.

Units: :class:`Decoder` and :class:`StreamDecoder` produce **16 kHz mono float32 samples in
int16 units** (full scale +-32768); the public :func:`mlcodec.decode` returns float [-1, 1].
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.conceal import NB_FEATURES, crossfade, make_concealer
from mlcodec.codec.model_io import load_model, stream_model
from mlcodec.codec.payload import CodingTables, read_payload, read_payload_v2
from mlcodec.codec.vocoders import make_vocoder, vocoder_delay
from mlcodec.errors import CodecError, ContainerError

#: The longest gap (granule jump, missing end) filled with concealment, in 48 kHz granule units
#: (10 min): pages hold at most 10 s, so a longer jump is a damaged granule, not lost pages.
MAX_GAP_48 = 600 * 48000
#: Feature frames (10 ms) over which decoding fades back in after concealment.
CROSSFADE_FRAMES = 4


class Decoder:
    """Streaming decoder of one stream's packets: features and audio (16 kHz, int16 units).

    ``info`` comes from the stream's OpusTags; the model must have the checksum it names
    (CodecError otherwise). ``vocoder`` is an object with ``synthesize(features) -> audio``
    (streaming, stateful), a factory returning one, or a name from
    :data:`mlcodec.codec.vocoders.VOCODERS`; by default ``auto``. ``concealer``: a
    :class:`~mlcodec.codec.conceal.Concealer` for lost packets or a name, ``"neural"`` (the
    default) or ``"repeat"`` (:func:`~mlcodec.codec.conceal.make_concealer`).
    """

    def __init__(self, info: fmt.StreamInfo, model=None, *, vocoder=None, fixed_point: bool = True,
                 concealer=None):
        from mlcodec.codec.model import dequantize

        self.model = stream_model(load_model(model), info.model_name, info.model_checksum)
        fmt.check_model(info, self.model)
        self.info = info
        self.v2 = info.format_version >= 2
        self.nb_levels = int(self.model.nb_levels)
        self.level: int | None = None if self.v2 else info.level
        self._coding: dict[int, CodingTables] = {}
        self._ctx = None
        if info.format_version >= 3:  # previous-symbol contexts (check_model found the tables)
            from mlcodec.codec.contexts import model_contexts

            self._ctx = model_contexts(self.model).level
        self._dequantize = dequantize
        self._net = self.model.new_decoder(max(info.level, 0) if not self.v2 else
                                           self.model.PRESETS.get(fmt.nearest_preset(info.bitrate), 0),
                                           fixed_point=fixed_point)
        preset = fmt.nearest_preset(info.bitrate) if info.bitrate else info.bitrate
        self.vocoder = make_vocoder(vocoder, fixed_point, preset) if vocoder is not False else None
        self.concealer = make_concealer(concealer)
        self.recovery = None  #: feature redundancy received so far (docs/loss.md s5)
        if self.v2 and info.redundancy_ms:
            from mlcodec.codec.feature_redundancy import RecoveryStore

            self.recovery = RecoveryStore(info.frame_ms)
        self._sid: np.ndarray | None = None  # last coded latent (format 2 DTX repeats it)
        self._sid_level = 0
        self._fade = 0  # frames still to cross-fade after a concealment
        self._pause = False  # the last packet read ended in a DTX latent (format 2)
        self.packets_in = 0
        self.payload_bytes = 0
        self.last_levels: np.ndarray = np.zeros(0, np.int32)

    @property
    def tables(self):
        return self.model.quant_tables(self.level if self.level is not None else 0)

    def coding(self, level: int) -> CodingTables:
        t = self._coding.get(level)
        if t is None:
            t = self._coding[level] = CodingTables.from_quant_tables(self.model.quant_tables(level))
        return t

    def read_codes(self, packet: bytes, *, offset: int | None = None) -> np.ndarray:
        """The quantized latents (latents x dims, int) of one packet (a format-2 DTX latent
        repeats the last coded one); :attr:`last_levels` gets their levels."""
        if not self.v2:
            frame_ms, payload = fmt.split_codec_packet(packet, offset=offset)
            q = read_payload(payload, frame_ms // fmt.LATENT_MS, self.coding(self.level), offset=offset)
            self.payload_bytes += len(payload)
        else:
            n, payload = fmt.carrier_payload(packet, offset=offset)
            self._pause = False
            if payload is None:
                rows = [None] * n
            else:
                self.level, rows = read_payload_v2(payload, n, self.coding, level=self.level,
                                                   nb_levels=self.nb_levels, offset=offset,
                                                   ctx_of=self._ctx)
                self.payload_bytes += len(payload)
            if self.level is None:
                raise CodecError("DTX packet before any level is known (after damage)", offset=offset)
            self._pause = rows[-1] is None  # the packet ends in a DTX latent: the stream is in a pause
            q, lv = [], []
            for r in rows:
                if r is not None:
                    self._sid, self._sid_level = r, self.level
                elif self._sid is None:
                    raise CodecError("DTX latent before any coded latent (after damage)", offset=offset)
                q.append(self._sid)
                lv.append(self._sid_level)
            self.packets_in += 1
            self.last_levels = np.array(lv, np.int32)
            return np.stack(q)
        self.packets_in += 1
        self.last_levels = np.full(q.shape[0], self.level, np.int32)
        return np.asarray(q)

    def features_of_codes(self, q: np.ndarray, levels=None) -> np.ndarray:
        """Features (2 per latent, 20 values each) of quantized latents through the decoder
        network (causal and stateful). ``levels``: the quantizer level of each row (default:
        :attr:`last_levels` after :meth:`read_codes`, else the current level); the network is
        conditioned on the packet's level (the last row's)."""
        q = np.asarray(q)
        if levels is None:
            levels = self.last_levels if self.last_levels.shape[0] == q.shape[0] else None
        if levels is None:
            levels = np.full(q.shape[0], self.level if self.level is not None else 0, np.int32)
        levels = np.asarray(levels).reshape(-1)
        z = np.empty(q.shape, np.float32)
        for lv in np.unique(levels):
            m = levels == lv
            z[m] = self._dequantize(q[m], self.model.quant_tables(int(lv)))
        if q.shape[0]:
            self._net.level = int(self.level if self.level is not None else levels[-1])
        return np.asarray(self._net.process(z), dtype=np.float32).reshape(-1, 20)

    def decode_features(self, packet: bytes, *, offset: int | None = None) -> np.ndarray:
        """Features (2 per latent, 20 values each) of one packet (cross-faded in after a
        concealment; the concealer observes them)."""
        feats = self.features_of_codes(self.read_codes(packet, offset=offset))
        if self._fade:
            k = min(self._fade, feats.shape[0])
            feats = crossfade(self.concealer.conceal(k), feats)
            self._fade -= k
        self.concealer.observe(feats)
        return feats

    def fill_gap(self, frames: int, next_packet: bytes | None = None, *, offset: int | None = None,
                 at: int | None = None) -> np.ndarray:
        """Features for ``frames`` missing 10 ms frames from frame ``at``, given the packet after
        the gap (``next_packet``; None at the end). The one place gaps are filled: from the
        redundancy received (:attr:`recovery`) where it covers them, else :meth:`bridge_dtx`
        (a gap in a DTX pause), else :meth:`conceal_features`."""
        frames = int(frames)
        if frames <= 0:
            return np.zeros((0, NB_FEATURES), np.float32)
        if at is not None and self.recovery is not None and self.recovery.covers(int(at), frames):
            self._fade = CROSSFADE_FRAMES
            return self.recovery.rebuild(int(at), frames, self.concealer)
        feats = self.bridge_dtx(frames, next_packet, offset=offset)
        if feats is None:
            feats = self.conceal_features(frames)
        return feats

    def bridge_dtx(self, frames: int, next_packet: bytes | None, *, offset: int | None = None) -> np.ndarray | None:
        """Features of a gap in a DTX pause (format 2: the packet before it ends in a DTX
        latent, or ``next_packet`` is all DTX), decoded as DTX latents. They repeat the last
        coded latent, as the lost DTX packets did: losing packets of a pause gives the no-loss
        output, bit for bit. (Were some lost packets coded, e.g. a speech onset, the concealer
        would have nothing to predict them from either, and the next DTX packet repeats a
        latent we lack anyway.) None when the gap is not in a pause."""
        if not (self.v2 and self._sid is not None and self.level is not None and frames % 2 == 0):
            return None
        if not self._pause:
            try:
                if next_packet is None or fmt.carrier_payload(next_packet, offset=offset)[1] is not None:
                    return None
            except CodecError:
                return None
        n = frames // 2
        feats = self.features_of_codes(np.repeat(self._sid[None, :], n, 0), np.full(n, self._sid_level, np.int32))
        self.concealer.observe(feats)
        return feats

    def conceal_features(self, frames: int) -> np.ndarray:
        """Features for ``frames`` lost 10 ms frames (the concealer's), then fade back in."""
        self._fade = CROSSFADE_FRAMES
        return np.asarray(self.concealer.conceal(int(frames)), np.float32).reshape(-1, NB_FEATURES)

    def synthesize(self, feats: np.ndarray) -> np.ndarray:
        """Audio for features, through the (stateful) vocoder."""
        return np.asarray(self.vocoder.synthesize(feats), dtype=np.float32).reshape(-1)

    def decode_packet(self, packet: bytes, *, offset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features, audio) of one packet; audio is 16 kHz int16-unit float32."""
        feats = self.decode_features(packet, offset=offset)
        return feats, self.synthesize(feats)


def read_stream_head(src: BinaryIO, *, file: str | None = None):
    """(OggOpusReader, StreamInfo) of an mlcodec stream; CodecError/ContainerError when the
    headers are not those of an mlcodec Ogg Opus stream."""
    from mlcodec.containers.detect import PrefixedReader
    from mlcodec.containers.oggopus import read_ogg_opus

    head = read_exact(src, 4)
    if not head:
        raise CodecError("empty input", file=file)
    if head != b"OggS":
        raise CodecError("not an Ogg Opus file (mlcodec decode reads streams made by mlcodec encode)",
                         file=file, offset=0)
    reader = read_ogg_opus(PrefixedReader(head, src), file=file)
    info = fmt.parse_stream_tags(reader.tags.comments)
    if reader.head.channels != 1:
        raise CodecError(f"mlcodec streams are mono, this one has {reader.head.channels} channels", file=file)
    return reader, info


def read_exact(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of ``f``)."""
    out = b""
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            break
        out += b
    return out




def _page_packets(page, pending: list) -> list[tuple[bytes, int]]:
    """(data, offset) of the packets completed on ``page``. ``pending`` carries a packet
    continued across pages: ``[start_offset, piece, ...]`` (emptied or refilled here)."""
    out = []
    base = page.offset + 27 + len(page.segments)
    a = pos = 0
    for v in page.segments:
        pos += v
        if v < 255:
            if pending:
                out.append((b"".join(pending[1:]) + page.body[a:pos], pending[0]))
                pending.clear()
            else:
                out.append((page.body[a:pos], base + a))
            a = pos
    if a < len(page.body) or (page.segments and page.segments[-1] == 255):
        if not pending:
            pending.append(base + a)
        pending.append(page.body[a:])
    return out


class StreamDecoder:
    """Iterate over the trimmed 16 kHz audio blocks (int16 units) of an mlcodec Ogg Opus stream.

    The headers are read on construction (CodecError/ContainerError when the stream is not
    one of ours, or the model does not match). Damage after the headers (a bad page, lost
    pages, a packet that does not decode) is concealed and decoding goes on at the next
    intact page, keeping the output length; a stream that ends early is decoded as far as it
    goes. :attr:`truncated` then names the first problem (``offset N: reason``) and
    :attr:`damage` lists them all, once the iteration ends (the caller decides to report it).
    ``features`` collects each packet's features when ``keep_features`` is set.

    ``loss``: a :mod:`mlcodec.codec.loss` model (``flags(n)``) applied to the audio packets in
    order (headers are never lost): a lost packet is treated as a missing one (its gap is
    filled, the length stays exact) and counted in :attr:`lost`, but it is not damage.
    ``concealer``: as for :class:`Decoder` (default ``"neural"``). :attr:`concealed` counts the
    16 kHz samples of every filled gap.
    """

    def __init__(self, src: BinaryIO, *, model=None, vocoder=None, fixed_point: bool = True,
                 file: str | None = None, keep_features: bool = False, concealer=None, loss=None):
        from mlcodec.containers.detect import PrefixedReader
        from mlcodec.containers.resync import iter_pages_resync

        head = read_exact(src, 4)
        if not head:
            raise CodecError("empty input", file=file)
        if head != b"OggS":
            raise CodecError("not an Ogg Opus file (mlcodec decode reads streams made by mlcodec encode)",
                             file=file, offset=0)
        self.file = file
        self.damage: list[tuple[int, str]] = []
        self._pages = iter_pages_resync(PrefixedReader(head, src), self.damage)
        self.head, self.info, self.serial = self._read_headers()
        self.decoder = Decoder(self.info, model, vocoder=vocoder, fixed_point=fixed_point, concealer=concealer)
        self.samples = 0
        self.packets = 0
        self.concealed = 0  # 16 kHz samples' worth of filled gaps (before trimming)
        self.lost = 0       # audio packets dropped by the loss model
        self.unlevelled = 0  # packets undecodable because a dropped packet carried the first level
        self.loss = loss
        if loss is not None:
            loss.reset()    # every decode draws the model's flags from its first packet
        self.truncated: str | None = None
        self._packet_notes = 0  # damage noted inside packets that arrived (not lost pages)
        self.features: list[np.ndarray] | None = [] if keep_features else None
        self._done = False

    def _read_headers(self):
        from mlcodec.containers.oggopus import HEAD_MAGIC, OpusHead, OpusTags

        serial, head, seq, pending, others = None, None, -1, [], set()
        for page in self._pages:
            if self.damage:
                at, why = self.damage[0]
                raise ContainerError(f"damaged header pages: {why}", file=self.file, offset=at)
            if serial is None:
                if page.serial in others:
                    continue
                if not page.flags & 2:
                    raise ContainerError("first Ogg page is not a BOS page", file=self.file, offset=page.offset)
                body = page.body
                if not body.startswith(HEAD_MAGIC):
                    others.add(page.serial)
                    continue  # another codec's logical stream: skip it
                serial, seq = page.serial, page.sequence
                head = OpusHead.parse(body, file=self.file, offset=page.offset)
                continue
            if page.serial != serial:
                continue
            if page.sequence != seq + 1:
                raise ContainerError("OpusTags page missing", file=self.file, offset=page.offset)
            seq = page.sequence
            done = _page_packets(page, pending)
            if done:
                data, off = done[0]
                tags = OpusTags.parse(data, file=self.file, offset=off)
                info = fmt.parse_stream_tags(tags.comments)
                if head.channels != 1:
                    raise CodecError(f"mlcodec streams are mono, this one has {head.channels} channels",
                                     file=self.file)
                self._seq = seq
                return head, info, serial
        if self.damage:
            at, why = self.damage[0]
            raise ContainerError(why, file=self.file, offset=at)
        raise ContainerError("no Opus logical stream found (no OpusHead/OpusTags)", file=self.file, offset=0)

    @property
    def payload_bytes(self) -> int:
        return self.decoder.payload_bytes

    @property
    def reader(self):  # compatibility: the head as the old reader exposed it
        return self

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._blocks():
            if block.shape[0]:
                self.samples += block.shape[0]
                yield block

    def _note(self, offset, why: str) -> None:
        self.damage.append((offset, why))

    def _note_packet(self, offset, why: str) -> None:  # damage in a packet that arrived
        self._note(offset, why)
        self._packet_notes += 1

    def _page_damage(self) -> int:
        return len(self.damage) - self._packet_notes

    def _units(self):
        """(features, audio) of every packet and filled gap in time order, then ('end', final
        granule or None). With redundancy, decoding runs behind reading (``read_ahead``)."""
        from mlcodec.codec.feature_redundancy import read_ahead

        dec = self.decoder
        per48 = self.info.frame_ms * fmt.GRANULE_PER_SAMPLE * fmt.SAMPLE_RATE // 1000
        events = self._events(per48)
        if dec.recovery is not None:
            events = read_ahead(events, dec, per48, self._note_packet)
        pos = gap = 0       # 48 kHz position of the next audio; missing audio not filled yet
        level_lost = False  # a simulated loss took the packet that would have set the level
        for ev in events:
            kind = ev[0]
            if kind == "final":
                yield ev
            elif kind == "jump":            # lost pages: the next page re-sends the level
                if dec.v2:
                    dec.level = None
                gap, pos = gap + ev[1], pos + ev[1]
            elif kind == "lost":  # only a lost first level leaves it unknown (not damage)
                level_lost = level_lost or (dec.v2 and dec.level is None)
                gap, pos = gap + ev[1], pos + ev[1]
            elif kind == "pkt":
                _, data, off, d, _ = ev
                if gap:
                    yield self._fill(gap, data, off, pos - gap)
                    gap = 0
                pos += d
                try:
                    feats = dec.decode_features(data, offset=off)
                except CodecError as exc:
                    if level_lost and dec.level is None:
                        self.unlevelled += 1  # a consequence of the simulated loss
                    else:
                        self._note_packet(off, exc.reason)
                    gap += d
                else:
                    level_lost = False
                    self.packets += 1
                    if self.features is not None:
                        self.features.append(feats)
                    yield feats, dec.synthesize(feats)
            else:  # end
                if gap:
                    yield self._fill(gap, None, None, pos - gap)
                yield ev

    def _events(self, per48: int):
        """The stream as read: ('pkt', data, offset, dur48, pos48) (arrived), ('lost', dur48)
        (dropped by the loss model), ('jump', dur48) (lost pages), ('final', g), ('end', g)."""
        pos = 0            # 48 kHz timeline position of the next audio
        seq = self._seq
        pending: list = []
        gap_seen = False   # damage since the last page that decoded
        seen_damage = self._page_damage()
        final = None
        other = None
        for page in self._pages:
            if page.serial != self.serial:
                if page.flags & 2 and final is not None and other is None:
                    other = page
                continue
            if final is not None:
                continue
            if self._page_damage() > seen_damage:
                gap_seen = True
                seen_damage = self._page_damage()
            if page.sequence != seq + 1:
                if not gap_seen:
                    self._note(page.offset, f"page sequence jumps from {seq} to {page.sequence} (lost pages)")
                    seen_damage += 1
                gap_seen = True
                pending.clear()
            seq = page.sequence
            if page.flags & 1 and not pending:
                packets = _page_packets(page, [0])[1:]  # drop the tail of a lost packet
            else:
                packets = _page_packets(page, pending)
            durs = []
            for data, _ in packets:
                from mlcodec.containers.oggopus import packet_samples

                durs.append(packet_samples(data) or per48)
            total = sum(durs)
            eos = bool(page.flags & 4)
            if eos:
                start = pos if not gap_seen else pos + per48 * max(0, -(-(page.granule - total - pos) // per48))
                final = page.granule
                yield "final", final
            else:
                start = page.granule - total
            if start - pos > MAX_GAP_48:
                # a granule no lost run of pages explains (e.g. a damaged granule under a good
                # CRC): damage, not a gap to fill with minutes or years of concealment
                self._note(page.offset, f"granule jumps by {(start - pos) / 48000:.0f} s: implausible, not filled")
                seen_damage += 1
            elif start > pos:
                if not gap_seen:
                    self._note(page.offset, f"granule jumps by {(start - pos) / 48:.0f} ms (lost pages)")
                    seen_damage += 1
                yield "jump", start - pos
                pos = start
            gap_seen = False
            lost = self.loss.flags(len(packets)) if self.loss is not None else None
            for i, ((data, off), d) in enumerate(zip(packets, durs)):
                if lost is not None and lost[i]:
                    self.lost += 1
                    yield "lost", d
                else:
                    yield "pkt", data, off, d, pos
                pos += d
        if other is not None:
            self._other = other
        yield "end", final

    def _fill(self, n48: int, next_packet: bytes | None, offset: int | None, at48: int):
        per_frame = fmt.GRANULE_PER_SAMPLE * 160
        frames = max(int(n48) // per_frame, 0)
        feats = self.decoder.fill_gap(frames, next_packet, offset=offset, at=int(at48) // per_frame)
        if self.features is not None:
            self.features.append(feats)
        self.concealed += frames * 160
        return feats, self.decoder.synthesize(feats)

    def _blocks(self) -> Iterator[np.ndarray]:
        if self._done:
            return
        self._done = True
        info, dec = self.info, self.decoder
        g = fmt.GRANULE_PER_SAMPLE
        pre = self.head.pre_skip // g
        # The pre-skip removes the delay the encoder assumed (MLCODEC_DELAY); a vocoder with
        # another delay shifts its output by the difference, keeping the length exact.
        skip = pre + vocoder_delay(dec.vocoder) - info.delay
        if skip < 0:
            yield np.zeros(-skip, np.float32)
            skip = 0
        made = 0  # samples yielded after the skip
        final = None
        self._other = None
        got_audio = False
        try:
            limit = None
            for a, b in self._units():
                if isinstance(a, str):
                    final = b
                    if a == "final":
                        limit = max((final - self.head.pre_skip) // g, 0)
                        continue
                    break
                got_audio = True
                piece = b
                if skip:
                    cut = min(skip, piece.shape[0])
                    piece, skip = piece[cut:], skip - cut
                if limit is not None:
                    piece = piece[:max(limit - made, 0)]
                made += piece.shape[0]
                yield piece
        except (ContainerError, CodecError) as exc:  # pragma: no cover - units conceal their errors
            self._note(exc.offset, exc.reason)
        if final is not None:
            length = max((final - self.head.pre_skip) // g, 0)
            if length - made > MAX_GAP_48 // g:
                self._note(None, f"end granule lies {(length - made) / fmt.SAMPLE_RATE:.0f} s past the audio: "
                                 "implausible, not filled")
            else:
                for i in range(made, length, fmt.SAMPLE_RATE):  # the trimmed end, a second at a time
                    yield np.zeros(min(fmt.SAMPLE_RATE, length - i), np.float32)
        if self.damage:
            at, why = self.damage[0]
            more = f" (and {len(self.damage) - 1} more damaged spans)" if len(self.damage) > 1 else ""
            self.truncated = (why if at is None else f"offset {at}: {why}") + more
            if final is None:
                self.truncated += "; stream ends without its last (EOS) page"
        elif not got_audio:
            self.truncated = "stream has no audio packets"
        elif final is None:
            self.truncated = "stream ends without its last (EOS) page"
        elif self._other is not None:
            o = self._other
            self.truncated = (f"offset {o.offset}: another Opus logical stream (serial {o.serial}) follows; chained "
                              "Ogg files are not supported, only the first stream was decoded")
