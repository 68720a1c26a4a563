"""Format-2 DTX and rate control: which latents are coded, and the quantizer level per packet.

* :class:`DtxGate` (research s5.2): a latent whose 20 ms of input is below
  :data:`~mlcodec.codec.format.DTX_THRESHOLD_DB` is not coded unless it is within the hangover
  (the 2 latents after an active one, the one before an active one); the first latent of a
  DTX run is coded (the SID the decoder repeats), and again when the level moves by more than
  6 dB or every 0.5 s while the input is not digital silence.
* :class:`CostModel`: predicted bytes of a packet at every level (the Laplace-p0 ideal code
  length plus flags and the range coder's termination, research s4/s5.3), exact framing.
* :func:`plan_two_pass` (files): the finest level per ~2.4 s page such that the predicted
  whole file is at most the target; :class:`LeakyBucket` (pipes): one pass, per packet.
"""
from __future__ import annotations

import math

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.model import quantize

#: Values beyond this magnitude are priced as this magnitude (they are very rare).
_K = 96
#: Largest saving (seconds of the target) the leaky bucket keeps for later packets.
SAVINGS_S = 6.0
#: Bits of the level flag when 0 / when 1 plus the level (uint(16): 4 bits).
FLAG0_BITS = -math.log2(7 / 8)
FLAG1_BITS = 3.0


def input_level_db(x: np.ndarray) -> float:
    """RMS level (dBFS, int16 full scale) of a block of int16-unit samples; -200 for zeros."""
    x = np.asarray(x, np.float64)
    e = float(np.mean(x * x)) if x.size else 0.0
    return 10 * math.log10(e / 32768.0 ** 2) if e > 0 else -200.0


def input_levels_db(x: np.ndarray, n: int) -> list[float]:
    """:func:`input_level_db` of each of the ``n`` equal blocks of ``x`` (one per latent)."""
    if n <= 0:
        return []
    b = np.asarray(x, np.float64).reshape(n, -1)
    e = np.mean(b * b, axis=1)
    with np.errstate(divide="ignore"):
        db = np.where(e > 0, 10 * np.log10(np.maximum(e, 1e-300) / 32768.0 ** 2), -200.0)
    return db.tolist()


class DtxGate:
    """Streaming DTX decision, one latent at a time with one latent of look-ahead."""

    def __init__(self, enabled: bool = True, threshold_db: float = fmt.DTX_THRESHOLD_DB):
        self.enabled = enabled
        self.threshold = threshold_db
        self.first = True
        self.hang = 0
        self.sid: float | None = None
        self.since = 0

    def coded(self, level_db: float, next_db: float | None) -> bool:
        """True when the latent of input level ``level_db`` is coded (False: DTX)."""
        active = level_db >= self.threshold
        nxt = next_db is not None and next_db >= self.threshold
        if not self.enabled or self.first or active or nxt or self.hang > 0:
            self.hang = fmt.DTX_HANGOVER if active else max(self.hang - 1, 0)
            self.first = False
            self.sid = None
            return True
        if (self.sid is None or abs(level_db - self.sid) > fmt.SID_REFRESH_DB
                or (level_db > fmt.SID_SILENCE_DB and self.since >= fmt.SID_REFRESH_LATENTS)):
            self.sid, self.since = level_db, 0
            return True  # the SID: coded normally
        self.since += 1
        return False


class CostModel:
    """Predicted bits of latents and bytes of packets at each quantizer level of a model."""

    def __init__(self, model, levels: range | None = None, ctx=None):
        self.model = model
        self.nb_levels = int(model.nb_levels)
        self.levels = list(levels if levels is not None else range(self.nb_levels))
        self.tables = {lv: model.quant_tables(lv) for lv in self.levels}
        #: format 3: ContextTables; each latent is priced in the context of the one before it
        self.ctx = ctx
        self._cost = {lv: (_cost_grid(t) if ctx is None else ctx.cost_grid(lv, _K), 0.0)
                      for lv, t in self.tables.items()}

    def latent_bits(self, z: np.ndarray, level: int, threshold: float = 0.5, starts=None) -> np.ndarray:
        """Ideal bits of each latent (n, dim) quantized at ``level`` (rounding ``threshold``);
        with contexts, latent t is priced after latent t-1, and after zeros where ``starts``
        (n,) is True or at t = 0: a packet's first latent (contexts restart in every packet)."""
        c, base = self._cost[level]
        qq = np.clip(quantize(z, self.tables[level], threshold), -_K, _K)
        q = qq + _K
        dims = np.arange(c.shape[0])[None, :]
        if self.ctx is None:
            return base + c[dims, q].sum(-1)
        from mlcodec.codec.contexts import context_index

        prev = np.concatenate([np.zeros((1, qq.shape[1]), np.int64), qq[:-1]], 0)
        if starts is not None:
            prev[np.asarray(starts, bool)] = 0
        cx = context_index(prev)
        return base + c[dims, cx, q].sum(-1)

    def bits_table(self, z: np.ndarray, threshold: float = 0.5, levels=None, *, lpp: int = 1) -> np.ndarray:
        """(n, nb_levels) ideal bits of each latent at each level (unpriced levels: inf);
        ``lpp`` latents per packet (format 3 contexts restart at each packet's first)."""
        z = np.asarray(z)
        out = np.full((z.shape[0], self.nb_levels), np.inf)
        for i in range(0, z.shape[0], _ROWS):  # in blocks: the temporaries stay small for long files
            for lv in (self.levels if levels is None else levels):
                starts = np.arange(i, min(i + _ROWS, z.shape[0])) % lpp == 0
                out[i:i + _ROWS, lv] = self.latent_bits(z[i:i + _ROWS], lv, threshold, starts)
        return out


