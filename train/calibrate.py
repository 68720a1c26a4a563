"""Measure the exported model on the evaluation subset and pick the bit-rate presets.

Runs the run-time code (``mlcodec.codec.model``, int8 fixed-point path and float path) on the
50 evaluation files: encoder once per file, then for every level quantize, count the ideal
Laplace-p0 bits, decode, and measure the feature-domain distortion. Presets are the levels
whose mean payload per 20 ms packet (whole range-coder bytes after the format-version byte,
``model.packet_payload_bits``, the "payload kb/s" of docs/format.md s5) is closest (in log
rate) to 1.5, 3 and 6 kb/s.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

TARGETS_BPS = {"1.5k": 1500.0, "3k": 3000.0, "6k": 6000.0}
PACKET_S = 0.020


def feature_metrics(ref: np.ndarray, out: np.ndarray) -> dict:
    """Band-energy RMS error (dB), pitch error (cents, voiced frames), correlation RMSE."""
    n = min(len(ref), len(out))
    ref, out = ref[:n].astype(np.float64), out[:n].astype(np.float64)
    # orthonormal DCT of log10 band energies: sum of squared cepstral errors = sum over bands
    ceps_db = 10.0 * np.sqrt(np.mean(np.sum((ref[:, :18] - out[:, :18]) ** 2, 1) / 18.0))
    voiced = ref[:, 19] > 0.1
    dp = np.abs(ref[:, 18] - out[:, 18]) * 1200.0
    return {
        "band_db_rms": float(ceps_db),
        "pitch_cents_median_voiced": float(np.median(dp[voiced])) if voiced.any() else 0.0,
        "pitch_gross_err_pct": float(100.0 * np.mean(dp[voiced] > 100.0)) if voiced.any() else 0.0,
        "corr_rmse": float(np.sqrt(np.mean((ref[:, 19] - out[:, 19]) ** 2))),
        "frames": int(n),
    }


def _mean_metrics(ms: list[dict], weights: list[int]) -> dict:
    w = np.asarray(weights, np.float64)
    return {k: float(np.sum([m[k] * wi for m, wi in zip(ms, w)]) / w.sum()) for k in ms[0] if k != "frames"}


def evaluate(model, feats_list: list[np.ndarray], levels=None, fixed_point=True) -> dict:
    """Per level: mean ideal bits per latent, payload kb/s, and feature metrics."""
    from mlcodec.codec.model import FRAMES_PER_LATENT, dequantize, packet_payload_bits, quantize, value_bits

    levels = range(model.nb_levels) if levels is None else levels
    zs = []
    for f in feats_list:
        n = (len(f) // FRAMES_PER_LATENT) * FRAMES_PER_LATENT
        zs.append(model.new_encoder(fixed_point=fixed_point).process(f[:n]))
    res = {}
    for lv in levels:
        t = model.quant_tables(lv)
        bits, pay, ms, ws = [], [], [], []
        for f, z in zip(feats_list, zs):
            q = quantize(z, t)
            b = value_bits(q, t)
            bits.append(b)
            pay.append(packet_payload_bits(b))
            out = model.new_decoder(lv, fixed_point=fixed_point).process(dequantize(q, t))
            ms.append(feature_metrics(f[: len(out)], out))
            ws.append(len(out))
        bits = np.concatenate(bits)
        pay = np.concatenate(pay)
        res[lv] = {"bits_per_latent": float(bits.mean()), "payload_kbps": float(pay.mean() / PACKET_S / 1000),
                   "latent_kbps": float(bits.mean() / PACKET_S / 1000), **_mean_metrics(ms, ws)}
    return res


def pick_presets(per_level: dict) -> list[int]:
    out = []
    for name, bps in TARGETS_BPS.items():
        best = min(per_level, key=lambda lv: abs(math.log(per_level[lv]["payload_kbps"] * 1000 / bps)))
        out.append(int(best))
    return out


def export_calibrated(tmodel, tables: dict, out: Path, eval_files: list[str], speech: Path) -> dict:
    """Write the blob twice: provisional presets, then the calibrated ones. Returns a report."""
    from mlcodec.codec.model import load_model
    from mlcodec.nn.weights import write_weights
    from train.data import file_features
    from train.export import build_records

    L = tmodel.arch.nb_levels
    feats = [file_features(p, speech) for p in eval_files]
    rec = build_records(tmodel, tables, [L - 1, L // 2, 0], np.zeros(L))
    write_weights(out, rec)
    m = load_model(out)
    per_level = evaluate(m, feats)
    presets = pick_presets(per_level)
    level_bits = np.array([per_level[lv]["bits_per_latent"] for lv in range(L)])
    rec = build_records(tmodel, tables, presets, level_bits)
    write_weights(out, rec)
    os.chmod(out, 0o644)
    m = load_model(out)
    flt = evaluate(m, feats, levels=presets, fixed_point=False)
    return {"checksum": m.checksum, "presets": m.PRESETS, "size_bytes": Path(out).stat().st_size,
            "per_level_int8": per_level, "presets_float": flt}
