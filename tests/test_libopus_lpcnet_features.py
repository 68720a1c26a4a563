"""libopus LPCNet features with PitchDNN and the PLC predictor vs libopus's own outputs.

Vectors: tests/data/libopus/ (README there: espeak-ng speech through scripts/libopus_ref/
lpcnet_ref.c on three libopus 1.6.1 builds). Weights: libopus's blobs in ../shared/libopus
(never committed), so those tests skip when the directory is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlcodec.errors import WeightsError
from mlcodec.libopus import lpcnet_tables as T
from mlcodec.libopus.lpcnet_features import LpcnetFeatureExtractor, compute_features
from mlcodec.libopus.plc import PLCModel, plc_input

from conftest import libopus_blob, libopus_src

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "libopus"
SRC = libopus_src()
CASES = sorted(DATA.glob("lpcnet_*.npz"))


def _blob(name):
    return libopus_blob(f"{name}_arrays.bin")


@pytest.fixture(scope="module")
def pitch_w():
    return _blob("pitchdnn")


@pytest.fixture(scope="module")
def plc_w():
    return _blob("plcmodel")


def test_vectors_present():
    assert CASES and (DATA / "plc_e1.npz").is_file(), "tests/data/libopus vectors missing"


def test_tables_equal_libopus_source():
    f = SRC / "dnn" / "lpcnet_tables.c"
    if not f.is_file():
        pytest.skip(f"libopus source not found at {f} (set MLCODEC_LIBOPUS_SRC)")
    c = T.parse_c_tables(f.read_text())
    assert c["factors"] == T.FFT_FACTORS
    np.testing.assert_array_equal(c["bitrev"], T.FFT_BITREV)
    for k, v in (("tw_re", T.FFT_TW_RE), ("tw_im", T.FFT_TW_IM), ("half_window", T.HALF_WINDOW),
                 ("dct_table", T.DCT_TABLE)):
        np.testing.assert_array_equal(c[k], v, err_msg=k)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_features_bit_exact_generic(case, pitch_w):
    """All 36 features equal libopus's portable C path bit for bit."""
    d = np.load(case)
    got = compute_features(d["pcm"], pitch_w, lpc=True)
    np.testing.assert_array_equal(got, d["feat_generic"])
    assert got.shape == (len(d["pcm"]) // 160, 36)


@pytest.mark.parametrize("build", ["portable", "x86"])
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_features_within_tolerance_x86_builds(case, build, pitch_w):
    """The --disable-intrinsics (SSE2 layers) and default (AVX2) builds: cepstrum and LPC exact;
    pitch and correlation within the tolerances of docs/libopus-features-plc.md."""
    d = np.load(case)
    got = compute_features(d["pcm"], pitch_w, lpc=True)
    ref = d[f"feat_{build}"]
    np.testing.assert_array_equal(got[:, :18], ref[:, :18])
    np.testing.assert_array_equal(got[:, 20:], ref[:, 20:])
    dp = np.abs(got[:, 18] - ref[:, 18])
    dc = np.abs(got[:, 19] - ref[:, 19])
    assert np.mean(dp > 1e-3) <= 0.05 and dp.max() <= 0.35
    assert np.mean(dc > 1e-2) <= 0.05 and dc.max() <= 0.15


def test_features_float_input_and_streaming_splits(pitch_w):
    d = np.load(CASES[0])
    whole = compute_features(d["pcm"], pitch_w)
    assert whole.shape[1] == 20
    np.testing.assert_array_equal(whole, d["feat_generic"][:, :20])
    x = d["pcm"].astype(np.float32) / 32768
    rng = np.random.default_rng(7)
    for _ in range(3):
        ex = LpcnetFeatureExtractor(pitch_w)
        cuts = np.sort(rng.integers(0, len(x), rng.integers(1, 12)))
        got = np.concatenate([ex.process(p) for p in np.split(x, cuts)])
        np.testing.assert_array_equal(got, whole)
    ex.reset()
    np.testing.assert_array_equal(ex.process(x), whole)


def test_reference_twin_equals_fast(pitch_w):
    from mlcodec.libopus.reference_lpcnet_features import reference_features
    from mlcodec.nn.weights import read_weights
    d = np.load(CASES[-1])
    n = 160 * 30
    ref = reference_features(read_weights(pitch_w), d["pcm"][:n])
    np.testing.assert_array_equal(ref, compute_features(d["pcm"][:n], pitch_w, lpc=True))


def test_fft_matches_dft():
    from mlcodec.libopus.lpcnet_analysis import kiss_fft
    x = np.random.default_rng(3).standard_normal((2, 320)).astype(np.float32)
    fr = np.zeros(320, np.float32)
    fi = np.zeros(320, np.float32)
    kiss_fft(x[0], x[1], fr, fi)
    want = np.fft.fft(x[0].astype(np.float64) + 1j * x[1]) / 320
    np.testing.assert_allclose(fr + 1j * fi, want, atol=1e-6)


def test_plc_bit_exact_generic_and_tolerance(plc_w):
    d = np.load(DATA / "plc_e1.npz")
    m = PLCModel(plc_w)
    y = m.run(d["x"])
    np.testing.assert_array_equal(y, d["y_generic"])
    for build in ("portable", "x86"):
        diff = np.abs(y - d[f"y_{build}"])
        assert diff.max() <= 0.15 and np.percentile(diff, 99) <= 0.03, build


def test_plc_state_across_calls_and_twin(plc_w):
    from mlcodec.libopus.reference_plc import ReferencePLC
    from mlcodec.nn.weights import read_weights
    d = np.load(DATA / "plc_e1.npz")
    X = d["x"][:60]
    m = PLCModel(plc_w)
    whole = m.run(X)
    m.reset()
    parts = [m.step(X[0])[None]] + [m.run(p) for p in np.split(X[1:], [5, 6, 33])]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    m.reset()
    m.run(X[:20])
    saved = m.get_state()
    a = m.run(X[20:30])
    m.set_state(saved)
    np.testing.assert_array_equal(m.run(X[20:30]), a)
    ref = ReferencePLC(read_weights(plc_w))
    np.testing.assert_array_equal(np.array([ref.step(x) for x in X[:25]]), whole[:25])


def test_plc_input_layout():
    v = plc_input(np.arange(20), np.ones(36), -1)
    assert v.shape == (57,) and v[35] == 1 and v[36] == 0 and v[55] == 19 and v[56] == -1
    assert not plc_input(flag=0).any()


def test_wrong_blob_is_one_error(pitch_w, plc_w):
    with pytest.raises(WeightsError, match="plc_dense_in"):
        PLCModel(pitch_w)
    with pytest.raises(WeightsError, match="dense_if_upsampler_1"):
        LpcnetFeatureExtractor(plc_w)
    with pytest.raises(WeightsError):
        LpcnetFeatureExtractor(b"not a blob")
