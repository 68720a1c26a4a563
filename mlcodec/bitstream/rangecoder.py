"""The Opus range coder, bit-exact with libopus (RFC 6716 s4.1 decoder, s5.1 encoder; specs 03).

Everything is unsigned 32-bit integer arithmetic carried in Python ints and masked where the
C code would wrap. The encoder writes range-coded bytes from the front of a fixed-size buffer
and raw bits from its back (RFC 6716 s5.1.3); the decoder mirrors it and reads zeros past the
end of its data, never raising (RFC 6716 s4.1.1, specs 03 §3). Misuse (arguments out of range,
zero-probability symbols, coding after ``finish``) raises :class:`RangeCoderError`.

The two Laplace coders (CELT coarse energy, RFC 6716 s4.3.2.1, and the DRED variant with an
explicit P(0), specs 03 §5) live here too because they are pure range-coder operations.
See ``docs/rangecoder.md``.
"""
from __future__ import annotations

import operator
from functools import lru_cache

from mlcodec.errors import RangeCoderError

__all__ = [
    "RangeEncoder",
    "RangeDecoder",
    "RangeCoderError",
    "BITRES",
    "MAX_RAW_BITS",
    "laplace_p0_sign_icdf",
    "laplace_p0_mag_icdf",
]

# Constants (specs 03 §1; libopus mfrngcod.h names in comments).
_SYM_BITS = 8                      # EC_SYM_BITS: bits emitted per renormalisation
_CODE_TOP = 1 << 31                # EC_CODE_TOP
_CODE_MASK = _CODE_TOP - 1         # keeps `val` to 31 bits after a shift
_CODE_BOT = 1 << 23                # EC_CODE_BOT: renormalise while rng <= this
_CODE_SHIFT = 23                   # EC_CODE_SHIFT: val >> 23 = 8 data bits + carry
_CODE_EXTRA = 7                    # EC_CODE_EXTRA: bits of the first byte used at decoder init
_UINT_BITS = 8                     # EC_UINT_BITS: most range-coded bits in uint()
_WINDOW_SIZE = 32                  # EC_WINDOW_SIZE: raw-bit window
_MASK32 = 0xFFFFFFFF
BITRES = 3                         # tell_frac() resolution: 1/8 bit (RFC 6716 s4.1.6.2)
MAX_RAW_BITS = 25                  # most raw bits per bits() call (window 32 minus 7 spare)

# ec_tell_frac's table form of the RFC s4.1.6.2 squaring loop (specs 03 §3): thresholds of
# r = rng >> (ilog(rng) - 16) for each 1/8-bit step.
_TELL_FRAC_CORRECTION = (35733, 38967, 42495, 46340, 50535, 55109, 60097, 65535)

# CELT Laplace coder constants (RFC 6716 s4.3.2.1, specs 03 §5.1).
_LAPLACE_FTB = 15                  # total frequency 2^15
_LAPLACE_FT = 1 << _LAPLACE_FTB
_LAPLACE_MINP = 1                  # smallest probability of any value (1/32768)
_LAPLACE_NMIN = 16                 # values guaranteed MINP on each side of the decaying part
_LAPLACE_MAX_FS = _LAPLACE_FT - 2 * _LAPLACE_NMIN * _LAPLACE_MINP   # 32736
_LAPLACE_MAX_DECAY = 16383         # decay is Q14 (< 1.0); libopus's tables stop at 11456
_P0_MAX = _LAPLACE_FT - 1          # laplace_p0: p0 and decay are Q15 in [0, 32767]


def _int(x, name: str) -> int:
    """An integer argument (bool, int or NumPy integer); anything else is misuse."""
    try:
        return operator.index(x)
    except TypeError:
        raise RangeCoderError(f"{name} must be an integer, got {type(x).__name__}") from None


def _check_range(x, lo: int, hi: int, name: str) -> int:
    v = _int(x, name)
    if not lo <= v <= hi:
        raise RangeCoderError(f"{name}={v} out of range [{lo}, {hi}]")
    return v


