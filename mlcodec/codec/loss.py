"""Packet-loss simulation: seeded loss models that say, packet by packet, whether it is lost.

Three models, each a deterministic stream of per-packet flags (``True`` = lost):

* :class:`Bernoulli` ``(p, seed)``: every packet lost independently with probability ``p``;
* :class:`GilbertElliott` ``(p, burst, seed)``: the two-state Gilbert model (all packets lost
  in the bad state, none in the good one) with overall loss ``p`` and mean burst length
  ``burst`` packets: P(bad -> good) = 1/burst, P(good -> bad) = p/(burst*(1-p));
* :class:`Trace`: a recorded per-packet trace, one ``0`` or ``1`` per line (1 = lost), the
  format libopus's ``lossgen_demo`` writes and ``opus_demo -lossfile`` reads. After its last
  line no packet is lost, as ``opus_demo`` does when the file runs out.

:func:`apply` replaces the lost packets of an iterable by ``None`` (the decoder conceals
their duration). Random models draw from NumPy's PCG64 seeded with ``seed``, so the same
seed gives the same flags on every platform, however the flags are requested (one at a
time or in blocks). See docs/loss.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol, TypeVar

import numpy as np

from mlcodec.errors import MlcodecError

T = TypeVar("T")


class LossModel(Protocol):
    """A deterministic per-packet loss process."""

    def flags(self, n: int) -> np.ndarray:
        """The lost flags (bool, ``True`` = lost) of the next ``n`` packets."""

    def reset(self) -> None:
        """Start again from the first packet (the same flags follow)."""


def _check_p(p, what: str = "loss probability") -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise MlcodecError(f"{what} {p!r} is not a number") from None
    if not 0.0 <= p <= 1.0:
        raise MlcodecError(f"{what} {p} outside 0..1")
    return p


def _check_n(n) -> int:
    n = int(n)
    if n < 0:
        raise MlcodecError(f"negative packet count {n}")
    return n


@dataclass
class Bernoulli:
    """Independent loss: each packet lost with probability ``p`` (0..1)."""

    p: float
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self.p = _check_p(self.p)
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(int(self.seed))

    def flags(self, n: int) -> np.ndarray:
        # One double per packet whatever the block size: blocks concatenate to the same stream.
        return self._rng.random(_check_n(n)) < self.p

    def to_json(self) -> dict:
        return {"model": "bernoulli", "p": self.p, "seed": int(self.seed)}


@dataclass
class GilbertElliott:
    """Bursty loss: the two-state Gilbert model with overall loss ``p`` and mean burst
    length ``burst`` packets (>= 1). Bursts and gaps are geometric; the first state is drawn
    from the stationary distribution, so the loss rate is ``p`` from the first packet on."""

    p: float
    burst: float = 2.0
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)
    _state: bool = field(init=False, repr=False, default=False)
    _left: int = field(init=False, repr=False, default=0)

    def __post_init__(self):
        self.p = _check_p(self.p)
        try:
            self.burst = float(self.burst)
        except (TypeError, ValueError):
            raise MlcodecError(f"mean burst length {self.burst!r} is not a number") from None
        if not self.burst >= 1.0:
            raise MlcodecError(f"mean burst length {self.burst} packets is below 1")
        if self.p >= 1.0:
            raise MlcodecError("Gilbert-Elliott loss needs p < 1 (p = 1 loses every packet: use Bernoulli)")
        if self.p > 0 and self.p_good_to_bad > 1.0:
            raise MlcodecError(f"loss {self.p} with mean bursts of {self.burst} packets is impossible: the "
                               f"gaps would be shorter than one packet (need p <= {self.burst / (1 + self.burst):.3f})")
        self.reset()

    @property
    def p_bad_to_good(self) -> float:
        return 1.0 / self.burst

    @property
    def p_good_to_bad(self) -> float:
        return self.p / (self.burst * (1.0 - self.p))

    def reset(self) -> None:
        self._rng = np.random.default_rng(int(self.seed))
        self._state = bool(self._rng.random() < self.p)
        self._left = self._run_length(self._state)

    def _run_length(self, bad: bool) -> int:
        # Sojourn times of a two-state Markov chain are geometric (>= 1 packet).
        q = self.p_bad_to_good if bad else self.p_good_to_bad
        if q <= 0.0:
            return 1 << 62  # p == 0: never leave the good state
        return int(self._rng.geometric(q))

    def flags(self, n: int) -> np.ndarray:
        n = _check_n(n)
        out = np.zeros(n, dtype=bool)
        i = 0
        while i < n:
            k = min(self._left, n - i)
            out[i:i + k] = self._state
            i += k
            self._left -= k
            if self._left == 0:
                self._state = not self._state
                self._left = self._run_length(self._state)
        return out

    def to_json(self) -> dict:
        return {"model": "gilbert", "p": self.p, "burst": self.burst, "seed": int(self.seed)}


@dataclass
class Trace:
    """A recorded loss trace (``lost`` flags, one per packet); no loss after its end."""

    lost: np.ndarray
    name: str | None = None
    _pos: int = field(init=False, repr=False, default=0)

    def __post_init__(self):
        self.lost = np.asarray(self.lost, dtype=bool).reshape(-1)

    @classmethod
    def parse(cls, data: bytes | str, *, file: str | None = None) -> "Trace":
        """Parse a trace: one ``0`` or ``1`` per line (surrounding blanks allowed, blank lines
        only at the end). MlcodecError naming the file and line on anything else."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            try:
                text = bytes(data).decode("ascii")
            except UnicodeDecodeError as exc:
                line = bytes(data)[:exc.start].count(b"\n") + 1
                raise MlcodecError(f"line {line}: not a loss trace (non-ASCII byte)", file=file) from None
        else:
            text = str(data)
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        lost = np.zeros(len(lines), dtype=bool)
        for i, line in enumerate(lines):
            s = line.strip()
            if s not in ("0", "1"):
                shown = s if len(s) <= 20 else s[:20] + "..."
                raise MlcodecError(f"line {i + 1}: expected 0 or 1 (1 = lost), got {shown!r}"
                                   if s else f"line {i + 1}: empty line inside the trace", file=file)
            lost[i] = s == "1"
        if not len(lost):
            raise MlcodecError("empty loss trace", file=file)
        return cls(lost, name=file)

    @classmethod
    def read(cls, f, *, file: str | None = None) -> "Trace":
        """Parse the trace in a (binary or text) file object; ``file`` names it in errors
        (default: its ``name`` attribute)."""
        if file is None:
            n = getattr(f, "name", None)
            file = n if isinstance(n, str) else None
        return cls.parse(f.read(), file=file)

    def reset(self) -> None:
        self._pos = 0

    def flags(self, n: int) -> np.ndarray:
        n = _check_n(n)
        out = np.zeros(n, dtype=bool)
        seg = self.lost[self._pos:self._pos + n]
        out[:seg.size] = seg
        self._pos += n
        return out

    @property
    def loss_rate(self) -> float:
        return float(self.lost.mean()) if self.lost.size else 0.0

    def to_json(self) -> dict:
        return {"model": "trace", "file": self.name, "packets": int(self.lost.size),
                "loss_rate": round(self.loss_rate, 6)}


