"""Conformance comparison of decoded features and audio (in the spirit of libopus dred_compare).

The decoded *features* are normative: they must match the reference within tight per-dimension
bounds (only floating-point evaluation order may differ between machines). The *audio* is
not: vocoders need not be bit-exact, so it is compared loosely through its 10 ms energy
envelope. Tolerances are stated here and in ``test_vectors/README.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Per-dimension feature tolerances: |ref - got| above ``FEATURE_TOL`` counts as an outlier;
#: at most ``MAX_OUTLIER_FRACTION`` of the frames may be outliers in any dimension, and the
#: mean absolute error of each dimension must stay below ``FEATURE_MEAN_TOL``.
#: Dims 0-17: cepstrum (log10 band energies, DCT); 18: pitch; 19: pitch correlation (specs 07).
FEATURE_TOL = np.array([0.05] * 18 + [0.02, 0.05])
FEATURE_MEAN_TOL = np.array([0.005] * 18 + [0.002, 0.005])
MAX_OUTLIER_FRACTION = 0.01

#: Audio: 10 ms frame energies in dB (floor at -10 dB re 1 int16 unit^2), compared over frames
#: where either signal is above ``AUDIO_FLOOR_DB``.
AUDIO_FRAME = 160
AUDIO_FLOOR_DB = 20.0
AUDIO_MEAN_DB = 1.0
AUDIO_P95_DB = 3.0


@dataclass
class Comparison:
    """Outcome of a comparison: ``ok`` and one line per problem in ``problems``."""

    ok: bool = True
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)

    def __str__(self) -> str:
        return "ok" if self.ok else "; ".join(self.problems)


def compare_features(ref: np.ndarray, got: np.ndarray) -> Comparison:
    """Check decoded features (n, 20) against the reference with the per-dimension bounds."""
    res = Comparison()
    ref = np.asarray(ref, np.float64).reshape(-1, 20)
    got = np.asarray(got, np.float64).reshape(-1, 20)
    if ref.shape != got.shape:
        res.fail(f"feature frames differ in number: {ref.shape[0]} vs {got.shape[0]}")
        return res
    if not np.all(np.isfinite(got)):
        res.fail("non-finite decoded features")
        return res
    err = np.abs(ref - got)
    mean = err.mean(axis=0) if len(err) else np.zeros(20)
    frac = (err > FEATURE_TOL).mean(axis=0) if len(err) else np.zeros(20)
    res.stats = {"max_err": float(err.max(initial=0.0)), "mean_err": mean.tolist(), "outliers": frac.tolist()}
    for d in range(20):
        if frac[d] > MAX_OUTLIER_FRACTION:
            res.fail(f"feature {d}: {100 * frac[d]:.1f}% of frames off by more than {FEATURE_TOL[d]}")
        elif mean[d] > FEATURE_MEAN_TOL[d]:
            res.fail(f"feature {d}: mean error {mean[d]:.4f} above {FEATURE_MEAN_TOL[d]}")
    return res


def energy_db(x: np.ndarray, frame: int = AUDIO_FRAME) -> np.ndarray:
    """10 ms frame energies in dB (int16 units), floored at -10 dB."""
    x = np.asarray(x, np.float64).reshape(-1)
    n = x.shape[0] // frame
    e = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    return 10 * np.log10(e + 0.1)


def compare_audio(ref: np.ndarray, got: np.ndarray) -> Comparison:
    """Loose audio check: equal length, and 10 ms energy envelopes within a few dB."""
    res = Comparison()
    ref = np.asarray(ref).reshape(-1)
    got = np.asarray(got).reshape(-1)
    if ref.shape != got.shape:
        res.fail(f"audio lengths differ: {ref.shape[0]} vs {got.shape[0]} samples")
        return res
    a, b = energy_db(ref), energy_db(got)
    active = (a > AUDIO_FLOOR_DB) | (b > AUDIO_FLOOR_DB)
    d = np.abs(a - b)[active]
    if d.size == 0:
        res.stats = {"active_frames": 0}
        return res
    mean, p95 = float(d.mean()), float(np.percentile(d, 95))
    res.stats = {"active_frames": int(d.size), "mean_db": mean, "p95_db": p95}
    if mean > AUDIO_MEAN_DB:
        res.fail(f"audio envelope differs by {mean:.2f} dB on average (bound {AUDIO_MEAN_DB})")
    if p95 > AUDIO_P95_DB:
        res.fail(f"audio envelope 95th-percentile difference {p95:.2f} dB (bound {AUDIO_P95_DB})")
    return res
