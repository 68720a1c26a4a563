"""Feature-domain redundancy (issue 13 item 1, docs/loss.md s5): cheap, stateless copies of
earlier 40 ms chunks of features, each sent twice more: finely in the next packet, coarsely
about ``redundancy_ms`` later (the payload syntax is :mod:`mlcodec.bitstream.featred`).

A chunk is 4 feature frames (latents 2k and 2k+1). Its parameters: the mean level c0, the
voicing (2 of 4 frames with correlation > 0.1), the mean pitch of its voiced frames and the
mean cepstral shape c1..c17, vector-quantized with the shipped codebook
(``mlcodec/models/redundancy_v1.npz``, recipe ``train/redundancy/codebook.py``).
:class:`RedundancyWriter` makes one packet's payload from the packets before it;
:class:`RecoveryStore` keeps what the decoder received and rebuilds missing frames.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from io import BytesIO

import numpy as np

from mlcodec.bitstream.featred import GRADES, RedChunk, RedGroup, RedPayload, parse_featred, write_featred
from mlcodec.errors import CodecError

DEFAULT_CODEBOOK = "redundancy_v1.npz"
FRAMES = 4               # 10 ms frames per chunk
LATENTS = 2              # 20 ms latents per chunk
VOICED_CORR = 0.1        # a frame is voiced when its correlation feature exceeds this
C0_MIN, PITCH_MIN = -12.0, -1.5
#: Quantizer steps per grade (False = fine, True = coarse): c0 units (1 = ~2.4 dB), pitch octaves.
C0_STEP = {False: 1.0, True: 2.0}
PITCH_STEP = {False: 1 / 10, True: 1 / 6}
#: ``--redundancy`` range (ms of history; 0 = off).
MAX_REDUNDANCY_MS = 1040
#: Rebuilt frames blended from the concealer's prediction at the start of a gap.
BLEND_FRAMES = 2
#: Codebook of each grade.
BOOKS = {False: "fine", True: "coarse"}


@lru_cache(maxsize=2)
def load_codebook(data: bytes | None = None) -> dict:
    """The codebook arrays (``fine``, ``coarse``, voicing statistics) of the shipped file or ``data``."""
    if data is None:
        data = resources.files("mlcodec.models").joinpath(DEFAULT_CODEBOOK).read_bytes()
    with np.load(BytesIO(data)) as z:
        cb = {k: np.asarray(z[k], np.float32) for k in z.files}
    from mlcodec.bitstream.featred import VQ_SIZES

    if cb["fine"].shape != (VQ_SIZES[0], 17) or cb["coarse"].shape != (VQ_SIZES[1], 17):
        raise CodecError("redundancy codebook has the wrong shape")
    return cb


def coverage_ages(redundancy_ms: int, frame_ms: int) -> tuple[int, ...]:
    """Ages (packets back) of the copies each packet carries: 1 (fine) and ``ceil(ms / frame)``
    (coarse; for 20, 40 and 60 ms packets rounded up to 1 + whole 120 ms spans) when that is
    older; () when off."""
    ms = int(redundancy_ms)
    if not 0 <= ms <= MAX_REDUNDANCY_MS:
        raise CodecError(f"redundancy {ms} ms outside 0..{MAX_REDUNDANCY_MS}")
    if ms == 0:
        return ()
    d = -(-ms // int(frame_ms))
    lpp = int(frame_ms) // 20
    if lpp < SPAN and SPAN % lpp == 0 and d > 1:
        # short packets: the coarse copy rides in the same packet as the fine one (one
        # extension per span), so its age is 1 + a whole number of spans
        per = SPAN // lpp
        d = 1 + -(-(d - 1) // per) * per
    return (1,) if d <= 1 else (1, d)


#: Packets shorter than this many latents (120 ms) own chunks in spans of it, so that short
#: packets carry redundancy once per 120 ms (its framing and header are paid once per span).
SPAN = 6


def owned_chunks(packet: int, latents_per_packet: int) -> range:
    """Chunks a packet owns. 120 ms packets: their 3 chunks. Shorter packets: the 3 chunks of
    each 120 ms span (latents 6j..6j+5) whose last latent lies in the packet (20 ms packets:
    every 6th packet)."""
    a, n = packet * latents_per_packet, latents_per_packet
    if n >= SPAN:
        return range(a // 2, (a + n) // 2)
    # spans j with SPAN j + SPAN - 1 in [a, a + n)
    j0, j1 = -(-(a - SPAN + 1) // SPAN), (a + n - 1 - (SPAN - 1)) // SPAN + 1
    return range(SPAN // 2 * j0, SPAN // 2 * j1)


def chunk_params(frames: np.ndarray):
    """(c0, shape c1..c17, voiced, pitch) of one chunk's 4 feature frames (4, 20)."""
    f = np.asarray(frames, np.float64)
    v = f[:, 19] > VOICED_CORR
    voiced = int(v.sum()) >= 2
    return float(f[:, 0].mean()), f[:, 1:18].mean(0), voiced, float(f[v, 18].mean()) if voiced else 0.0


