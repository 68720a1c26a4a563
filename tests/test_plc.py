"""Feature-domain concealment (mlcodec.codec.plc): the int8 NeuralConcealer against its NumPy
twin, streaming invariance, the gap fade, the RepeatFade baseline, prediction quality on
decoded speech features (the conformance vectors), bad blobs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlcodec.codec import plc as P
from mlcodec.codec.reference_plc import ReferenceConcealer
from mlcodec.errors import WeightsError
from mlcodec.nn.weights import weights_to_bytes

ROOT = Path(__file__).resolve().parent.parent
VEC = ROOT / "test_vectors"


def _speech_features() -> list[np.ndarray]:
    """Decoded features of the committed conformance vectors (espeak-ng speech, our codec)."""
    meta = json.loads((VEC / "vectors.json").read_text())
    out = []
    for f in sorted((VEC / "expected").glob("*.f32")):
        out.append(np.fromfile(f, "<f4").reshape(-1, 20))
    assert out and meta, "test_vectors/expected/*.f32 missing"
    return out


@pytest.fixture(scope="module")
def ws():
    return P.load_plc_weights()


def test_shipped_blob_small_and_int8(ws):
    c = P.NeuralConcealer(ws)
    assert (ROOT / "mlcodec" / "models" / P.DEFAULT_PLC_MODEL).stat().st_size < 1 << 20
    assert c.model._gru1.input.kernel.startswith("int8") and c.model._gru2.recurrent.kernel.startswith("int8")
    assert c.model._dense_in.kernel == "float dense"


def test_kernels_match_numpy_twin(ws):
    """Stated tolerance: 1e-4 absolute on features (the twin repeats the generic-C float32
    operation order; only the approximated activations' rounding may differ)."""
    f = _speech_features()[0]
    fast, ref = P.NeuralConcealer(ws), ReferenceConcealer(ws)
    outs = []
    for c in (fast, ref):
        seq = [c.conceal(2)]  # before anything was observed
        c.observe(f[:40])
        seq.append(c.conceal(25))  # past the fade start
        c.observe(f[40:46])
        seq.append(c.conceal(3))
        seq.append(c.conceal(4))  # one gap over two calls
        outs.append(np.concatenate(seq))
    assert outs[0].shape == (34, 20)
    assert np.max(np.abs(outs[0] - outs[1])) < 1e-4


def test_block_calls_equal_frame_calls(ws):
    f = _speech_features()[1]
    a, b = P.NeuralConcealer(ws), P.NeuralConcealer(ws)
    a.observe(f[:50])
    for row in f[:50]:
        b.observe(row)
    ga = a.conceal(12)
    gb = np.concatenate([b.conceal(1) for _ in range(12)])
    assert np.array_equal(ga, gb)
    a.reset()
    b.reset()
    a.observe(f[:10])
    b.observe(f[:10])
    assert np.array_equal(a.conceal(3), b.conceal(3))
    assert a.conceal(0).shape == (0, 20)


def test_fade_schedule():
    x = np.zeros((40, 20), np.float32)
    x[:, 0] = 2.0
    y = P.fade_c0(x, 0)
    assert np.array_equal(y[:P.FADE_START], x[:P.FADE_START])
    d = np.diff(y[:, 0])
    assert np.all(d[P.FADE_START - 1:][y[P.FADE_START:, 0] > P.C0_FLOOR] < 0)
    assert y[-1, 0] == P.C0_FLOOR and np.array_equal(y[:, 1:], x[:, 1:])
    # continuing a gap: frames 10.. of fade_c0(x, 0) == fade_c0(x[10:], 10)
    assert np.array_equal(y[10:], P.fade_c0(x[10:], 10))
    # predictions already below the floor are kept, not raised
    x[:, 0] = -12.0
    assert np.all(P.fade_c0(x, 0)[:, 0] == -12.0)


def test_repeat_fade():
    r = P.RepeatFade()
    assert np.all(r.conceal(3)[:, 0] == P.C0_FLOOR)
    f = np.arange(40, dtype=np.float32).reshape(2, 20)
    r.observe(f)
    g = np.concatenate([r.conceal(5), r.conceal(30)])
    assert np.array_equal(g[:P.FADE_START, 1:], np.repeat(f[-1:, 1:], P.FADE_START, 0))
    assert np.array_equal(g, P.fade_c0(np.repeat(f[-1:], 35, 0), 0))
    r.observe(f)
    assert np.array_equal(r.conceal(1), f[-1:])


def test_neural_beats_repeat_on_speech(ws):
    """On decoded speech features the prediction error of short gaps (20-60 ms) is below
    repeating the last frame (weighted as the training distortion, summed over gaps)."""
    w = np.ones(20)
    w[0] = 2.0
    err = {"neural": 0.0, "repeat": 0.0}
    for f in _speech_features():
        for start in range(30, len(f) - 8, 17):
            for gap in (2, 6):
                for name, c in (("neural", P.NeuralConcealer(ws)), ("repeat", P.RepeatFade())):
                    c.observe(f[:start])
                    e = (c.conceal(gap) - f[start:start + gap])[:, :18] ** 2
                    err[name] += float((e * w[:18]).sum())
    assert err["neural"] < err["repeat"], err


def test_bad_blobs(ws):
    with pytest.raises(WeightsError, match="plc_config"):
        P.NeuralConcealer(weights_to_bytes({"x": np.zeros(3, np.float32)}))
    recs = {n: ws[n] for n in ws if not n.startswith("plc_gru2_recurrent_weights")}
    with pytest.raises(WeightsError, match="plc_gru2"):
        P.NeuralConcealer(weights_to_bytes(recs))
    recs = {n: ws[n] for n in ws}
    recs["plc_config"] = np.array([2, 21, 96, 96], np.int32)
    with pytest.raises(WeightsError, match="version"):
        P.NeuralConcealer(weights_to_bytes(recs))
    from mlcodec.codec.model import DEFAULT_MODEL
    with pytest.raises(WeightsError):
        P.NeuralConcealer(ROOT / "mlcodec" / "models" / DEFAULT_MODEL)