def _check_icdf(icdf, ftb, max_ftb: int, max_entry: int, kind: str) -> tuple[tuple[int, ...], int]:
    """Validate an inverse-CDF table: entries in [0, min(2^ftb, max_entry)], non-increasing,
    last entry 0 (RFC 6716 s4.1.3.3). Repeated entries are zero-probability symbols."""
    ftb = _check_range(ftb, 0, max_ftb, f"{kind} ftb")
    try:
        table = tuple(operator.index(e) for e in icdf)
    except TypeError:
        raise RangeCoderError(f"{kind} table must be a sequence of integers") from None
    if not table:
        raise RangeCoderError(f"{kind} table is empty")
    top = min(1 << ftb, max_entry)
    prev = top
    for i, e in enumerate(table):
        if e < 0 or e > prev:
            raise RangeCoderError(
                f"{kind} table entry {i}={e} must be in [0, {prev}] (non-increasing, <= 2^ftb)")
        prev = e
    if table[-1] != 0:
        raise RangeCoderError(f"{kind} table must end with 0, ends with {table[-1]}")
    return table, ftb


@lru_cache(maxsize=1024)
def laplace_p0_sign_icdf(p0: int) -> tuple[int, int, int]:
    """Zero/positive/negative iCDF (ftb 15) of the DRED Laplace coder (specs 03 §5.2 step 1)."""
    first = _LAPLACE_FT - p0
    return (first, first >> 1, 0)


@lru_cache(maxsize=1024)
def laplace_p0_mag_icdf(decay: int) -> tuple[int, ...]:
    """8-symbol magnitude iCDF (ftb 15) of the DRED Laplace coder; symbol 7 is an escape
    meaning "+7, continue" (specs 03 §5.2 step 2). The 7-i floors keep every symbol >= 1/32768."""
    t = [max(7, decay)]
    for i in range(1, 7):
        t.append(max(7 - i, (t[-1] * decay) >> 15))
    t.append(0)
    return tuple(t)


def _laplace_freq1(fs0: int, decay: int) -> int:
    """Frequency of +-1 in the CELT Laplace model, MINP excluded (specs 03 §5.1)."""
    return ((_LAPLACE_FT - 2 * _LAPLACE_NMIN * _LAPLACE_MINP - fs0) * (16384 - decay)) >> 15


class _RangeCoder:
    """State and measurements shared by encoder and decoder (RFC 6716 s4.1.6)."""

    __slots__ = ("_rng", "_val", "_rem", "_nbits_total", "_end_offs", "_end_window",
                 "_nend_bits", "_offs", "_storage", "error")

    def tell(self) -> int:
        """Bits used so far, rounded up (RFC 6716 s4.1.6.1): nbits_total - ilog(rng)."""
        return self._nbits_total - self._rng.bit_length()

    def tell_frac(self) -> int:
        """Bits used so far in 1/8 bit, rounded up (RFC 6716 s4.1.6.2; libopus table form)."""
        rng = self._rng
        lg = rng.bit_length()
        r = rng >> (lg - 16)
        b = (r >> 12) - 8
        if r > _TELL_FRAC_CORRECTION[b]:
            b += 1
        return (self._nbits_total << BITRES) - ((lg << BITRES) + b)

    @property
    def final_range(self) -> int:
        """The current `rng`; after the last symbol (and finish()) it is Opus's final range."""
        return self._rng

    @property
    def storage(self) -> int:
        """Size of the coded buffer in bytes."""
        return self._storage