def quantize_chunk(params, coarse: bool, cb: dict) -> RedChunk:
    c0, shape, voiced, pitch = params
    g = GRADES[coarse]
    ci = int(np.clip(np.rint((c0 - C0_MIN) / C0_STEP[coarse]), 0, g.nc0 - 1))
    pi = int(np.clip(np.rint((pitch - PITCH_MIN) / PITCH_STEP[coarse]), 0, g.npitch - 1)) if voiced else None
    book = cb[BOOKS[coarse]]
    return RedChunk(ci, pi, int(np.argmin(((book - np.asarray(shape, np.float32)) ** 2).sum(1))))


def dequantize_chunk(c: RedChunk, coarse: bool, cb: dict) -> np.ndarray:
    """The 20-value feature vector a chunk's indices stand for."""
    out = np.zeros(20, np.float32)
    out[0] = C0_MIN + c.c0 * C0_STEP[coarse]
    out[1:18] = cb[BOOKS[coarse]][c.vq]
    if c.pitch is None:
        out[18], out[19] = cb["pitch_unvoiced"], cb["corr_unvoiced"]
    else:
        out[18], out[19] = PITCH_MIN + c.pitch * PITCH_STEP[coarse], cb["corr_voiced"]
    return out


class RedundancyWriter:
    """Encoder side: :meth:`push` each packet's features (2 frames per latent) and DTX flags in
    order; it returns the packet's redundancy payload, or None when there is nothing to send."""

    def __init__(self, redundancy_ms: int, frame_ms: int, codebook: dict | None = None):
        self.ages = coverage_ages(redundancy_ms, frame_ms)
        self.lpp = int(frame_ms) // 20
        self.cb = codebook if codebook is not None else load_codebook()
        self._owned: list[list] = []   # per past packet: its chunks' params (None = inactive)
        self._lat: dict[int, tuple] = {}  # latent -> (frames (2, 20), coded), the last few
        self._packets = 0
        self.payload_bytes = 0

    def push(self, feats: np.ndarray, coded) -> bytes | None:
        f = np.asarray(feats, np.float32).reshape(-1, 2, 20)
        q, n = self._packets, self.lpp
        for i in range(f.shape[0]):
            self._lat[q * n + i] = (f[i], bool(coded[i]))
        mine = []
        for k in owned_chunks(q, n):
            (fa, ca), (fb, cb) = self._lat[2 * k], self._lat[2 * k + 1]
            mine.append(chunk_params(np.concatenate([fa, fb])) if (ca or cb) else None)
        for t in [t for t in self._lat if t < (q + 1) * n - 2 * SPAN]:
            del self._lat[t]
        groups = []
        for age in self.ages:
            if age <= len(self._owned) and any(c is not None for c in self._owned[-age]):
                coarse = age > 1
                groups.append(RedGroup(age, coarse, tuple(None if c is None else quantize_chunk(c, coarse, self.cb)
                                                          for c in self._owned[-age])))
        self._owned.append(mine)
        del self._owned[: -max(self.ages, default=1)]
        self._packets += 1
        if not groups:
            return None
        data = write_featred(RedPayload(tuple(groups)))
        self.payload_bytes += len(data)
        return data


