"""Training data for our pitch network: PitchDNN's inputs and libopus PitchDNN's logits as labels.

    python -m train.pitch.data [--hours 1.0] [--seed 1] [--weights ../shared/libopus/pitchdnn_arrays.bin]

For a seeded selection of training-speaker files (``train.data.split``: the evaluation pool and
all its speakers excluded), each file is scaled by a seeded random gain (-18..+6 dB, so the
level-dependent IF magnitudes vary), analysed with our port of libopus's feature analysis
(``mlcodec.libopus.lpcnet_analysis.analyze``: 88 IF + 224 xcorr features per 10 ms frame,
specs 07 s5.2) and labelled with the 180 logits of libopus's PitchDNN run on our int8 core
(libopus's weights, read at training time only: never shipped or committed). One ``.npz`` per
file under ``/work/cache/pitch`` (``$MLCODEC_PITCH_CACHE``): ``iff`` (T, 88), ``xcf`` (T, 224),
``logits`` (T, 180), float16.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEECH = ROOT.parent / "shared" / "data" / "speech"
DEFAULT_CACHE = Path(os.environ.get("MLCODEC_PITCH_CACHE", "/work/cache/pitch"))
DEFAULT_WEIGHTS = ROOT.parent / "shared" / "libopus" / "pitchdnn_arrays.bin"


def pitch_inputs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(iff (T, 88), xcf (T, 224), lpw (T, 416)) float32 of int16-unit audio, whole frames only."""
    from mlcodec.libopus import lpcnet_analysis as A
    from mlcodec.libopus import lpcnet_tables as TB

    pcm = np.ascontiguousarray(x, dtype=np.float32)
    t = pcm.shape[0] // 160
    pcm = pcm[: t * 160]
    st = np.zeros(A.STATE_SIZE, dtype=np.float32)
    feats = np.zeros((t, TB.NB_TOTAL_FEATURES), dtype=np.float32)
    iff = np.zeros((t, TB.PITCH_IF_FEATURES), dtype=np.float32)
    xcf = np.zeros((t, TB.NB_XCORR_FEATURES), dtype=np.float32)
    lpw = np.zeros((t, TB.PITCH_MAX_PERIOD + 160), dtype=np.float32)
    A.analyze(pcm, st, feats, iff, xcf, lpw)
    return iff, xcf, lpw


def select(files: list[str], rows: dict, hours: float, seed: int) -> list[str]:
    """Seeded shuffle of ``files``, cut when their duration reaches ``hours``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(files))
    out, total = [], 0.0
    for i in order:
        out.append(files[i])
        total += float(rows[files[i]]["duration_s"])
        if total >= hours * 3600:
            break
    return out


def cache_path(cache: Path, rel: str, tag: str = "") -> Path:
    return cache / f"{Path(rel).stem}-{hashlib.sha1(rel.encode()).hexdigest()[:16]}{tag}.npz"


def build(hours: float = 1.0, seed: int = 1, speech: Path = DEFAULT_SPEECH, cache: Path = DEFAULT_CACHE,
          weights: Path = DEFAULT_WEIGHTS, log=print, lower=None) -> list[Path]:
    """Compute (or reuse) the cached examples; returns their paths in selection order.

    ``lower=(a, b)``: each file is also slowed down by a seeded factor s in [a, b] (resampled by
    soxr to 16000/s Hz and read as 16 kHz), which lowers F0 and formants by s. The corpus has few
    low voices (under 2 % of the teacher's confident frames below 100 Hz); this fills them in.
    """
    sys.path.insert(0, str(ROOT))
    from train.data import manifest_rows, split
    from mlcodec.dsp.audio import read_audio
    from mlcodec.libopus.pitchdnn import PitchDNN

    rows = {r["path"]: r for r in manifest_rows(speech)}
    tr, _ = split(speech)
    files = select(sorted(tr), rows, hours, seed)
    rng = np.random.default_rng(seed + 1000)
    gains = 10 ** (rng.uniform(-18, 6, len(files)) / 20)
    factors = rng.uniform(*lower, len(files)) if lower else np.ones(len(files))
    tag = f"-low{seed}" if lower else ""
    net = PitchDNN(str(weights))
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (rel, g, sf) in enumerate(zip(files, gains, factors)):
        cp = cache_path(cache, rel, tag)
        paths.append(cp)
        if cp.exists():
            continue
        x = read_audio(Path(speech) / rel)
        if lower:
            import soxr

            x = soxr.resample(x.astype(np.float64), 16000, 16000 / sf, quality="HQ")
        x = np.clip(x * g, -32768, 32767)
        iff, xcf, _ = pitch_inputs(x)
        net.reset()
        lg = net.logits(iff, xcf)[:, :180]
        tmp = cp.with_suffix(f".tmp{os.getpid()}.npz")
        with open(tmp, "wb") as fh:
            np.savez(fh, iff=iff.astype(np.float16), xcf=xcf.astype(np.float16),
                     logits=lg.astype(np.float16))
        os.replace(tmp, cp)
        if log and (i + 1) % 100 == 0:
            log(f"pitch data: {i + 1}/{len(files)} files")
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speech", default=str(DEFAULT_SPEECH))
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--lower", default=None, help="a,b: slow-down factor range (lower voices)")
    a = ap.parse_args(argv)
    lower = tuple(float(v) for v in a.lower.split(",")) if a.lower else None
    p = build(a.hours, a.seed, Path(a.speech), Path(a.cache), Path(a.weights), lower=lower)
    n = sum(np.load(q)["iff"].shape[0] for q in p)
    print(f"{len(p)} files, {n} frames in {a.cache}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