class RangeEncoder(_RangeCoder):
    """Range encoder over a fixed buffer of `storage` bytes (RFC 6716 s5.1, specs 03 §4).

    If the buffer runs out, `error` becomes True and bytes that do not fit are dropped, as
    libopus does; finish() then returns whatever libopus would have left in the buffer.
    """

    __slots__ = ("_buf", "_ext", "_done", "_result")

    def __init__(self, storage: int):
        storage = _int(storage, "storage")
        if storage < 0:
            raise RangeCoderError(f"storage={storage} must be >= 0")
        self._buf = bytearray(storage)
        self._storage = storage
        self._offs = 0
        self._end_offs = 0
        self._end_window = 0
        self._nend_bits = 0
        self._nbits_total = 33           # EC_CODE_BITS + 1
        self._rng = _CODE_TOP
        self._val = 0
        self._rem = -1                   # no buffered byte yet
        self._ext = 0                    # pending 0xFF bytes that a carry may still change
        self.error = False
        self._done = False
        self._result = b""

    # -- byte output (RFC 6716 s5.1.1) -------------------------------------------------------
    @property
    def range_bytes(self) -> int:
        """Bytes written so far at the front of the buffer."""
        return self._offs

    def _write_byte(self, b: int) -> None:
        if self._offs + self._end_offs >= self._storage:
            self.error = True
            return
        self._buf[self._offs] = b & 0xFF
        self._offs += 1

    def _write_byte_at_end(self, b: int) -> None:
        if self._offs + self._end_offs >= self._storage:
            self.error = True
            return
        self._end_offs += 1
        self._buf[self._storage - self._end_offs] = b & 0xFF

    def _carry_out(self, c: int) -> None:
        """Emit the 9-bit value c (8 data bits + carry), buffering runs of 0xFF (s5.1.1)."""
        if c != 255:
            carry = c >> 8
            if self._rem >= 0:
                self._write_byte(self._rem + carry)
            if self._ext > 0:
                fill = (255 + carry) & 255
                for _ in range(self._ext):
                    self._write_byte(fill)
                self._ext = 0
            self._rem = c & 255
        else:
            self._ext += 1

    def _normalize(self) -> None:
        # RFC 6716 s5.1.1: shift out a byte while rng <= 2^23.
        while self._rng <= _CODE_BOT:
            self._carry_out(self._val >> _CODE_SHIFT)
            self._val = (self._val << _SYM_BITS) & _CODE_MASK
            self._rng <<= _SYM_BITS
            self._nbits_total += _SYM_BITS

    def _check_open(self) -> None:
        if self._done:
            raise RangeCoderError("encoder already finished", offset=self._offs)

    # -- symbols ------------------------------------------------------------------------------
    def _encode(self, fl: int, fh: int, ft: int, r: int) -> None:
        # RFC 6716 s5.1.1 (ec_encode): r = rng // ft (or rng >> bits).
        if fl > 0:
            self._val += self._rng - r * (ft - fl)
            self._rng = r * (fh - fl)
        else:
            self._rng -= r * (ft - fh)
        self._normalize()

    def encode(self, fl: int, fh: int, ft: int) -> None:
        """Code the symbol [fl, fh) of total ft (0 <= fl < fh <= ft <= 65535; RFC s5.1.1)."""
        self._check_open()
        ft = _check_range(ft, 1, 65535, "ft")
        fl = _check_range(fl, 0, ft - 1, "fl")
        fh = _check_range(fh, fl + 1, ft, "fh")
        self._encode(fl, fh, ft, self._rng // ft)

    def encode_bin(self, fl: int, fh: int, bits: int) -> None:
        """encode() with ft = 2^bits (0 <= bits <= 16), using a shift instead of a division."""
        self._check_open()
        bits = _check_range(bits, 0, 16, "bits")
        ft = 1 << bits
        fl = _check_range(fl, 0, ft - 1, "fl")
        fh = _check_range(fh, fl + 1, ft, "fh")
        self._encode(fl, fh, ft, self._rng >> bits)

    def bit_logp(self, val: int, logp: int) -> None:
        """One bit with P(1) = 2^-logp (1 <= logp <= 23); the 1 sits at the top (RFC s5.1.2)."""
        self._check_open()
        val = _check_range(val, 0, 1, "bit")
        logp = _check_range(logp, 1, 23, "logp")
        s = self._rng >> logp
        if val:
            self._val += self._rng - s
            self._rng = s
        else:
            self._rng -= s
        self._normalize()

    def _icdf(self, s: int, icdf, ftb: int) -> None:
        # RFC 6716 s5.1.3 (ec_enc_icdf): fh[k] = 2^ftb - icdf[k].
        r = self._rng >> ftb
        if s > 0:
            hi = icdf[s - 1]
            lo = icdf[s]
            if hi == lo:
                raise RangeCoderError(f"icdf symbol {s} has zero probability", offset=self._offs)
            self._val += self._rng - r * hi
            self._rng = r * (hi - lo)
        else:
            rng = self._rng - r * icdf[0]
            if rng == 0:
                raise RangeCoderError("icdf symbol 0 has zero probability at this range",
                                      offset=self._offs)
            self._rng = rng
        self._normalize()

    def icdf(self, s: int, icdf, ftb: int) -> None:
        """Symbol s of an 8-bit inverse-CDF table of total 2^ftb, ftb <= 8 (RFC s5.1.3)."""
        self._check_open()
        table, ftb = _check_icdf(icdf, ftb, 8, 255, "icdf")
        s = _check_range(s, 0, len(table) - 1, "icdf symbol")
        self._icdf(s, table, ftb)

    def icdf16(self, s: int, icdf, ftb: int) -> None:
        """Symbol s of a 16-bit inverse-CDF table of total 2^ftb, ftb <= 16 (libopus ec_enc_icdf16)."""
        self._check_open()
        table, ftb = _check_icdf(icdf, ftb, 16, 65535, "icdf16")
        s = _check_range(s, 0, len(table) - 1, "icdf16 symbol")
        self._icdf(s, table, ftb)

    def _bits(self, fl: int, ftb: int) -> None:
        # RFC 6716 s5.1.4 (ec_enc_bits): LSB-first into a 32-bit window flushed from the end.
        window = self._end_window
        used = self._nend_bits
        if used + ftb > _WINDOW_SIZE:
            while True:
                self._write_byte_at_end(window & 0xFF)
                window >>= _SYM_BITS
                used -= _SYM_BITS
                if used < _SYM_BITS:
                    break
        self._end_window = (window | (fl << used)) & _MASK32
        self._nend_bits = used + ftb
        self._nbits_total += ftb

    def bits(self, fl: int, ftb: int) -> None:
        """ftb raw bits (0..25) of value fl, stored from the end of the buffer (RFC s5.1.4)."""
        self._check_open()
        ftb = _check_range(ftb, 0, MAX_RAW_BITS, "ftb")
        fl = _check_range(fl, 0, (1 << ftb) - 1, "raw bits value")
        self._bits(fl, ftb)

    def uint(self, fl: int, ft: int) -> None:
        """Integer fl in [0, ft), 2 <= ft <= 2^32-1: top 8 bits range coded, rest raw (RFC s5.1.5)."""
        self._check_open()
        ft = _check_range(ft, 2, _MASK32, "ft")
        fl = _check_range(fl, 0, ft - 1, "fl")
        ftm1 = ft - 1
        ftb = ftm1.bit_length()
        if ftb > _UINT_BITS:
            ftb -= _UINT_BITS
            top = (ftm1 >> ftb) + 1
            hi = fl >> ftb
            self._encode(hi, hi + 1, top, self._rng // top)
            self._bits(fl & ((1 << ftb) - 1), ftb)
        else:
            self._encode(fl, fl + 1, ft, self._rng // ft)

    def laplace(self, value: int, fs: int, decay: int) -> int:
        """CELT coarse-energy Laplace coder (RFC 6716 s4.3.2.1, specs 03 §5.1).

        fs = P(0)*32768 (1..32736), decay = Q14 ratio (0..16383, libopus uses <= 11456).
        Values beyond what the model can represent are clamped as libopus does; the value
        actually coded is returned.
        """
        self._check_open()
        value = _int(value, "laplace value")
        fs = _check_range(fs, 1, _LAPLACE_MAX_FS, "laplace fs")
        decay = _check_range(decay, 0, _LAPLACE_MAX_DECAY, "laplace decay")
        fl = 0
        if value:
            s = -1 if value < 0 else 0
            mag = -value if s else value
            fl = fs
            fs = _laplace_freq1(fs, decay)
            # Walk the geometrically decaying part: each magnitude is a [neg, pos] pair.
            i = 1
            while fs > 0 and i < mag:
                fs *= 2
                fl += fs + 2 * _LAPLACE_MINP
                fs = (fs * decay) >> 15
                i += 1
            if fs == 0:
                # Tail: every magnitude has probability MINP; clamp to the last one that fits.
                ndi_max = (_LAPLACE_FT - fl + _LAPLACE_MINP - 1)  # >> LAPLACE_LOG_MINP (= 0)
                ndi_max = (ndi_max - s) >> 1
                di = min(mag - i, ndi_max - 1)
                fl += (2 * di + 1 + s) * _LAPLACE_MINP
                fs = min(_LAPLACE_MINP, _LAPLACE_FT - fl)
                value = (i + di) if s == 0 else -(i + di)
            else:
                fs += _LAPLACE_MINP
                if s == 0:
                    fl += fs
            if fs <= 0 or fl + fs > _LAPLACE_FT:
                raise RangeCoderError(f"laplace model overflow (fs={fs}, decay={decay})",
                                      offset=self._offs)
        self._encode(fl, fl + fs, _LAPLACE_FT, self._rng >> _LAPLACE_FTB)
        return value

    def laplace_p0(self, value: int, p0: int, decay: int) -> None:
        """DRED Laplace coder with explicit P(0) (specs 03 §5.2): p0 and decay in Q15 (0..32767).

        DRED passes p0 = p0_q8 << 7 and decay = r_q8 << 7 (specs 05).
        """
        self._check_open()
        value = _int(value, "laplace_p0 value")
        p0 = _check_range(p0, 0, _P0_MAX, "p0")
        decay = _check_range(decay, 0, _P0_MAX, "laplace_p0 decay")
        sym = 0 if value == 0 else (1 if value > 0 else 2)
        self._icdf(sym, laplace_p0_sign_icdf(p0), _LAPLACE_FTB)
        if value:
            table = laplace_p0_mag_icdf(decay)
            m = abs(value) - 1
            while True:
                self._icdf(min(m, 7), table, _LAPLACE_FTB)
                m -= 7
                if m < 0:
                    break

    def patch_initial_bits(self, val: int, nbits: int) -> None:
        """Overwrite the first nbits (1..8) coded bits with val (libopus ec_enc_patch_initial_bits;
        SILK uses it for its VAD/LBRR header flags). Sets `error` if they are not yet fixed."""
        self._check_open()
        nbits = _check_range(nbits, 1, 8, "nbits")
        val = _check_range(val, 0, (1 << nbits) - 1, "patch value")
        shift = _SYM_BITS - nbits
        mask = ((1 << nbits) - 1) << shift
        if self._offs > 0:
            self._buf[0] = (self._buf[0] & ~mask & 0xFF) | (val << shift)
        elif self._rem >= 0:
            self._rem = (self._rem & ~mask) | (val << shift)
        elif self._rng <= (_CODE_TOP >> nbits):
            self._val = (self._val & ~(mask << _CODE_SHIFT)) | (val << (_CODE_SHIFT + shift))
        else:
            self.error = True

    # -- buffer management --------------------------------------------------------------------
    def shrink(self, size: int) -> None:
        """Cut the buffer to `size` bytes, moving the raw-bit bytes to the new end
        (libopus ec_enc_shrink; DRED shrinks to ceil(tell/8) before finishing)."""
        self._check_open()
        size = _check_range(size, self._offs + self._end_offs, self._storage, "shrink size")
        n = self._end_offs
        buf = self._buf
        buf[size - n:size] = buf[self._storage - n:self._storage]
        del buf[size:]
        self._storage = size

    def finish(self) -> bytes:
        """Flush the final bits (RFC 6716 s5.1.5, ec_enc_done) and return all `storage` bytes.

        Range bytes sit at the front, raw bits at the back, zeros in between. Idempotent.
        """
        if self._done:
            return self._result
        self._done = True
        # Emit the fewest bits that pin a value inside [val, val + rng).
        rng, val = self._rng, self._val
        l = 32 - rng.bit_length()
        msk = _CODE_MASK >> l
        end = (val + msk) & ~msk & _MASK32
        if (end | msk) >= val + rng:
            l += 1
            msk >>= 1
            end = (val + msk) & ~msk & _MASK32
        while l > 0:
            self._carry_out(end >> _CODE_SHIFT)
            end = (end << _SYM_BITS) & _CODE_MASK
            l -= _SYM_BITS
        if self._rem >= 0 or self._ext > 0:
            self._carry_out(0)
        window = self._end_window
        used = self._nend_bits
        while used >= _SYM_BITS:
            self._write_byte_at_end(window & 0xFF)
            window >>= _SYM_BITS
            used -= _SYM_BITS
        if not self.error:
            buf = self._buf
            gap_end = self._storage - self._end_offs
            buf[self._offs:gap_end] = bytes(gap_end - self._offs)
            if used > 0:
                if self._end_offs >= self._storage:
                    self.error = True
                else:
                    free = -l            # unused low bits of the last range-coded byte
                    if self._offs + self._end_offs >= self._storage and free < used:
                        window &= (1 << free) - 1
                        self.error = True
                    buf[self._storage - self._end_offs - 1] |= window & 0xFF
        self._result = bytes(self._buf[:self._storage])
        return self._result


class RangeDecoder(_RangeCoder):
    """Range decoder over `data` (RFC 6716 s4.1, specs 03 §3).

    Reading past the data yields zero bits, as RFC 6716 s4.1.2 requires; it never raises
    for that. `error` follows libopus: it is set only when uint() decodes a value >= ft
    (a corrupt frame). Callers detect running out of data with ``tell() > 8 * len(data)``.
    """

    __slots__ = ("_buf", "_ext", "_pending_ft")

    def __init__(self, data: bytes):
        try:
            buf = bytes(memoryview(data))     # bytes-like only (bytes(12) would be 12 zeros)
        except TypeError:
            raise RangeCoderError(f"decoder data must be bytes, got {type(data).__name__}") from None
        self._buf = buf
        self._storage = len(buf)
        self._end_offs = 0
        self._end_window = 0
        self._nend_bits = 0
        self._nbits_total = 9            # 33 - 3*8 (RFC 6716 s4.1.1): tell() starts at 1
        self._offs = 0
        self._rng = 1 << _CODE_EXTRA
        self._rem = self._read_byte()
        self._val = self._rng - 1 - (self._rem >> (_SYM_BITS - _CODE_EXTRA))
        self.error = False
        self._ext = 0
        self._pending_ft = 0              # ft of an ec_decode() awaiting its update()
        self._normalize()

    def _read_byte(self) -> int:
        if self._offs < self._storage:
            b = self._buf[self._offs]
            self._offs += 1
            return b
        return 0

    def _normalize(self) -> None:
        # RFC 6716 s4.1.2.1: pull in a byte while rng <= 2^23; the low bit of the previous
        # byte and the top 7 bits of the new one form the next 8 bits of val.
        rng = self._rng
        if rng > _CODE_BOT:
            return
        val, rem, offs = self._val, self._rem, self._offs
        buf, storage = self._buf, self._storage
        nbits = self._nbits_total
        while rng <= _CODE_BOT:
            nbits += _SYM_BITS
            rng <<= _SYM_BITS
            sym = rem
            if offs < storage:
                rem = buf[offs]
                offs += 1
            else:
                rem = 0
            sym = ((sym << _SYM_BITS) | rem) >> (_SYM_BITS - _CODE_EXTRA)
            val = ((val << _SYM_BITS) + (255 & ~sym)) & _CODE_MASK
        self._rng, self._val, self._rem, self._offs = rng, val, rem, offs
        self._nbits_total = nbits

    # -- symbols ------------------------------------------------------------------------------
    def decode(self, ft: int) -> int:
        """First half of a symbol (RFC s4.1.2): the cumulative frequency fs in [0, ft).
        The caller finds the symbol with fl <= fs < fh and calls update(fl, fh, ft)."""
        ft = _check_range(ft, 1, 65535, "ft")
        self._ext = self._rng // ft
        self._pending_ft = ft
        s = self._val // self._ext
        return ft - min(s + 1, ft)

    def decode_bin(self, bits: int) -> int:
        """decode() with ft = 2^bits (0 <= bits <= 16)."""
        bits = _check_range(bits, 0, 16, "bits")
        self._ext = self._rng >> bits
        ft = 1 << bits
        self._pending_ft = ft
        s = self._val // self._ext
        return ft - min(s + 1, ft)

    def _update(self, fl: int, fh: int, ft: int) -> None:
        # RFC 6716 s4.1.2: val stays u32 (libopus wraps it when fl/fh do not match fs).
        s = self._ext * (ft - fh)
        self._val = (self._val - s) & _MASK32
        if fl > 0:
            self._rng = self._ext * (fh - fl)
        else:
            self._rng -= s
        self._normalize()

    def update(self, fl: int, fh: int, ft: int) -> None:
        """Second half of a symbol: consume [fl, fh) of ft (same ft as the decode() call)."""
        if not self._pending_ft:
            raise RangeCoderError("update() without a preceding decode()/decode_bin()",
                                  offset=self._offs)
        ft = _int(ft, "ft")
        if ft != self._pending_ft:
            raise RangeCoderError(f"update ft={ft} differs from decode ft={self._pending_ft}",
                                  offset=self._offs)
        fl = _check_range(fl, 0, ft - 1, "fl")
        fh = _check_range(fh, fl + 1, ft, "fh")
        self._pending_ft = 0
        self._update(fl, fh, ft)

    def bit_logp(self, logp: int) -> int:
        """One bit with P(1) = 2^-logp, 1 <= logp <= 23 (RFC s4.1.3.2)."""
        logp = _check_range(logp, 1, 23, "logp")
        r = self._rng
        d = self._val
        s = r >> logp
        if d < s:
            self._rng = s
            bit = 1
        else:
            self._val = d - s
            self._rng = r - s
            bit = 0
        self._normalize()
        return bit

    def _icdf(self, icdf, ftb: int) -> int:
        # RFC 6716 s4.1.3.3: first k with val >= r * icdf[k].
        t = self._rng
        d = self._val
        r = t >> ftb
        k = 0
        s = r * icdf[0]
        while d < s:
            k += 1
            t = s
            s = r * icdf[k]
        rng = t - s
        if rng == 0:
            # Reachable only after update() with fl/fh not matching the decoded fs.
            raise RangeCoderError("range collapsed to zero (inconsistent update() earlier)",
                                  offset=self._offs)
        self._val = d - s
        self._rng = rng
        self._normalize()
        return k

    def icdf(self, icdf, ftb: int) -> int:
        """Symbol from an 8-bit inverse-CDF table of total 2^ftb, ftb <= 8 (RFC s4.1.3.3)."""
        table, ftb = _check_icdf(icdf, ftb, 8, 255, "icdf")
        return self._icdf(table, ftb)

    def icdf16(self, icdf, ftb: int) -> int:
        """Symbol from a 16-bit inverse-CDF table of total 2^ftb, ftb <= 16 (ec_dec_icdf16)."""
        table, ftb = _check_icdf(icdf, ftb, 16, 65535, "icdf16")
        return self._icdf(table, ftb)

    def _bits(self, ftb: int) -> int:
        # RFC 6716 s4.1.4: raw bits LSB-first from the end of the buffer, zeros once exhausted.
        window = self._end_window
        avail = self._nend_bits
        if avail < ftb:
            buf, storage, end_offs = self._buf, self._storage, self._end_offs
            while True:
                if end_offs < storage:
                    end_offs += 1
                    window |= buf[storage - end_offs] << avail
                avail += _SYM_BITS
                if avail > _WINDOW_SIZE - _SYM_BITS:
                    break
            self._end_offs = end_offs
        ret = window & ((1 << ftb) - 1)
        self._end_window = window >> ftb
        self._nend_bits = avail - ftb
        self._nbits_total += ftb
        return ret

    def bits(self, ftb: int) -> int:
        """ftb raw bits (0..25) from the end of the buffer (RFC s4.1.4)."""
        return self._bits(_check_range(ftb, 0, MAX_RAW_BITS, "ftb"))

    def uint(self, ft: int) -> int:
        """Integer in [0, ft), 2 <= ft <= 2^32-1 (RFC s4.1.5). A decoded value >= ft (corrupt
        data) sets `error` and returns ft-1, as libopus does."""
        ft = _check_range(ft, 2, _MASK32, "ft")
        ftm1 = ft - 1
        ftb = ftm1.bit_length()
        if ftb > _UINT_BITS:
            ftb -= _UINT_BITS
            top = (ftm1 >> ftb) + 1
            self._ext = self._rng // top
            s = top - min(self._val // self._ext + 1, top)
            self._update(s, s + 1, top)
            t = (s << ftb) | self._bits(ftb)
            if t <= ftm1:
                return t
            self.error = True
            return ftm1
        self._ext = self._rng // ft
        s = ft - min(self._val // self._ext + 1, ft)
        self._update(s, s + 1, ft)
        return s

    def laplace(self, fs: int, decay: int) -> int:
        """CELT coarse-energy Laplace decoder (RFC 6716 s4.3.2.1, specs 03 §5.1); fs = P(0)*32768
        (1..32736), decay Q14 (0..16383)."""
        fs = _check_range(fs, 1, _LAPLACE_MAX_FS, "laplace fs")
        decay = _check_range(decay, 0, _LAPLACE_MAX_DECAY, "laplace decay")
        self._ext = self._rng >> _LAPLACE_FTB
        fm = _LAPLACE_FT - min(self._val // self._ext + 1, _LAPLACE_FT)
        val = 0
        fl = 0
        if fm >= fs:
            val = 1
            fl = fs
            fs = _laplace_freq1(fs, decay) + _LAPLACE_MINP
            while fs > _LAPLACE_MINP and fm >= fl + 2 * fs:
                fs *= 2
                fl += fs
                fs = (((fs - 2 * _LAPLACE_MINP) * decay) >> 15) + _LAPLACE_MINP
                val += 1
            if fs <= _LAPLACE_MINP:
                di = (fm - fl) >> 1                # >> (LAPLACE_LOG_MINP + 1)
                val += di
                fl += 2 * di * _LAPLACE_MINP
            if fm < fl + fs:
                val = -val
            else:
                fl += fs
        self._update(fl, min(fl + fs, _LAPLACE_FT), _LAPLACE_FT)
        return val

    def laplace_p0(self, p0: int, decay: int) -> int:
        """DRED Laplace decoder with explicit P(0) (specs 03 §5.2); p0, decay Q15 (0..32767)."""
        p0 = _check_range(p0, 0, _P0_MAX, "p0")
        decay = _check_range(decay, 0, _P0_MAX, "laplace_p0 decay")
        sign = self._icdf(laplace_p0_sign_icdf(p0), _LAPLACE_FTB)
        if sign == 0:
            return 0
        table = laplace_p0_mag_icdf(decay)
        mag = 1
        while True:
            v = self._icdf(table, _LAPLACE_FTB)
            mag += v
            if v != 7:
                break
        return -mag if sign == 2 else mag
