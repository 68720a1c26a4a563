"""The shipped latent-coder model: loading, streaming shapes, determinism, int8 vs float,
quantizer properties, rate model vs the real range coder, and bad blobs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcodec.codec import model as cm
from mlcodec.errors import CodecError, MlcodecError, WeightsError
from mlcodec.nn.weights import read_weights, weights_to_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"

#: int8-vs-float bounds on the shipped sample at the preset levels (docs/training.md).
MAX_BAND_DB_DIFF = 0.5      # |band-energy RMS error (int8) - (float)|, dB
MAX_PITCH_CENTS_DIFF = 25   # |median voiced pitch error (int8) - (float)|, cents


@pytest.fixture(scope="module")
def model():
    return cm.load_model()


@pytest.fixture(scope="module")
def sample_feats():
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features

    f = compute_features(read_audio(SAMPLE))
    return f[: (len(f) // 2) * 2]


def test_import_is_torch_free():
    code = "import sys, mlcodec.codec.model as m; m.load_model(); assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_shipped_model_metadata(model):
    assert model.name == "codec_v2" and model.feature_pitch == "net"
    assert len(model.checksum) == 64 and int(model.checksum, 16) >= 0
    assert cm.FRAMES_PER_LATENT == 2
    assert model.latent_dim > 0 and model.nb_levels == 16
    assert set(model.PRESETS) == {"1.5k", "3k", "6k"}
    lv = model.PRESETS
    assert 0 <= lv["6k"] <= lv["3k"] <= lv["1.5k"] < model.nb_levels
    # level 0 is the finest: measured bits per latent fall with the level
    assert np.all(np.diff(model.level_bits) < 0)
    size = (ROOT / "mlcodec" / "models" / "codec_v2.bin").stat().st_size
    assert size <= 5 * 1024 * 1024


@pytest.mark.parametrize("fixed", [True, False], ids=["int8", "float"])
def test_streaming_shapes_and_step_equals_block(model, sample_feats, fixed):
    f = sample_feats[:40]
    enc = model.new_encoder(fixed_point=fixed)
    steps = np.stack([enc.step(f[2 * i : 2 * i + 2]) for i in range(20)])
    assert steps.shape == (20, model.latent_dim) and steps.dtype == np.float32
    block = model.new_encoder(fixed_point=fixed).process(f)
    assert np.array_equal(steps, block)
    t = model.quant_tables(model.PRESETS["3k"])
    zh = cm.dequantize(cm.quantize(block, t), t)
    dec = model.new_decoder(t.level, fixed_point=fixed)
    out = np.concatenate([dec.step(z) for z in zh])
    assert out.shape == (40, 20) and out.dtype == np.float32
    assert np.array_equal(out, model.new_decoder(t.level, fixed_point=fixed).process(zh))


def test_fixed_point_is_deterministic(model, sample_feats):
    a = model.new_encoder().process(sample_feats)
    b = cm.load_model().new_encoder().process(sample_feats)
    assert a.tobytes() == b.tobytes()
    t = model.quant_tables(model.PRESETS["1.5k"])
    zh = cm.dequantize(cm.quantize(a, t), t)
    x = model.new_decoder(t.level).process(zh)
    y = model.new_decoder(t.level).process(zh)
    assert x.tobytes() == y.tobytes()


def _band_db(ref, out):
    return 10 * np.sqrt(np.mean(np.sum((ref[:, :18] - out[:, :18]) ** 2, 1) / 18))


def _pitch_cents(ref, out):
    v = ref[:, 19] > 0.1
    return float(np.median(np.abs(ref[v, 18] - out[v, 18]))) * 1200 if v.any() else 0.0


@pytest.mark.parametrize("preset", ["1.5k", "3k", "6k"])
def test_int8_close_to_float(model, sample_feats, preset):
    t = model.quant_tables(model.PRESETS[preset])
    res = {}
    for fixed in (True, False):
        z = model.new_encoder(fixed_point=fixed).process(sample_feats)
        out = model.new_decoder(t.level, fixed_point=fixed).process(cm.dequantize(cm.quantize(z, t), t))
        res[fixed] = (z, out)
    zi, zf = res[True][0], res[False][0]
    # latents agree to a small fraction of their spread
    assert np.sqrt(np.mean((zi - zf) ** 2)) < 0.05 * np.std(zf) + 1e-6
    ref = sample_feats
    assert abs(_band_db(ref, res[True][1]) - _band_db(ref, res[False][1])) < MAX_BAND_DB_DIFF
    assert abs(_pitch_cents(ref, res[True][1]) - _pitch_cents(ref, res[False][1])) < MAX_PITCH_CENTS_DIFF


def test_coding_reconstructs_features(model, sample_feats):
    """Sanity of the trained model: the finest preset beats a trivial (mean) reconstruction."""
    t = model.quant_tables(model.PRESETS["6k"])
    out = model.new_decoder(t.level).process(cm.dequantize(cm.quantize(model.new_encoder().process(sample_feats), t), t))
    trivial = np.broadcast_to(sample_feats.mean(0), sample_feats.shape)
    assert _band_db(sample_feats, out) < 0.6 * _band_db(sample_feats, trivial)


# --- quantizer ------------------------------------------------------------------------------------

LEVELS = st.integers(0, 15)


@settings(max_examples=60, deadline=None)
@given(level=LEVELS, seed=st.integers(0, 2**31 - 1))
def test_quantize_properties(model, level, seed):
    t = model.quant_tables(level)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((8, model.latent_dim)) * rng.uniform(0.1, 30)
    q = cm.quantize(z, t)
    assert q.dtype == np.int32 and q.shape == z.shape
    assert np.all(q[:, ~t.coded] == 0)
    assert np.array_equal(cm.quantize(np.zeros_like(z), t), np.zeros_like(q))
    assert np.array_equal(cm.quantize(-z, t), -q)             # odd (ties have measure zero)
    zs = np.sort(z, axis=0)
    assert np.all(np.diff(cm.quantize(zs, t), axis=0) >= 0)    # monotone per dimension
    zh = cm.dequantize(q, t)
    step = 256.0 / t.scale_q8
    err = np.abs(zh - z)[:, t.coded]
    bound = ((0.5 + t.dead_zone_q8 / 256.0) * step)[t.coded]
    assert np.all(err <= bound + 1e-4)
    assert np.array_equal(cm.quantize(zh, t)[:, t.coded], q[:, t.coded]) or np.any(t.dead_zone_q8 >= 128)


def test_tables_units(model):
    for lv in range(model.nb_levels):
        t = model.quant_tables(lv)
        for a in (t.scale_q8, t.dead_zone_q8, t.r_q8, t.p0_q8):
            assert a.shape == (model.latent_dim,) and a.min() >= 0 and a.max() <= 255
        assert np.array_equal(t.p0, t.p0_q8.astype(np.int64) << 7)
        assert np.array_equal(t.decay, t.r_q8.astype(np.int64) << 7)
        assert t.coded.any()
    with pytest.raises(CodecError):
        model.quant_tables(model.nb_levels)
    with pytest.raises(CodecError):
        model.quant_tables(-1)


@pytest.mark.parametrize("preset", ["1.5k", "3k", "6k"])
def test_value_bits_match_range_coder(model, sample_feats, preset):
    """The rate model equals the real Laplace-p0 coder's cost (specs 03 s5.2) within 1 %."""
    from mlcodec.bitstream.rangecoder import RangeEncoder

    t = model.quant_tables(model.PRESETS[preset])
    q = cm.quantize(model.new_encoder().process(sample_feats[:200]), t)
    enc = RangeEncoder(8192)
    for row in q:
        for i in np.flatnonzero(t.coded):
            enc.laplace_p0(int(row[i]), int(t.p0[i]), int(t.decay[i]))
    ideal = float(cm.value_bits(q, t).sum())
    assert abs(enc.tell() - ideal) <= 0.01 * ideal + 16


