"""Streaming encoder (format 2): 16 kHz audio -> features -> latents -> DTX, level choice ->
payloads -> carrier/DTX packets -> Ogg Opus.

Encoding (docs/codec.md): LPCNet features (``mlcodec.dsp.features``, specs 07) -> the model's
encoder, one latent per 20 ms -> DTX gate (``ratecontrol.DtxGate``) -> quantizer level per
packet (two-pass for files, a leaky bucket for pipes, or CBR: ``ratecontrol``) -> one range-coded
payload per packet (``payload.write_payload_v2``) in the extension area of a carrier of
zero-length CELT frames (``format.build_codec_packet``) or a 1-2 byte DTX packet -> Ogg pages
of about 2.4 s. ``--bitrate R`` is a whole-file target: bytes x 8 / duration <= R.

Units: :class:`Encoder` and :func:`encode_stream` take **16 kHz mono float samples in int16
units** (full scale +-32768). Format 1 is written by :mod:`mlcodec.codec.encoder_v1`.
"""
from __future__ import annotations

import io
from typing import BinaryIO, Callable, Iterable

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec import ratecontrol as rc
from mlcodec.codec.model_io import encoder_model, load_model
from mlcodec.codec.payload import CodingTables, write_payload_v2
from mlcodec.codec.rows import RowBuffer
from mlcodec.codec.vocoders import codec_delay
from mlcodec.errors import AudioError, CodecError

#: Rate-control modes: ``vbr`` (two-pass when the whole input is at hand, else a leaky
#: bucket), ``cbr`` (every packet the same size, no DTX).
MODES = ("vbr", "cbr")
#: OpusHead output gain (Q7.8 dB): -128 dB, a second layer of silence for players that apply
#: it (RFC 7845 s5.1; research s1). The mlcodec decoder ignores it.
OUTPUT_GAIN = -32768


