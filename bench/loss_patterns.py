"""Pure parts of the loss benchmark (bench/bench_loss.py): loss conditions, per-file packet
patterns, trace files and whole-file rates. Numpy only, so tests/test_bench_loss.py is fast.

A *condition* is a name: ``0`` (no loss), ``randP`` (independent loss of P %), ``burstP``
(Gilbert-Elliott, P % with a mean burst of ``burst`` packets) or ``lossgenP`` (the libopus
``lossgen_demo`` trace ``test_vectors/loss/lossgen_{P}pct_3000.txt``). One long pattern of
20 ms packets is made per condition and cut into consecutive per-file slices, so the files of
a run see different parts of it and every codec loses exactly the same packets.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

RATE = 16000
PACKET_MS = 20
PACKET = RATE * PACKET_MS // 1000  # samples per 20 ms packet

DEFAULT_CONDITIONS = ("0", "rand5", "rand10", "rand20", "rand30", "burst5", "burst10", "burst20",
                      "burst30", "lossgen5", "lossgen10", "lossgen20", "lossgen30")
_COND = re.compile(r"^(?:(0)|(rand|burst|lossgen)(\d+(?:\.\d+)?))$")


def parse_condition(name: str) -> tuple[str, float]:
    """``(kind, percent)`` of a condition name: ('none', 0), ('rand', 5), ('burst', 20), ..."""
    m = _COND.match(name.strip())
    if not m:
        raise ValueError(f"unknown loss condition {name!r} (0, randP, burstP or lossgenP)")
    if m.group(1):
        return "none", 0.0
    p = float(m.group(3))
    if not 0 <= p < 100:
        raise ValueError(f"loss condition {name!r}: percent outside 0..100")
    return m.group(2), p


def condition_label(name: str, burst: float) -> str:
    kind, p = parse_condition(name)
    pct = f"{p:g} %"
    return {"none": "0 %", "rand": f"random {pct}", "burst": f"Gilbert {pct}, burst {burst:g}",
            "lossgen": f"lossgen {pct}"}[kind]


def long_pattern(name: str, total: int, *, burst: float = 2.5, seed: int = 1,
                 trace_dir: Path | None = None) -> np.ndarray:
    """``total`` per-packet lost flags (bool) of condition ``name``. Random models come from
    ``mlcodec.codec.loss`` (seeded PCG64); a lossgen trace repeats from its start if too short."""
    kind, p = parse_condition(name)
    if kind == "none":
        return np.zeros(total, bool)
    if kind == "lossgen":
        if trace_dir is None:
            raise ValueError("lossgen conditions need trace_dir")
        path = Path(trace_dir) / f"lossgen_{p:g}pct_3000.txt"
        flags = read_trace(path.read_text())
        return np.resize(flags, total).astype(bool) if total else np.zeros(0, bool)
    from mlcodec.codec.loss import Bernoulli, GilbertElliott

    model = Bernoulli(p / 100, seed=seed) if kind == "rand" else GilbertElliott(p / 100, burst=burst, seed=seed)
    return np.asarray(model.flags(total), bool)


def packet_count(n_samples: int, packet: int = PACKET) -> int:
    """20 ms packets that carry ``n_samples`` of audio (the last one partly filled)."""
    return -(-int(n_samples) // packet)


def split_patterns(flags: np.ndarray, counts: list[int], *, keep_first: int = 1) -> list[np.ndarray]:
    """Consecutive slices of ``flags``, one of ``counts[i]`` packets per file; the first
    ``keep_first`` packets of each file are received (opus_demo emits nothing for packets lost
    before the first good one, which would shift its output)."""
    if sum(counts) > len(flags):
        raise ValueError(f"pattern of {len(flags)} packets is shorter than the files' {sum(counts)}")
    out, off = [], 0
    for c in counts:
        s = np.array(flags[off: off + c], bool)
        s[:keep_first] = False
        out.append(s)
        off += c
    return out


def trace_text(flags) -> str:
    """A loss trace: one ``0``/``1`` per line (1 = lost), as lossgen_demo writes and
    ``opus_demo -lossfile`` / ``mlcodec decode --loss-trace`` read."""
    return "".join("1\n" if f else "0\n" for f in np.asarray(flags, bool))


def read_trace(text: str) -> np.ndarray:
    """Flags of a trace (blank lines ignored)."""
    vals = [ln.strip() for ln in text.splitlines() if ln.strip()]
    bad = [v for v in vals if v not in ("0", "1")]
    if bad:
        raise ValueError(f"trace value {bad[0]!r} is not 0 or 1")
    return np.array([v == "1" for v in vals], bool)


def loss_stats(patterns: list[np.ndarray]) -> tuple[float, float]:
    """Loss rate and mean burst length (packets) over all per-file patterns."""
    lost = n = 0
    bursts: list[int] = []
    for s in patterns:
        s = np.asarray(s, bool)
        lost += int(s.sum())
        n += len(s)
        run = 0
        for f in s:
            if f:
                run += 1
            elif run:
                bursts.append(run)
                run = 0
        if run:
            bursts.append(run)
    return (lost / n if n else 0.0), (float(np.mean(bursts)) if bursts else 0.0)


def kbps(nbytes: int, n_samples: int, rate: int = RATE) -> float:
    """Whole-file rate in kb/s: bytes x 8 / duration of the input."""
    return nbytes * 8 / (n_samples / rate) / 1000


def paired_drop(clean: list[float], lossy: list[float]) -> tuple[float, float]:
    """Mean per-file drop (clean - lossy) and its 95 % half-interval (1.96 standard errors)."""
    d = np.asarray(clean, float) - np.asarray(lossy, float)
    if len(d) < 2:
        return float(d.mean()) if len(d) else float("nan"), float("nan")
    return float(d.mean()), float(1.96 * d.std(ddof=1) / np.sqrt(len(d)))