# --- errors ---------------------------------------------------------------------------------------

def _records(model) -> dict:
    return {r.name: r for r in model.ws.records}


def test_bad_blobs_raise_weights_error(model):
    with pytest.raises(WeightsError):
        cm.load_model(b"not a blob at all" * 8)
    recs = _records(model)
    no_cfg = {k: v for k, v in recs.items() if k != "codec_config"}
    with pytest.raises(WeightsError, match="codec_config"):
        cm.load_model(weights_to_bytes(no_cfg))
    bad_ver = dict(recs)
    cfg = np.array(recs["codec_config"].data, np.int32)
    cfg[0] = 99
    bad_ver["codec_config"] = cfg
    with pytest.raises(WeightsError, match="version"):
        cm.load_model(weights_to_bytes(bad_ver))
    no_layer = {k: v for k, v in recs.items() if not k.startswith("dec_output")}
    with pytest.raises(WeightsError):
        cm.load_model(weights_to_bytes(no_layer))
    int8_only = {k: v for k, v in recs.items() if not (k.endswith("_weights_float") and k not in
                                                        ("enc_dense1_weights_float", "dec_dense1_weights_float"))}
    m = cm.load_model(weights_to_bytes(int8_only))   # release-style blob: fixed point works
    m.new_encoder()
    with pytest.raises(WeightsError, match="float"):
        m.new_encoder(fixed_point=False)
    with pytest.raises(MlcodecError):
        cm.load_model(ROOT / "no-such-model.bin")