#: Latents per block of :meth:`bits_table` (a few MB of temporaries).
_ROWS = 4096


def _cost_grid(t) -> np.ndarray:
    """(dim, 2K+1) bits of each value -K..K per dimension under the Laplace-p0 model of one
    level (specs 03 s5.2; the same arithmetic as ``model.value_bits``, tabulated)."""
    from mlcodec.codec.model import _mag_icdf

    grid = np.arange(-_K, _K + 1)
    out = np.zeros((t.dim, grid.size))
    mag = np.abs(grid) - 1
    esc = np.where(grid != 0, mag // 7, 0)
    rem = np.where(grid != 0, mag - 7 * esc, 0)
    for i in range(t.dim):
        if not t.coded[i]:
            continue
        p0, dec = int(t.p0[i]), int(t.decay[i])
        rest = 32768 - p0
        pneg = rest // 2
        ppos = rest - pneg
        icdf = _mag_icdf(dec)
        prev = [32768] + icdf[:-1]
        c8 = np.array([-math.log2(max(prev[s] - icdf[s], 1) / 32768) for s in range(8)])
        sign = np.where(grid == 0, -math.log2(max(p0, 1) / 32768),
                        np.where(grid > 0, -math.log2(max(ppos, 1) / 32768), -math.log2(max(pneg, 1) / 32768)))
        out[i] = sign + np.where(grid != 0, esc * c8[7] + c8[rem], 0.0)
    return out


def payload_bytes(latent_bits, coded, flag: bool) -> int:
    """Predicted payload bytes of one packet: flags, coded latents' bits, ~1 bit termination."""
    bits = (FLAG1_BITS + 4 if flag else FLAG0_BITS) + 1.0
    for b, c in zip(latent_bits, coded):
        bits += FLAG0_BITS + b if c else 3.0
    return int(math.ceil(bits / 8))


def packet_bytes(frame_ms: int, payload: int | None) -> int:
    """Bytes a packet adds to the Ogg file (packet + lacing) for a payload of ``payload``
    bytes, or a DTX packet (None): TOC, count, padding length(s), extension header (research s2)."""
    if payload is None:
        n = len(fmt.build_dtx_packet(frame_ms))
    else:
        area = payload + 1
        n = 3 + (area - 1) // 255 + area
    return n + n // 255 + 1


def plan_two_pass(bits: np.ndarray, coded: np.ndarray, frame_ms: int, budget_bytes: float,
                  nb_levels: int) -> np.ndarray:
    """Quantizer level per packet for a whole file (two-pass, research s5.3).

    ``bits`` (n_latents, nb_levels), ``coded`` (n_latents,) bool, ``budget_bytes``: what the
    audio pages may take (target x duration less the header pages and page headers). The
    finest constant level whose predicted size fits is chosen, then whole pages (the level is
    re-sent at each page start anyway, so this costs no level symbols) move one level finer,
    spread evenly, while the prediction still fits. The coarsest level when nothing fits."""
    lpp = fmt.latents_per_packet(frame_ms)
    n_pk = bits.shape[0] // lpp
    per_page = fmt.packets_per_page(frame_ms)
    cost = np.zeros((n_pk, nb_levels))
    for p in range(n_pk):
        sl = slice(p * lpp, (p + 1) * lpp)
        c = coded[sl]
        for lv in range(nb_levels):
            if not c.any():
                cost[p, lv] = packet_bytes(frame_ms, None)
            elif not np.isfinite(bits[sl, lv]).all():
                cost[p, lv] = np.inf
            else:
                cost[p, lv] = packet_bytes(frame_ms, payload_bytes(bits[sl, lv], c, flag=p % per_page == 0))
    totals = cost.sum(0)
    fits = [lv for lv in range(nb_levels) if totals[lv] <= budget_bytes]
    base = min(fits) if fits else nb_levels - 1
    levels = np.full(n_pk, base, np.int64)
    if fits and base > 0:
        pages = [np.arange(s, min(s + per_page, n_pk)) for s in range(0, n_pk, per_page)]
        gain = [cost[pg, base - 1].sum() - cost[pg, base].sum() for pg in pages]
        spare = budget_bytes - totals[base]
        frac = min(spare / max(sum(gain), 1e-9), 1.0)
        total = totals[base]
        for k, pg in enumerate(pages):  # every k-th page, evenly (a Bresenham step)
            if math.floor((k + 1) * frac) > math.floor(k * frac) and total + gain[k] <= budget_bytes:
                levels[pg] = base - 1
                total += gain[k]
    return levels


class LeakyBucket:
    """One-pass level choice for pipes (research s5.3): each packet may spend its share of the
    target less a repayment of the running debt (which starts at the header bytes) over about
    8 packets; savings are capped at SAVINGS_S of the target."""

    def __init__(self, target_bps: int, frame_ms: int, header_bytes: int, nb_levels: int):
        self.share = target_bps * frame_ms / 8000.0 - 27.0 / fmt.packets_per_page(frame_ms)
        self.debt = float(header_bytes)
        self.floor = -target_bps * SAVINGS_S / 8.0
        self.nb_levels = nb_levels

    def allowance(self) -> float:
        return self.share - self.debt / 8.0

    def spend(self, nbytes: int) -> None:
        self.debt = max(self.debt + nbytes - self.share, self.floor)


#: Longest run of latents the rate control may replace by repeats (DTX latents) in speech.
MAX_REPEAT_RUN = 2
#: Rounding thresholds tried, in order, at the coarsest level before any repeat (format 3).
THRESHOLDS = (0.75, 1.0, 1.25, 1.5)


def plan_bytes(bits: np.ndarray, coded: np.ndarray, levels: np.ndarray, frame_ms: int) -> float:
    """Predicted audio bytes of a plan (the packet costs :func:`plan_two_pass` sums)."""
    lpp = fmt.latents_per_packet(frame_ms)
    per_page = fmt.packets_per_page(frame_ms)
    return float(sum(_packet_cost(bits[p * lpp:(p + 1) * lpp], coded[p * lpp:(p + 1) * lpp], int(levels[p]),
                                  frame_ms, p % per_page == 0) for p in range(bits.shape[0] // lpp)))


def _packet_cost(bits, coded, lv: int, frame_ms: int, first: bool) -> float:
    if not coded.any():
        return packet_bytes(frame_ms, None)
    return packet_bytes(frame_ms, payload_bytes(bits[:, lv], coded, flag=first))


def plan_repeats(zq: np.ndarray, bits: np.ndarray, coded: np.ndarray, levels: np.ndarray, frame_ms: int,
                 budget_bytes: float, max_run: int | None = None) -> np.ndarray:
    """Latents to send as repeats (DTX latents: the decoder repeats the last coded one) when
    even the planned levels overrun the budget (the coarsest level of a short file at 1.5k).

    ``zq`` (n, dim): each latent dequantized at its packet's level; ``bits`` (n, nb_levels);
    ``coded`` (n,) the DTX gate's decisions; ``levels`` per packet. Latents change little
    from one to the next in steady sounds: those whose distance to the previous latent per
    bit saved is smallest are repeated first, runs of at most ``max_run`` (1, then up to
    ``max_run``), never the first latent of a page (a resynchronising decoder needs it).
    Returns the new ``coded`` mask (unchanged when the plan fits)."""
    lpp = fmt.latents_per_packet(frame_ms)
    per_page = fmt.packets_per_page(frame_ms)
    n_pk = bits.shape[0] // lpp
    max_run = MAX_REPEAT_RUN if max_run is None else int(max_run)
    coded = np.array(coded, bool)
    cost = np.array([_packet_cost(bits[p * lpp:(p + 1) * lpp], coded[p * lpp:(p + 1) * lpp], int(levels[p]),
                                  frame_ms, p % per_page == 0) for p in range(n_pk)])
    total = float(cost.sum())
    if total <= budget_bytes or n_pk == 0:
        return coded
    rep = np.zeros_like(coded)
    page_lat = lpp * per_page
    lv_of = np.repeat(np.asarray(levels, np.int64), lpp)
    for run in range(1, max_run + 1):
        cand = []
        for t in range(1, coded.size):
            if not coded[t] or t % page_lat == 0 or lv_of[t] != lv_of[t - 1]:
                continue
            s = t - 1
            while s > 0 and rep[s]:  # the latent it would repeat
                s -= 1
            if not coded[s] or rep[s]:
                continue
            saved = bits[t, lv_of[t]] - 3.0 + FLAG0_BITS
            if saved <= 0:
                continue
            d = float(np.sum((zq[t] - zq[s]) ** 2))
            cand.append((d / saved, t))
        cand.sort()
        for _, t in cand:
            left = 0
            while t - left - 1 >= 0 and rep[t - left - 1]:
                left += 1
            right = 0
            while t + right + 1 < rep.size and rep[t + right + 1]:
                right += 1
            if left + right + 1 > run or not coded[t - left - 1]:
                continue
            rep[t] = True
            coded[t] = False
            p = t // lpp
            sl = slice(p * lpp, (p + 1) * lpp)
            new = _packet_cost(bits[sl], coded[sl], int(levels[p]), frame_ms, p % per_page == 0)
            total += new - cost[p]
            cost[p] = new
            if total <= budget_bytes:
                return coded
    return coded