class Encoder:
    """Streaming encoder: :meth:`process` 16 kHz int16-unit samples, then :meth:`flush`.

    Both return complete Opus packets; with ``two_pass`` every packet comes from
    :meth:`flush` (the level choice needs the whole input). ``header_bytes`` (the Ogg header
    pages' size) lets the rate control charge them to the target.
    """

    def __init__(self, model=None, *, bitrate: str = fmt.DEFAULT_BITRATE, frame_ms: int = fmt.DEFAULT_FRAME_MS,
                 fixed_point: bool = True, delay: int | None = None, mode: str = "vbr", two_pass: bool = False,
                 dtx: bool = True, header_bytes: int = 0, format_version: int = fmt.FORMAT_VERSION,
                 redundancy_ms: int = 0):
        from mlcodec.codec.contexts import model_contexts
        from mlcodec.codec.model import FRAMES_PER_LATENT
        from mlcodec.dsp.features import FeatureExtractor

        if FRAMES_PER_LATENT * 10 != fmt.LATENT_MS:  # pragma: no cover - model contract
            raise CodecError(f"model has {FRAMES_PER_LATENT} frames per latent; the format needs 2")
        if mode not in MODES:
            raise CodecError(f"unknown rate-control mode {mode!r} (choose {', '.join(MODES)})")
        self.target_bps = fmt.parse_bitrate(bitrate)
        self.model = encoder_model(load_model(model), self.target_bps)
        self.bitrate = fmt.bitrate_name(self.target_bps)
        self.frame_ms = int(frame_ms)
        self.latents_per_packet = fmt.latents_per_packet(self.frame_ms)
        self.per_page = fmt.packets_per_page(self.frame_ms)
        self.mode = mode
        self.redundancy_ms = int(redundancy_ms)
        self._red = None
        self._shadow = None  # a decoder of the primary packets, for the redundancy's features
        if self.redundancy_ms:
            from mlcodec.codec.feature_redundancy import RedundancyWriter

            if mode == "cbr":
                raise CodecError("redundancy needs VBR rate control (CBR packets all have the same size)")
            self._red = RedundancyWriter(self.redundancy_ms, self.frame_ms)
        self.two_pass = bool(two_pass) and mode == "vbr"
        self.nb_levels = int(self.model.nb_levels)
        self.fixed_point = fixed_point
        self._net = self.model.new_encoder(fixed_point=fixed_point)
        self._fx = FeatureExtractor(pitch=getattr(self.model, "feature_pitch", "classic"))
        self.delay = codec_delay() if delay is None else int(delay)
        self.header_bytes = int(header_bytes)
        self._gate = rc.DtxGate(enabled=dtx and mode == "vbr")
        # format 3 when the model has context tables (the shipped one does), else format 2
        self._ctx = model_contexts(self.model) if format_version >= 3 else None
        self.format_version = 3 if self._ctx is not None else fmt.FORMAT_V2
        #: format 3 re-sends the level every LEVEL_REFRESH_MS (a receiver that lost the packet
        #: with the level symbol, or the stream's first, waits at most that long)
        self._refresh = fmt.level_refresh_packets(self.frame_ms) if self._ctx is not None else 0
        self._since_level = 0  # packets since the last one with a level symbol
        self._costs = rc.CostModel(self.model, ctx=self._ctx)
        #: format 3 two-pass VBR: when the coarsest levels still overrun the target, latents that
        #: change little are sent as repeats (ratecontrol.plan_repeats); format 2 keeps its bytes
        self.repeats = self.format_version >= 3 and dtx and mode == "vbr"
        #: the quantizer's rounding threshold (0.5; raised by the two-pass plan of format 3)
        self._threshold = 0.5
        self._coding = {}
        self._frames = np.zeros((0, 20), dtype=np.float32)
        self._samples = np.zeros(0, np.float32)   # input not yet assigned to a latent
        # latents awaiting a packet (or pass 2) and their input levels, compact: a 1 h file
        # holds 180 000 of each until pass 2 (docs/batch.md)
        self._z = RowBuffer(self.model.latent_dim, np.float32)
        self._db = RowBuffer(None, np.float64)
        self._coded: list[bool] = []               # DTX decisions made so far (one pass)
        self._bucket = rc.LeakyBucket(self.target_bps, self.frame_ms, self.header_bytes, self.nb_levels)
        self._level = self.model.PRESETS.get(fmt.nearest_preset(self.bitrate), self.nb_levels // 2)
        self._sent_level: int | None = None
        self.samples_in = 0
        self.packets_out = 0
        self.payload_bytes = 0
        self.packet_bytes = 0
        #: Bytes the redundancy adds to the packets (extension payloads and framing).
        self.redundancy_bytes = 0
        self._primary_len = 0
        self.dtx_latents = 0
        self.levels_used: list[int] = []
        #: Indices of the packets that start an Ogg page (encode_stream breaks pages there).
        self.page_starts: list[int] = []
        self._page_len = 0
        self._page_carrier = False
        self._max_dtx_page = -(-fmt.DTX_PAGE_MS // self.frame_ms)
        self._flushed = False

    # -- stream description --
    @property
    def info(self) -> fmt.StreamInfo:
        return fmt.StreamInfo(model_name=str(getattr(self.model, "name", "")),
                              model_checksum=str(self.model.checksum), level=-1,
                              frame_ms=self.frame_ms, bitrate=self.bitrate, delay=self.delay,
                              format_version=self.format_version,
                              ctx_checksum=self._ctx.checksum if self._ctx is not None else "",
                              redundancy_ms=self.redundancy_ms)

    @property
    def pre_skip(self) -> int:
        """OpusHead pre-skip (48 kHz samples)."""
        return self.delay * fmt.GRANULE_PER_SAMPLE

    def final_granule(self) -> int:
        """Granule position of the last packet: input length plus pre-skip (RFC 7845 s4)."""
        return self.samples_in * fmt.GRANULE_PER_SAMPLE + self.pre_skip

    # -- analysis --
    def process(self, samples: np.ndarray) -> list[bytes]:
        """Feed samples (16 kHz, int16 units); returns the packets completed so far."""
        if self._flushed:
            raise CodecError("encoder already flushed")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples_in += x.shape[0]
        self._samples = np.concatenate([self._samples, x])
        self._frames_in(self._fx.process(x))
        return [] if self.two_pass else self._emit_ready(final=False)

    def flush(self) -> list[bytes]:
        """Pad with zeros to cover the delay and whole packets; returns the remaining packets."""
        if self._flushed:
            return []
        need = self.samples_in + self.delay
        per = fmt.packet_samples(self.frame_ms)
        total = -(-need // per) * per
        pad = np.zeros(total - self.samples_in, dtype=np.float32)
        self._samples = np.concatenate([self._samples, pad])
        self._frames_in(self._fx.process(pad))
        self._frames_in(self._fx.flush())
        self._flushed = True
        if self._frames.shape[0] or len(self._z) % self.latents_per_packet:  # pragma: no cover
            raise CodecError("internal error: encoder left a partial packet")
        if self.two_pass:
            return self._two_pass()
        return self._emit_ready(final=True)

    def _frames_in(self, frames: np.ndarray) -> None:
        if frames.shape[0]:
            self._frames = np.concatenate([self._frames, np.asarray(frames, dtype=np.float32)])
        n = self._frames.shape[0] // 2
        if n == 0:
            return
        # The model's encoder is causal: one block call equals n step() calls bit for bit.
        z = np.asarray(self._net.process(self._frames[: 2 * n]), np.float32).reshape(n, -1)
        self._frames = self._frames[2 * n:]
        lat = 2 * 160  # latent t covers input samples [320 t, 320 t + 320) (specs 07 s6)
        self._z.append(z)
        self._db.append(rc.input_levels_db(self._samples[:n * lat], n))
        self._samples = self._samples[n * lat:]

    # -- coding --
    def _tables(self, level: int) -> CodingTables:
        t = self._coding.get(level)
        if t is None:
            t = self._coding[level] = CodingTables.from_quant_tables(self.model.quant_tables(level))
        return t

    def _gate_all(self, db: np.ndarray) -> np.ndarray:
        """DTX decisions of all latents of levels ``db`` (the input is complete)."""
        out = np.zeros(db.shape[0], bool)
        step = 4096  # a block of Python floats at a time, not the whole file's
        for i in range(0, db.shape[0], step):
            v = db[i:i + step + 1].tolist()
            for k in range(min(step, db.shape[0] - i)):
                out[i + k] = self._gate.coded(v[k], v[k + 1] if k + 1 < len(v) else None)
        return out

    def _emit_ready(self, final: bool) -> list[bytes]:
        """One pass: packets whose latents are in and DTX-decided (one latent of look-ahead)."""
        while len(self._coded) < len(self._z) - (0 if final else 1):
            t = len(self._coded)
            db = self._db.rows(t, t + 2).tolist()
            self._coded.append(self._gate.coded(db[0], db[1] if len(db) > 1 else None))
        lpp = self.latents_per_packet
        out = []
        while len(self._coded) >= lpp:
            z, c = self._z.pop_front(lpp), np.array(self._coded[:lpp])
            self._db.pop_front(lpp)
            del self._coded[:lpp]
            out.append(self._with_redundancy(self._packet_one_pass(z, c), c))
        return out

    def _extra_repeat(self, zq: np.ndarray, coded: np.ndarray, start: int, n: int, first: bool) -> int | None:
        """Index in the packet of the coded latent whose repeat changes least (runs up to
        ``rc.MAX_REPEAT_RUN``; never a page's first latent, never the packet's only one)."""
        best, arg = None, None
        if int(coded[start:start + n].sum()) <= 1:
            return None
        for k in range(n):
            t = start + k
            if not coded[t] or t == 0 or (first and k == 0):
                continue
            s = t - 1
            while s > 0 and not coded[s]:
                s -= 1
            e = t + 1
            while e < coded.size and not coded[e]:
                e += 1
            if e - s - 1 > rc.MAX_REPEAT_RUN or not coded[s]:
                continue
            d = float(np.sum((zq[t] - zq[s]) ** 2))
            if best is None or d < best:
                best, arg = d, k
        return arg

    def _dequantized(self, z: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Each latent quantized and dequantized at its packet's level (what the decoder gets)."""
        from mlcodec.codec.model import dequantize, quantize

        lv = np.repeat(np.asarray(levels, np.int64), self.latents_per_packet)[: z.shape[0]]
        out = np.zeros(z.shape, np.float32)
        for i in range(0, z.shape[0], 4096):  # in blocks: float64 temporaries stay small (row-wise ops)
            zb, lb, ob = z[i:i + 4096], lv[i:i + 4096], out[i:i + 4096]
            for v in np.unique(lb):
                t = self.model.quant_tables(int(v))
                ob[lb == v] = dequantize(quantize(zb[lb == v], t, self._threshold), t)
        return out

    def _new_packet(self, carrier: bool) -> bool:
        """Whether the next packet starts an Ogg page: after ~2.4 s of packets, but a page
        holding only DTX packets grows to 10 s (a damaged one loses only silence; research
        s5.2). The level is re-sent on a page's first carrier."""
        n = self._page_len
        brk = (self.packets_out == 0 or (n >= self.per_page and (carrier or self._page_carrier))
               or n >= self._max_dtx_page)
        if brk:
            self.page_starts.append(self.packets_out)
            self._page_len, self._page_carrier, self._sent_level = 0, False, None
        elif self._refresh and self._since_level >= self._refresh:
            self._sent_level = None  # format 3: the next carrier re-sends the level
        self._page_len += 1
        self._page_carrier |= carrier
        return brk

    def _packet_one_pass(self, z: np.ndarray, coded: np.ndarray) -> bytes:
        first = self._new_packet(self.mode == "cbr" or bool(coded.any()))
        if self.mode == "cbr":
            return self._packet_cbr(z, first)
        if not coded.any():
            pkt = self._finish(None, None, first)
            self._bucket.spend(self._primary_len + 1)  # a pause saves its share for the speech after it
            return pkt
        allow = self._bucket.allowance()
        lo, hi = max(self._level - 2, 0), min(self._level + 2, self.nb_levels - 1)
        choice = hi
        for lv in range(lo, hi + 1):  # finest level (lowest index) that fits the allowance
            flag = first or lv != self._sent_level
            bits = self._costs.latent_bits(z, lv)
            if rc.packet_bytes(self.frame_ms, rc.payload_bytes(bits, coded, flag)) <= allow:
                choice = lv
                break
        self._level = choice
        pkt = self._finish(z, coded, first)
        self._bucket.spend(self._primary_len + 1 + 27.0 / self.per_page)
        return pkt

    def _packet_cbr(self, z: np.ndarray, first: bool) -> bytes:
        size = int(self.target_bps * self.frame_ms / 8000) - 1 - int(np.ceil(27 / self.per_page))
        coded = np.ones(z.shape[0], bool)
        for lv in range(self.nb_levels):
            payload = self._payload(z, coded, lv, first or lv != self._sent_level)
            if len(payload) + 5 + len(payload) // 254 <= size or lv == self.nb_levels - 1:
                break
        self._level = lv
        return self._finish(z, coded, first, payload=payload, pad_to=max(size, len(payload) + 5))

    def _payload(self, z, coded, level: int, flag: bool) -> bytes:
        from mlcodec.codec.model import quantize

        q = quantize(z, self.model.quant_tables(level), self._threshold)
        rows = [q[k] if c else None for k, c in enumerate(coded)]
        return write_payload_v2(rows, self._tables(level), level=level if flag else None, nb_levels=self.nb_levels,
                                ctx=self._ctx.level(level) if self._ctx is not None else None)

    def _finish(self, z, coded, first: bool, *, payload: bytes | None = None, pad_to: int | None = None) -> bytes:
        """The packet of latents ``z`` at the current level (None: an all-DTX packet)."""
        n = self.latents_per_packet
        if z is None:
            pkt = fmt.build_dtx_packet(self.frame_ms)
            self.dtx_latents += n
        else:
            flag = first or self._level != self._sent_level
            if payload is None:
                payload = self._payload(z, coded, self._level, flag)
            self._sent_level = self._level
            self.dtx_latents += int(n - coded.sum())
            self.levels_used.append(self._level)
            pkt = fmt.build_codec_packet(payload, self.frame_ms, pad_to=pad_to)
            self.payload_bytes += len(payload)
        self._since_level = 1 if (z is not None and flag) else self._since_level + 1
        self.packets_out += 1
        self.packet_bytes += len(pkt)
        self._primary_len = len(pkt)
        return pkt

    def _with_redundancy(self, pkt: bytes, coded) -> bytes:
        """The primary packet ``pkt`` with the redundancy payload of this packet added
        (extension 123 before the primary's 122, whose bytes stay as they are); the rate
        control never sees it: redundancy rides on top of ``--bitrate``."""
        if self._red is None:
            return pkt
        if self._shadow is None:
            from mlcodec.codec.decoder import Decoder

            self._shadow = Decoder(self.info, self.model, vocoder=False, concealer="repeat",
                                   fixed_point=self.fixed_point)
        # copies of what the decoder will output at 0 % loss (codec distortion included), so
        # that rebuilt frames join the decoded ones around a gap
        try:
            feats = self._shadow.decode_features(pkt)
        except CodecError:  # pragma: no cover - a DTX packet before any coded latent: no copies
            feats = np.zeros((2 * self.latents_per_packet, 20), np.float32)
        red = self._red.push(feats, coded)
        if red is None:
            return pkt
        full = fmt.add_redundancy(pkt, red, self.frame_ms)
        self.redundancy_bytes += len(full) - len(pkt)
        self.packet_bytes += len(full) - len(pkt)
        return full

    def _two_pass(self) -> list[bytes]:
        """Files: choose the level of every packet from the whole input, then code."""
        coded = self._gate_all(self._db.take())  # the levels are freed here
        z = self._z.take()  # the buffer itself: no second copy
        active = coded.copy()  # the DTX gate's decisions (repeats below are not silence)
        bits = self._costs.bits_table(z, lpp=self.latents_per_packet)
        n_pk = z.shape[0] // self.latents_per_packet
        pages = -(-n_pk // self.per_page)
        budget = self.target_bps * self.samples_in / fmt.SAMPLE_RATE / 8 - self.header_bytes - 27 * pages
        levels = rc.plan_two_pass(bits, coded, self.frame_ms, budget, self.nb_levels)
        zq = None
        if self.repeats and levels.min() == self.nb_levels - 1 \
                and rc.plan_bytes(bits, coded, levels, self.frame_ms) > budget:
            # format 3, over the target even at the coarsest level: round magnitudes down more
            # (encoder only), then repeat latents that change little
            for th in rc.THRESHOLDS:
                self._threshold = th
                bits = None  # the previous table goes before the next is built
                bits = self._costs.bits_table(z, th, lpp=self.latents_per_packet)
                levels = rc.plan_two_pass(bits, coded, self.frame_ms, budget, self.nb_levels)
                if rc.plan_bytes(bits, coded, levels, self.frame_ms) <= budget:
                    break
            zq = self._dequantized(z, levels)
            coded = rc.plan_repeats(zq, bits, coded, levels, self.frame_ms, budget)
        out = []
        lpp = self.latents_per_packet
        spent = 0.0
        planned = 0.0
        for p in range(n_pk):
            sl = slice(p * lpp, (p + 1) * lpp)
            c = coded[sl]
            first = self._new_packet(bool(c.any()))
            if not c.any():
                pkt = self._finish(None, None, first)
                if self.repeats:  # format 3: the plan counts DTX packets too
                    planned += rc.packet_bytes(self.frame_ms, None)
            else:
                lv = int(levels[p])
                flag = True if not self.repeats else lv != self._sent_level
                planned += rc.packet_bytes(self.frame_ms, rc.payload_bytes(bits[sl, lv], c, flag))
                # the real range coder may overrun the prediction slightly: code coarser then
                # (format 3 at the coarsest level: repeat one more latent of the packet)
                while True:
                    self._level = lv
                    payload = self._payload(z[sl], c, lv, first or lv != self._sent_level)
                    size = rc.packet_bytes(self.frame_ms, len(payload))
                    if spent + size <= planned + 2:
                        break
                    if lv < self.nb_levels - 1:
                        lv += 1
                        continue
                    if self.repeats and zq is None:
                        zq = self._dequantized(z, levels)
                    k = self._extra_repeat(zq, coded, p * lpp, lpp, first) if self.repeats else None
                    if k is None:
                        break
                    coded[p * lpp + k] = False
                    c = coded[sl]
                pkt = self._finish(z[sl], c, first, payload=payload)
            spent += self._primary_len + 1 + self._primary_len // 255
            out.append(self._with_redundancy(pkt, active[sl]))
        return out


class _HoldHeaders:
    """Holds the Ogg Opus header pages back until an audio page follows them (or the stream is
    complete): an encode that fails before its first audio page writes nothing to ``out``,
    which matters when ``out`` is a pipe."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.held: bytearray | None = bytearray()
        self.header_bytes = 0

    def write(self, b) -> int:
        if self.held is None:
            return self.out.write(b)
        self.held += b
        if self.header_bytes and len(self.held) > self.header_bytes:
            self.release()
        return len(b)

    def release(self) -> None:
        if self.held is not None:
            held, self.held = bytes(self.held), None
            if held:
                self.out.write(held)

    def flush(self) -> None:
        if self.held is None and hasattr(self.out, "flush"):
            self.out.flush()


def _writer(out, enc, serial, tags=()):
    from mlcodec import __version__
    from mlcodec.containers.oggopus import OggOpusWriter

    page = enc.per_page * fmt.packet_samples(enc.frame_ms) * fmt.GRANULE_PER_SAMPLE
    return OggOpusWriter(out, channels=1, input_sample_rate=fmt.SAMPLE_RATE, pre_skip=enc.pre_skip,
                         serial=serial, tags=enc.info.tags() + list(tags), vendor=f"mlcodec {__version__}",
                         output_gain=OUTPUT_GAIN, max_page_samples=page, page_bytes=16384)


def header_size(enc: Encoder, tags: Iterable[str] = (), *, redundancy: bool = True) -> int:
    """Bytes of the OpusHead and OpusTags pages ``enc``'s stream will have (``redundancy=False``:
    as if it had none, the size the rate control charges, so that the primary stream is the
    same with and without redundancy)."""
    buf = io.BytesIO()
    ms = enc.redundancy_ms
    if not redundancy:
        enc.redundancy_ms = 0
    try:
        _writer(buf, enc, 0, tags)
    finally:
        enc.redundancy_ms = ms
    return len(buf.getvalue())


def encode_stream(chunks: Iterable[np.ndarray], out: BinaryIO, *, model=None, bitrate: str = fmt.DEFAULT_BITRATE,
                  frame_ms: int = fmt.DEFAULT_FRAME_MS, fixed_point: bool = True, serial: int | None = None,
                  progress: Callable[[float], None] | None = None, mode: str = "vbr", two_pass: bool = True,
                  dtx: bool = True, format_version: int = fmt.FORMAT_VERSION, tags: Iterable[str] = (),
                  redundancy_ms: int = 0):
    """Encode 16 kHz int16-unit chunks into an Ogg Opus stream written to ``out``.

    ``two_pass`` (files): every packet is written after the whole input is read, so the
    whole-file rate meets ``bitrate``; otherwise pages are written as they fill (pipes) and a
    leaky bucket steers the rate. The header pages are written with the first audio page, not
    before: an input that fails early writes nothing to ``out``. ``progress(seconds_read)`` is
    called after each chunk. ``format_version=2`` writes format 2 (no context tables),
    ``format_version=1`` the old format (encoder_v1).
    ``tags``: extra ``NAME=value`` OpusTags comments after the format's own (the batch runner's
    settings digest, mlcodec.io.resume). ``redundancy_ms``: history of the feature redundancy
    (extension 123, docs/loss.md s5) on top of ``bitrate``; 0 = none.
    """
    tags = list(tags)
    if format_version == fmt.FORMAT_V1:
        from mlcodec.codec.encoder_v1 import EncoderV1

        if redundancy_ms:
            raise CodecError("redundancy needs format 2 or later")
        enc = EncoderV1(model, bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point)
    else:
        enc = Encoder(model, bitrate=bitrate, frame_ms=frame_ms, fixed_point=fixed_point, mode=mode,
                      two_pass=two_pass, dtx=dtx, format_version=format_version, redundancy_ms=redundancy_ms)
        hb = header_size(enc, tags, redundancy=False)  # redundancy rides on top of the target
        enc.header_bytes = hb
        enc._bucket.debt = float(hb)
    hold = _HoldHeaders(out)
    writer = None

    starts = set()

    def write(packets) -> None:
        nonlocal writer
        for p in packets:
            if writer is not None and format_version != fmt.FORMAT_V1:
                # a page break before this packet where the encoder put one (level re-sent there)
                starts.update(enc.page_starts)
                writer.max_page_samples = 0 if writer.packets in starts else 1 << 62
            if writer is None:
                if format_version == fmt.FORMAT_V1:
                    from mlcodec import __version__
                    from mlcodec.containers.oggopus import OggOpusWriter

                    writer = OggOpusWriter(hold, channels=1, input_sample_rate=fmt.SAMPLE_RATE,
                                           pre_skip=enc.pre_skip, serial=serial, tags=enc.info.tags() + tags,
                                           vendor=f"mlcodec {__version__}")
                else:
                    writer = _writer(hold, enc, serial, tags)
                hold.header_bytes = len(hold.held)
            writer.write_packet(p)

    for x in chunks:
        write(enc.process(x))
        if progress:
            progress(enc.samples_in / fmt.SAMPLE_RATE)
    if enc.samples_in == 0:
        raise AudioError("audio has no samples")
    write(enc.flush())
    if writer is None:  # pragma: no cover - flush always ends the stream with a packet
        raise AudioError("audio has no samples")
    writer.close(final_granule=enc.final_granule())
    hold.release()
    return enc
