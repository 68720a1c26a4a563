"""Export a trained checkpoint to an mlcodec weights blob (libopus record format, specs 06).

    python -m train.export --ckpt RUN/ckpt.pt --out mlcodec/models/codec_v1.bin

Steps:
1. fold the feature normalisation into ``enc_dense1``/``dec_output`` and the per-dimension
   quantizer normalisation (scales / max over levels, specs 05 s5) into ``enc_zdense`` and
   ``dec_dense1``;
2. quantise every layer except the two float input layers to int8 with the inference core's
   exporter helper (libopus rules, specs 06 s5.1: per-output step, pair-sum bound /129, 8x4
   blocks, ``_subias``), keeping float copies for the float reference path;
3. build the DRED-style tables per level and dimension (specs 05 s5): ``scale_q8`` and
   ``dead_zone_q8`` from the learned parameters, ``r_q8``/``p0_q8`` fitted by maximum
   likelihood to the quantized latents of training data (so the Laplace-p0 coder's model
   matches what the encoder really emits);
4. calibrate the bit-rate presets on the evaluation subset with the run-time int8 encoder.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from train.config import CODEC_BLOB_VERSION, NB_FEATURES, ArchConfig

FLOAT_LAYERS = ("enc_dense1", "dec_dense1")


# int8 quantisation and record layout are the inference core's exporter helpers
# (mlcodec.nn.layers.linear_records / quantize_weights: specs 06 s2, s3.2, s5.1).


# --- folding -------------------------------------------------------------------------------

def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _gru(g) -> tuple:
    """torch GRU (gates r, z, n) -> ((W_in, b_in), (W_rec, b_rec)), (in, 3H), gates [z | r | h]."""
    H = g.hidden_size

    def reorder(m):
        return np.concatenate([m[H:2 * H], m[:H], m[2 * H:]], 0)

    wi, wh = reorder(_np(g.weight_ih_l0)), reorder(_np(g.weight_hh_l0))
    bi, bh = reorder(_np(g.bias_ih_l0)), reorder(_np(g.bias_hh_l0))
    return (wi.T, bi), (wh.T, bh)


def folded_layers(model) -> tuple[dict, np.ndarray]:
    """Float layers {name: (W (in,out), bias)} with all normalisations folded, and m (latent dim)."""
    a = model.arch
    mean, std = _np(model.feat_mean), _np(model.feat_std)
    K = a.frames_per_latent
    L = {}
    w1, b1 = _np(model.enc_dense1.weight), _np(model.enc_dense1.bias)   # (out, in)
    mk, sk = np.tile(mean, K), np.tile(std, K)
    L["enc_dense1"] = ((w1 / sk[None, :]).T, b1 - (w1 * (mk / sk)[None, :]).sum(1))
    for g in ("enc_gru1", "enc_gru2"):
        (wi, bi), (wh, bh) = _gru(getattr(model, g))
        L[f"{g}_input"] = (wi, bi)
        L[f"{g}_recurrent"] = (wh, bh)
    wc = _np(model.enc_conv1.weight)  # (out, in, k)
    L["enc_conv1"] = (wc.transpose(2, 1, 0).reshape(-1, wc.shape[0]), _np(model.enc_conv1.bias))
    scale = _np(model.q_scale())   # (levels, D)
    m = scale.max(0) * 256.0 / 255.0
    wz, bz = _np(model.enc_zdense.weight), _np(model.enc_zdense.bias)
    L["enc_zdense"] = ((wz * m[:, None]).T, bz * m)
    wd, bd = _np(model.dec_dense1.weight), _np(model.dec_dense1.bias)  # (out, D+1)
    wd = wd.copy()
    wd[:, : a.latent_dim] /= m[None, :]
    L["dec_dense1"] = (wd.T, bd)
    for g in ("dec_gru1", "dec_gru2"):
        (wi, bi), (wh, bh) = _gru(getattr(model, g))
        L[f"{g}_input"] = (wi, bi)
        L[f"{g}_recurrent"] = (wh, bh)
    wo, bo = _np(model.dec_output.weight), _np(model.dec_output.bias)
    so, mo = np.tile(std, K), np.tile(mean, K)
    L["dec_output"] = ((wo * so[:, None]).T, bo * so + mo)
    return L, m


def base_tables(model, m: np.ndarray) -> dict:
    """scale_q8 (1..255) and dead_zone_q8 per level x dim, layout level*dim + i (specs 05 s5)."""
    scale = _np(model.q_scale())
    scale_q8 = np.clip(np.round(256.0 * scale / m[None, :]), 1, 255).astype(np.int32)
    dz_q8 = np.clip(np.round(256.0 * _np(model.q_deadzone())), 0, 255).astype(np.int32)
    return {"scale_q8": scale_q8, "dead_zone_q8": dz_q8}


def encode_latents_torch(model, feats: np.ndarray, m: np.ndarray, seq: int = 1000) -> np.ndarray:
    """Folded-unit latents z' (N, D) of ``feats`` with the float torch encoder, in chunks."""
    K = model.arch.frames_per_latent
    n = (len(feats) // (seq * K)) * seq * K
    x = torch.from_numpy(feats[:n].reshape(-1, seq * K, NB_FEATURES).astype(np.float32))
    with torch.no_grad():
        z = model.encode(x).double().numpy().reshape(-1, model.arch.latent_dim)
    return z * m[None, :]


def quantize_np(zp: np.ndarray, scale_q8: np.ndarray, dz_q8: np.ndarray) -> np.ndarray:
    """DRED encoder quantizer (specs 05 s7 step 5) without the forced-zero rule."""
    y = zp * (scale_q8 / 256.0)
    d = dz_q8 / 256.0
    y = y - d * np.tanh(y / (d + 0.1))
    return np.floor(0.5 + y).astype(np.int64)


def fit_laplace(zp: np.ndarray, tables: dict) -> dict:
    """Maximum-likelihood p0 and decay per level/dim from the quantized latents (Q8)."""
    Lv, D = tables["scale_q8"].shape
    p0_q8 = np.zeros((Lv, D), np.int32)
    r_q8 = np.zeros((Lv, D), np.int32)
    for lv in range(Lv):
        q = quantize_np(zp, tables["scale_q8"][lv], tables["dead_zone_q8"][lv])
        p0 = (q == 0).mean(0)
        nz = q != 0
        mags = np.where(nz, np.abs(q) - 1, 0).sum(0)
        cnt = nz.sum(0)
        mean_m = mags / np.maximum(cnt, 1)
        r = mean_m / (1.0 + mean_m)
        p0_q8[lv] = np.clip(np.round(256.0 * p0), 1, 255)
        r_q8[lv] = np.clip(np.round(256.0 * r), 1, 255)
    return {"r_q8": r_q8, "p0_q8": p0_q8}


def build_records(model, tables: dict, presets: list[int], level_bits: np.ndarray, *,
                  float_weights: bool = True) -> dict:
    """All records of the codec blob. ``float_weights`` also stores float copies of the int8
    layers (``X_weights_float``) for the float reference path (``fixed_point=False``)."""
    from mlcodec.nn.layers import linear_records

    a: ArchConfig = model.arch
    L, _ = folded_layers(model)
    rec: dict = {}
    cfg = [CODEC_BLOB_VERSION, a.frames_per_latent, a.latent_dim, a.nb_levels, a.enc_dense, a.enc_gru,
           a.enc_conv, a.dec_dense, a.dec_gru, NB_FEATURES]
    rec["codec_config"] = np.array(cfg, np.int32)
    for name, (w, b) in L.items():
        quant = name not in FLOAT_LAYERS
        rec.update(linear_records(name, w, b, quantized=quant, float_weights=float_weights if quant else None))
    for k in ("scale_q8", "dead_zone_q8", "r_q8", "p0_q8"):
        rec[f"codec_quant_{k}"] = np.asarray(tables[k], np.int32).reshape(-1)
    rec["codec_presets"] = np.array(presets, np.int32)
    rec["codec_level_bits"] = np.asarray(level_bits, np.float32)
    from train.data import PITCH

    if PITCH != "classic":   # the encoder's pitch estimator (absent: classic, as codec_v1)
        rec["codec_feature_pitch"] = np.array([1], np.int32)
    return rec


def main(argv=None) -> None:
    from train.data import DEFAULT_SPEECH, build_cache, split
    from train.train import load_model
    from train import calibrate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--speech", type=Path, default=DEFAULT_SPEECH)
    ap.add_argument("--fit-files", type=int, default=400, help="training files used to fit p0/r")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--report", type=Path, default=None, help="write the calibration report (json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.ckpt)
    tr, ev = split(args.speech)
    rng = np.random.default_rng(0)
    fit = [tr[i] for i in sorted(rng.choice(len(tr), min(args.fit_files, len(tr)), replace=False))]
    feats = build_cache(fit, args.speech)
    _, m = folded_layers(model)
    tables = base_tables(model, m)
    tables.update(fit_laplace(encode_latents_torch(model, feats, m), tables))
    report = calibrate.export_calibrated(model, tables, args.out, ev, args.speech)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