def apply(packets: Iterable[T], model: LossModel) -> Iterator[T | None]:
    """The packets in order, each lost one replaced by ``None``. Apply it to the audio packets
    only (a stream's header packets are not subject to loss)."""
    for pkt in packets:
        yield None if model.flags(1)[0] else pkt


def burst_lengths(lost) -> np.ndarray:
    """Lengths of the runs of consecutive lost packets (for statistics and docs)."""
    x = np.concatenate([[0], np.asarray(lost, dtype=np.int8), [0]])
    d = np.diff(x)
    return np.nonzero(d == -1)[0] - np.nonzero(d == 1)[0]


def make_model(kind: str, *, p: float = 0.0, burst: float = 2.0, seed: int = 0) -> LossModel:
    """A random model by name: ``"bernoulli"`` (alias ``"random"``) or ``"gilbert"``."""
    k = str(kind).lower()
    if k in ("bernoulli", "random"):
        return Bernoulli(p, seed)
    if k in ("gilbert", "gilbert-elliott", "ge"):
        return GilbertElliott(p, burst, seed)
    raise MlcodecError(f"unknown loss model {kind!r} (bernoulli, gilbert)")


__all__ = ["LossModel", "Bernoulli", "GilbertElliott", "Trace", "apply", "burst_lengths", "make_model"]
