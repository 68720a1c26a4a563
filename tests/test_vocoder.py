"""Neural vocoder inference (mlcodec.vocoder.fargan): numba loop vs NumPy twin, streaming, blobs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mlcodec.errors import WeightsError
from mlcodec.nn import reference as R
from mlcodec.nn.weights import read_weights, weights_to_bytes, write_weights
from mlcodec.vocoder import fargan as V
from mlcodec.vocoder.fargan import (
    BIASED, CONFIG_KEYS, LAYER_ORDER, layer_shapes, load_vocoder,
    random_records,
)

TINY = dict(cond=16, pembed=4, fdense1=16, fconv1=16, fwc=16, gru=16, skip=16)
F32 = np.float32


def _features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.zeros((n, 20), np.float32)
    f[:, :18] = rng.normal(0, 1, (n, 18))
    f[:, 0] += -2
    f[:, 18] = np.clip(0.3 * np.sin(np.arange(n) * 0.2) + 0.1 * rng.standard_normal(n), -1.4, 1.6)
    f[:, 19] = rng.uniform(-0.5, 0.5, n)
    return f


@pytest.fixture(scope="module")
def tiny_blob(tmp_path_factory):
    p = tmp_path_factory.mktemp("voc") / "tiny.bin"
    write_weights(p, random_records(TINY, seed=1))
    return p


@pytest.fixture(scope="module")
def full_blob(tmp_path_factory):
    p = tmp_path_factory.mktemp("voc") / "full.bin"
    write_weights(p, random_records(seed=2))
    return p


# --- NumPy twin of the numba frame loop (mlcodec.nn.reference arithmetic) ---------------------


def _arrays(ws, name, fixed):
    q = fixed and name in V.QUANTIZED
    a = {}
    if name in BIASED:
        a["bias"] = ws.array(f"{name}_bias")
    if q:
        a["weights_int8"] = ws.array(f"{name}_weights_int8")
        a["scale"] = ws.array(f"{name}_scale")
    else:
        a["weights_float"] = ws.array(f"{name}_weights_float")
    return a


def twin_synthesize(ws, feats, fixed):
    cv = ws.array(V.CONFIG_RECORD)
    c = dict(zip(CONFIG_KEYS, (int(v) for v in cv[1:])))
    sh = layer_shapes(c)
    A = {n: _arrays(ws, n, fixed) for n in LAYER_ORDER}

    def lin(n, x):
        return R.linear(A[n], sh[n][0], sh[n][1], np.asarray(x, F32))

    pembed = ws.array("cond_net_pembed_weights_float").reshape(V.PEMBED_ROWS, c["pembed"])
    conv_mem = np.zeros(2 * c["fdense1"], F32)
    pbuf = np.zeros(V.PITCH_BUF, F32)
    fwc_mem = np.zeros(c["cond"] + V.PRED + V.SUB, F32)
    s1 = np.zeros(c["gru"], F32)
    s2 = np.zeros(c["gru"], F32)
    last = 0
    deemph = 0.0
    out = []
    for f in np.asarray(feats, F32):
        t = math.floor(0.5 + 256.0 / 2.0 ** (float(f[18]) + 1.5))
        period = min(max(t, V.PMIN), V.PMAX)
        last = last or period
        x0 = np.concatenate([f[:20], pembed[min(max(period - 32, 0), 223)]])
        h = R.activation(lin("cond_net_fdense1", x0), "TANH")
        convin = np.concatenate([conv_mem, h])
        conv_mem = convin[c["fdense1"]:].copy()
        h = R.activation(lin("cond_net_fconv1", convin), "TANH")
        cond = R.activation(lin("cond_net_fdense2", h), "TANH")
        for k in range(4):
            T = last if k < 2 else period
            cc = cond[k * c["cond"]:(k + 1) * c["cond"]]
            gain = F32(math.exp(float(lin("cond_gain_dense", cc)[0])))
            g1 = F32(1.0) / (F32(1e-5) + gain)
            p0 = max(V.PITCH_BUF - T - 2, 0)
            idx = p0 + np.arange(V.PRED)
            idx = np.where(idx >= V.PITCH_BUF, idx - T, idx)
            pred = np.clip(g1 * pbuf[idx], F32(-1), F32(1)).astype(F32)
            prev = np.clip(g1 * pbuf[-V.SUB:], F32(-1), F32(1)).astype(F32)
            cur = np.concatenate([cc, pred, prev])
            h0 = R.activation(lin("sig_net_fwc0_conv", np.concatenate([fwc_mem, cur])), "TANH")
            fwc_mem = cur
            h0 = (h0 * R.activation(lin("sig_net_fwc0_glu_gate", h0), "SIGMOID")).astype(F32)
            pg = R.activation(lin("sig_net_gain_dense_out", h0), "SIGMOID")
            pp = pred[2:2 + V.SUB]
            s1 = R.gru_step(A["sig_net_gru1_input"], sh["sig_net_gru1_input"][0], A["sig_net_gru1_recurrent"], s1,
                            np.concatenate([h0, (pg[0] * pp).astype(F32), prev]))
            h1 = (s1 * R.activation(lin("sig_net_gru1_glu_gate", s1), "SIGMOID")).astype(F32)
            s2 = R.gru_step(A["sig_net_gru2_input"], sh["sig_net_gru2_input"][0], A["sig_net_gru2_recurrent"], s2,
                            np.concatenate([h1, (pg[1] * pp).astype(F32), prev]))
            h2 = (s2 * R.activation(lin("sig_net_gru2_glu_gate", s2), "SIGMOID")).astype(F32)
            sk = R.activation(lin("sig_net_skip_dense", np.concatenate([h1, h2, h0, (pg[2] * pp).astype(F32), prev])),
                              "TANH")
            sk = (sk * R.activation(lin("sig_net_skip_glu_gate", sk), "SIGMOID")).astype(F32)
            sig = (R.activation(lin("sig_net_sig_dense_out", sk), "TANH") * gain).astype(F32)
            pbuf = np.concatenate([pbuf[V.SUB:], sig])
            for v in sig:
                deemph = float(v) + V.PREEMPH * deemph
                out.append(F32(deemph * 32768.0))
        last = period
    return np.array(out, dtype=F32)


@pytest.mark.parametrize("fixed", [True, False], ids=["int8", "float"])
def test_numba_loop_matches_numpy_twin_bit_exactly(tiny_blob, fixed):
    feats = _features(6, seed=3)
    ws = read_weights(tiny_blob)
    got = load_vocoder(tiny_blob, fixed_point=fixed, postfilter=False).synthesize(feats)
    want = twin_synthesize(ws, feats, fixed)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fixed", [True, False], ids=["int8", "float"])
@pytest.mark.parametrize("chunks", [[1] * 9, [2, 3, 4], [9], [4, 0, 5]], ids=["1x9", "2-3-4", "9", "4-0-5"])
def test_streaming_is_chunking_invariant(full_blob, fixed, chunks):
    feats = _features(9, seed=4)
    whole = load_vocoder(full_blob, fixed_point=fixed).synthesize(feats)
    voc = load_vocoder(full_blob, fixed_point=fixed)
    parts, i = [], 0
    for n in chunks:
        parts.append(voc.synthesize(feats[i:i + n]))
        i += n
    got = np.concatenate(parts)
    assert got.shape == (9 * 160,) and got.dtype == np.float32
    np.testing.assert_array_equal(got, whole)
    assert np.all(np.isfinite(got))


def test_reset_restarts_the_stream(full_blob):
    feats = _features(5, seed=5)
    voc = load_vocoder(full_blob)
    a = voc.synthesize(feats)
    voc.reset()
    np.testing.assert_array_equal(voc.synthesize(feats), a)


def test_int8_and_float_paths_are_close_but_not_identical(full_blob):
    feats = _features(3, seed=6)
    a = load_vocoder(full_blob, fixed_point=True).synthesize(feats)
    b = load_vocoder(full_blob, fixed_point=False).synthesize(feats)
    assert not np.array_equal(a, b)
    # first subframe, before the auto-regression amplifies differences; each int8 layer alone
    # is ~42 dB from float (specs 06 s5), but an untrained net's tiny activations lose most
    # of that to the 1/127 input step, so only a loose bound holds for random weights
    snr = 10 * np.log10((b[:40] ** 2).sum() / max(((a[:40] - b[:40]) ** 2).sum(), 1e-30))
    assert snr > 0


def test_bad_feature_shape_raises(full_blob):
    voc = load_vocoder(full_blob)
    with pytest.raises(ValueError):
        voc.synthesize(np.zeros((3, 10), np.float32))
    assert voc.synthesize(np.zeros((0, 20), np.float32)).shape == (0,)


def test_blob_without_config_is_refused(tmp_path):
    recs = random_records(TINY)
    del recs[V.CONFIG_RECORD]
    p = tmp_path / "x.bin"
    write_weights(p, recs)
    with pytest.raises(WeightsError, match="not a FARGAN-lite blob"):
        load_vocoder(p)


def test_blob_with_wrong_layer_size_lists_the_problem(tmp_path):
    recs = random_records(TINY)
    recs["sig_net_skip_dense_weights_int8"] = recs["sig_net_skip_dense_weights_int8"][:-32]
    p = tmp_path / "x.bin"
    write_weights(p, recs)
    with pytest.raises(WeightsError, match="sig_net_skip_dense"):
        load_vocoder(p, fixed_point=True)
    load_vocoder(p, fixed_point=False)  # the float path does not use the int8 record


def test_export_records_are_deterministic_and_libopus_named():
    a = weights_to_bytes(random_records(TINY, seed=3))
    b = weights_to_bytes(random_records(TINY, seed=3))
    assert a == b
    names = list(random_records(TINY))
    assert "sig_net_gru1_recurrent_weights_int8" in names and "cond_net_pembed_weights_float" in names
    assert all(len(n) <= 43 for n in names)


def test_quantize_int8_follows_specs_06_s5_worked_example():
    W = np.array([[0.50, -0.25, 0.10, 0.00, 0.30, -0.60, 0.05, 0.20],
                  [-0.40, 0.35, 0.00, 0.15, -0.10, 0.20, 0.45, -0.05],
                  [0.20, 0.10, -0.30, 0.25, 0.05, 0.00, -0.15, 0.60],
                  [0.00, -0.05, 0.40, -0.20, 0.10, 0.30, 0.25, -0.35]])
    blob, scale, _ = V.quantize_int8(W)
    assert blob[:8].tolist() == [127, -102, 51, 0, -91, 127, 36, -18]
    assert blob[-4:].tolist() == [42, -11, 127, -74]
    np.testing.assert_allclose(scale * 127, [0.003937, 0.002756, 0.003150, 0.001969, 0.002362,
                                             0.004724, 0.003878, 0.004724], atol=5e-6)


def test_complexity_of_default_architecture():
    c = V.complexity(dict(cond=64, pembed=12, fdense1=64, fconv1=128, fwc=128, gru=96, skip=128))
    assert 100 < c["mmac_per_s"] < 200
    assert 300_000 < c["params"] < 450_000


def test_shipped_model():
    assert V.DEFAULT_MODEL.exists(), "mlcodec/models/vocoder_v2.bin is missing from this checkout"
    voc = load_vocoder()
    y = voc.synthesize(_features(20, seed=7))
    assert y.shape == (3200,) and np.all(np.isfinite(y)) and np.abs(y).max() > 0