def test_bad_shapes_raise_codec_error(model):
    with pytest.raises(CodecError):
        model.new_encoder().step(np.zeros((3, 20)))
    with pytest.raises(CodecError):
        model.new_encoder().process(np.zeros((5, 20)))
    with pytest.raises(CodecError):
        model.new_decoder(0).step(np.zeros(model.latent_dim + 1))
    with pytest.raises(CodecError):
        model.new_decoder(99)
    t = model.quant_tables(0)
    with pytest.raises(CodecError):
        cm.quantize(np.zeros(model.latent_dim + 2), t)
    with pytest.raises(CodecError):
        cm.dequantize(np.zeros(3, np.int32), t)


def test_blob_round_trips_through_reader(model):
    ws = read_weights(weights_to_bytes(_records(model)))
    assert ws.checksum == model.checksum


def test_code_features_is_the_encode_quantize_decode_chain():
    from mlcodec.codec.model import dequantize, load_model, quantize

    m = load_model()
    rng = np.random.default_rng(3)
    f = rng.normal(0, 1, (40, 20)).astype(np.float32)
    for lv in sorted(set(m.PRESETS.values())):
        t = m.quant_tables(lv)
        want = m.new_decoder(lv).process(dequantize(quantize(m.new_encoder().process(f), t), t))
        np.testing.assert_array_equal(m.code_features(f, lv), np.asarray(want, np.float32).reshape(-1, 20))


def test_default_model_per_rate_and_a_given_model_is_kept():
    """The shipped default encodes at 3k and 6k; at 1.5k and below the encoder takes the
    measured-better LOW_RATE_MODEL (the stream names it, so decoding needs nothing); a model
    given by path is never swapped."""
    from mlcodec.codec.encoder import Encoder

    assert Encoder(bitrate="3k").model.name == "codec_v2"
    assert Encoder(bitrate="6k").model.name == "codec_v2"
    assert Encoder(bitrate="1.5k").model.name == cm.LOW_RATE_MODEL.rsplit(".", 1)[0] == "codec_v1"
    assert Encoder(bitrate="1.5k").model.feature_pitch == "classic"
    mine = cm.load_model(ROOT / "mlcodec" / "models" / cm.DEFAULT_MODEL)
    assert Encoder(mine, bitrate="1.5k").model is mine
