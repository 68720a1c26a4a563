"""Range coder throughput (pure Python): per-op cost and a DRED-sized payload.

Usage: .venv/bin/python bench/bench_rangecoder.py [--repeat N]
Prints a table of microseconds per operation for encode and decode, and the decode/encode ratio
measured in the same run.
"""
from __future__ import annotations

import argparse
import random
import time

from mlcodec.bitstream.rangecoder import RangeDecoder, RangeEncoder

_ICDF8 = (230, 180, 120, 60, 20, 0)
_ICDF16 = (30000, 20000, 9000, 2000, 0)


def _script(kind: str, n: int, rnd: random.Random) -> list[tuple]:
    ops = []
    for _ in range(n):
        if kind == "encode":
            ops.append((rnd.randrange(0, 100), 1000))
        elif kind == "bit_logp":
            ops.append((int(rnd.random() < 0.1), 3))
        elif kind == "icdf":
            ops.append((rnd.randrange(0, 6),))
        elif kind == "icdf16":
            ops.append((rnd.randrange(0, 5),))
        elif kind == "uint":
            ops.append((rnd.randrange(0, 100000), 100000))
        elif kind == "bits":
            ops.append((rnd.randrange(0, 1 << 12), 12))
        elif kind == "laplace":
            ops.append((int(rnd.gauss(0, 3)), 8192, 8192))
        elif kind == "laplace_p0":
            ops.append((int(rnd.gauss(0, 2)), 160 << 7, 120 << 7))
    return ops


def _encode(kind: str, ops: list[tuple]) -> bytes:
    enc = RangeEncoder(8 * len(ops) + 64)
    if kind == "encode":
        for fl, ft in ops:
            enc.encode(fl, fl + 1, ft)
    elif kind == "bit_logp":
        for v, logp in ops:
            enc.bit_logp(v, logp)
    elif kind == "icdf":
        for (s,) in ops:
            enc.icdf(s, _ICDF8, 8)
    elif kind == "icdf16":
        for (s,) in ops:
            enc.icdf16(s, _ICDF16, 15)
    elif kind == "uint":
        for v, ft in ops:
            enc.uint(v, ft)
    elif kind == "bits":
        for v, n in ops:
            enc.bits(v, n)
    elif kind == "laplace":
        for v, fs, decay in ops:
            enc.laplace(v, fs, decay)
    elif kind == "laplace_p0":
        for v, p0, decay in ops:
            enc.laplace_p0(v, p0, decay)
    return enc.finish()


def _decode(kind: str, ops: list[tuple], data: bytes) -> None:
    dec = RangeDecoder(data)
    if kind == "encode":
        for _fl, ft in ops:
            fs = dec.decode(ft)
            dec.update(fs, fs + 1, ft)
    elif kind == "bit_logp":
        for _v, logp in ops:
            dec.bit_logp(logp)
    elif kind == "icdf":
        for _ in ops:
            dec.icdf(_ICDF8, 8)
    elif kind == "icdf16":
        for _ in ops:
            dec.icdf16(_ICDF16, 15)
    elif kind == "uint":
        for _v, ft in ops:
            dec.uint(ft)
    elif kind == "bits":
        for _v, n in ops:
            dec.bits(n)
    elif kind == "laplace":
        for _v, fs, decay in ops:
            dec.laplace(fs, decay)
    elif kind == "laplace_p0":
        for _v, p0, decay in ops:
            dec.laplace_p0(p0, decay)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ops", type=int, default=2000)
    args = ap.parse_args()
    rnd = random.Random(1)
    print(f"{'operation':<12} {'enc us/op':>10} {'dec us/op':>10} {'dec/enc':>8}")
    for kind in ("encode", "bit_logp", "icdf", "icdf16", "uint", "bits", "laplace", "laplace_p0"):
        ops = _script(kind, args.ops, rnd)
        data = _encode(kind, ops)
        te = _best(lambda: _encode(kind, ops), args.repeat) / len(ops) * 1e6
        td = _best(lambda: _decode(kind, ops, data), args.repeat) / len(ops) * 1e6
        print(f"{kind:<12} {te:>10.2f} {td:>10.2f} {td / te:>8.2f}")
    # A DRED-like payload: 5 header symbols + 4 chunks of 20 latents (laplace_p0) + 20 state.
    vals = _script("laplace_p0", 100, rnd)

    def dred_enc() -> bytes:
        enc = RangeEncoder(200)
        enc.uint(6, 16)
        enc.uint(3, 8)
        enc.uint(0, 2)
        enc.uint(10, 32)
        enc.encode(0, 7, 14)
        for v, p0, decay in vals:
            enc.laplace_p0(v, p0, decay)
        enc.shrink((enc.tell() + 7) // 8)
        return enc.finish()

    data = dred_enc()

    def dred_dec() -> None:
        dec = RangeDecoder(data)
        for ft in (16, 8, 2, 32):
            dec.uint(ft)
        fs = dec.decode(14)
        dec.update(0 if fs < 7 else 7, 7 if fs < 7 else 14, 14)
        for _v, p0, decay in vals:
            dec.laplace_p0(p0, decay)

    te = _best(dred_enc, args.repeat * 20) * 1e6
    td = _best(dred_dec, args.repeat * 20) * 1e6
    print(f"\nDRED-like payload (105 symbols, {len(data)} bytes): encode {te:.0f} us, "
          f"decode {td:.0f} us, dec/enc {td / te:.2f}")


if __name__ == "__main__":
    main()