def read_ahead(events, decoder, per48: int, note):
    """A stream decoder's events (``('pkt', data, offset, duration, position)``, ``('lost',
    duration)``, others) released :func:`lookahead_packets` packets after they are read; each
    arriving packet's redundancy goes to ``decoder.recovery`` as it is read (an invalid one:
    ``note(offset, reason)``, nothing kept). Memory: that many packets."""
    from collections import deque

    from mlcodec.codec.format import redundancy_payload

    ahead = lookahead_packets(decoder.info.redundancy_ms, decoder.info.frame_ms)
    fifo: deque = deque()
    queued = 0
    for ev in events:
        if ev[0] == "pkt":
            try:
                decoder.recovery.add(ev[4] // per48, redundancy_payload(ev[1], offset=ev[2]), offset=ev[2])
            except CodecError as exc:
                note(ev[2], exc.reason)
        fifo.append(ev)
        queued += ev[0] in ("pkt", "lost")
        while fifo and (queued > ahead or ev[0] == "end"):
            head = fifo.popleft()
            queued -= head[0] in ("pkt", "lost")
            yield head


def lookahead_packets(redundancy_ms: int, frame_ms: int) -> int:
    """Packets a decoder reads ahead of playback so that the last copy of a lost frame has
    arrived (the recovery latency is this many packets)."""
    ages = coverage_ages(redundancy_ms, frame_ms)
    if not ages:
        return 0
    lpp = int(frame_ms) // 20
    return max(ages) + (0 if lpp >= SPAN else -(-SPAN // lpp) - 1)


class RecoveryStore:
    """Decoder side: the redundancy received so far (:meth:`add` every packet that arrives, in
    any order) and :meth:`features_for_missing` frames. Bounded: chunks more than
    ``horizon`` frames behind the newest packet are dropped."""

    def __init__(self, frame_ms: int, codebook: dict | None = None, horizon_ms: int = 2 * MAX_REDUNDANCY_MS):
        self.lpp = int(frame_ms) // 20
        self.cb = codebook if codebook is not None else load_codebook()
        self.horizon = horizon_ms // 40 + 2
        self._chunks: dict[int, tuple] = {}   # chunk -> (age, features, voiced)
        self.rebuilt = 0   #: lost 10 ms frames rebuilt so far
        self._newest = 0

    def add(self, packet: int, payload: bytes | None, *, offset: int | None = None) -> None:
        """Keep the copies in one packet's payload (``packet``: its index in the stream);
        CodecError when the payload is invalid (nothing is kept from it)."""
        if not payload:
            return
        p = parse_featred(payload, offset=offset)
        for g in p.groups:
            if packet - g.age < 0 or len(owned_chunks(packet - g.age, self.lpp)) != len(g.chunks):
                raise CodecError(f"redundancy group of {len(g.chunks)} chunks where the packet {g.age} back "
                                 f"owns {len(owned_chunks(max(packet - g.age, 0), self.lpp))}", offset=offset)
        for g in p.groups:
            for k, c in zip(owned_chunks(packet - g.age, self.lpp), g.chunks):
                if c is not None and (k not in self._chunks or self._chunks[k][0] > g.age):
                    self._chunks[k] = (g.age, dequantize_chunk(c, g.coarse, self.cb), c.pitch is not None)
        self._newest = max(self._newest, owned_chunks(packet, self.lpp).stop)
        if len(self._chunks) > 2 * self.horizon:
            for k in [k for k in self._chunks if k < self._newest - self.horizon]:
                del self._chunks[k]

    def covers(self, frame: int, n: int) -> bool:
        """Whether any of the frames [frame, frame + n) has a copy."""
        return any(k in self._chunks for k in range(frame // FRAMES, (frame + n - 1) // FRAMES + 1))

    def features_for_missing(self, frame: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(features (n, 20), recovered (n,) bool) for the 10 ms frames [frame, frame + n):
        chunk values interpolated linearly between the centres of recovered neighbours (pitch
        only between voiced ones); frames without a copy are left to the concealer."""
        n = int(n)
        out = np.zeros((max(n, 0), 20), np.float32)
        have = np.zeros(max(n, 0), bool)
        for i in range(n):
            t = frame + i
            k = t // FRAMES
            cur = self._chunks.get(k)
            if cur is None:
                continue
            have[i] = True
            x = cur[1].copy()
            pos = (t % FRAMES + 0.5) / FRAMES - 0.5   # -0.375 .. 0.375 chunks from the centre
            nb = self._chunks.get(k + (1 if pos > 0 else -1))
            if nb is not None:
                w = abs(pos)
                y = nb[1]
                x[:18] = (1 - w) * x[:18] + w * y[:18]
                if cur[2] and nb[2]:
                    x[18] = (1 - w) * x[18] + w * y[18]
            out[i] = x
        return out, have

    def rebuild(self, frame: int, n: int, concealer) -> np.ndarray:
        """Features (n, 20) for lost frames [frame, frame + n): the rebuilt ones where copies
        arrived (``concealer`` observes them, so it continues from them), the concealer's
        elsewhere. The first :data:`BLEND_FRAMES` rebuilt frames after the last good one are
        blended from the concealer's prediction (level and envelope): right after a good frame
        the prediction beats a 40 ms average (docs/loss.md s5, measured)."""
        rec, have = self.features_for_missing(frame, n)
        self.rebuilt += int(have.sum())
        out = np.empty((max(int(n), 0), 20), np.float32)
        i = 0
        while i < n:
            j = i + 1
            while j < n and have[j] == have[i]:
                j += 1
            if have[i]:
                x = rec[i:j].copy()
                if i == 0:
                    m = min(BLEND_FRAMES, j)
                    pred = np.asarray(concealer.conceal(m), np.float32).reshape(-1, 20)
                    w = (1.0 - (np.arange(m) + 1.0) / (BLEND_FRAMES + 1))[:, None].astype(np.float32)
                    x[:m, :18] = w * pred[:, :18] + (1 - w) * x[:m, :18]
                out[i:j] = x
                concealer.observe(x)
            else:
                out[i:j] = np.asarray(concealer.conceal(j - i), np.float32).reshape(-1, 20)
            i = j
        return out
