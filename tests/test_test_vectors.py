"""mlcodec's own conformance vectors (test_vectors/): decode and compare, re-encode bit-exactly."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mlcodec.codec.compare import FEATURE_TOL, compare_audio, compare_features

ROOT = Path(__file__).resolve().parent.parent
VEC = ROOT / "test_vectors"
SHIPPED = ROOT / "mlcodec" / "models" / "codec_v2.bin"
MANIFEST = json.loads((VEC / "vectors.json").read_text()) if (VEC / "vectors.json").exists() else {"vectors": {}}


def _gen():
    sys.path.insert(0, str(VEC))
    import generate

    return generate


@pytest.fixture(scope="module")
def model():
    from mlcodec.codec.model import load_model

    p = Path(os.environ.get("MLCODEC_DEV_MODEL", SHIPPED))
    if not p.is_file():
        pytest.skip(f"codec model {p} is absent")
    m = load_model(p)
    assert m.checksum == MANIFEST["model_checksum"], (
        "test_vectors/ were made with another model; run `python test_vectors/generate.py`")
    from mlcodec.codec.contexts import model_contexts

    ctx = model_contexts(m)
    assert (ctx.checksum if ctx is not None else None) == MANIFEST.get("ctx_checksum"), (
        "test_vectors/ were made with other context tables; run `python test_vectors/generate.py`")
    return m


def test_manifest_lists_every_case():
    assert sorted(MANIFEST["vectors"]) == sorted(_gen().CASES)
    # every format is covered: v1 and v2 files must still decode, v3 is what encode writes
    assert {v.get("format", 1) for v in MANIFEST["vectors"].values()} == {1, 2, 3}
    for v in MANIFEST["vectors"].values():
        for k in ("input", "stream", "features", "audio"):
            assert (VEC / v[k]).is_file(), v[k]


@pytest.mark.parametrize("name", sorted(MANIFEST["vectors"]))
def test_decode_vector(model, name):
    v = MANIFEST["vectors"][name]
    feats, audio = _gen().decode_bytes((VEC / v["stream"]).read_bytes(), model)
    r = compare_features(np.fromfile(VEC / v["features"], "<f4"), feats)
    assert r.ok, str(r)
    ref, rate = sf.read(VEC / v["audio"], dtype="int16")
    assert rate == 16000 and len(ref) == v["input_samples"]
    r = compare_audio(ref, audio)
    assert r.ok, str(r)


@pytest.mark.parametrize("name", sorted(MANIFEST["vectors"]))
def test_reencode_is_bit_exact(model, name):
    v = MANIFEST["vectors"][name]
    g = _gen()
    data = g.encode_bytes(g.read_input(VEC / v["input"]), v["bitrate"], v["frame_ms"], model, v.get("format", 1))
    assert data == (VEC / v["stream"]).read_bytes()


@pytest.mark.parametrize("name", sorted(MANIFEST["vectors"]))
def test_decode_vector_neural_vocoder(model, name):
    """The default decode path where the neural vocoder is chosen: audio within compare_audio's bounds."""
    g = _gen()
    if g.vocoder_checksum() is None:
        pytest.skip("the neural vocoder's weights are not installed")
    assert MANIFEST.get("vocoder_checksum") == g.vocoder_checksum(), (
        "test_vectors/ were made with another vocoder; run `python test_vectors/generate.py`")
    v = MANIFEST["vectors"][name]
    _, audio = g.decode_bytes((VEC / v["stream"]).read_bytes(), model, "neural")
    ref, rate = sf.read(VEC / v["audio_neural"], dtype="int16")
    assert rate == 16000 and len(ref) == v["input_samples"]
    r = compare_audio(ref, audio)
    assert r.ok, str(r)


def test_comparator_catches_differences():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, (300, 20)).astype(np.float32)
    assert compare_features(ref, ref).ok
    assert compare_features(ref, ref + FEATURE_TOL * 0.5).ok is False  # mean error too large
    bad = ref.copy()
    bad[::20, 18] += 0.1  # 5% of pitch values off
    r = compare_features(ref, bad)
    assert not r.ok and "feature 18" in str(r)
    assert not compare_features(ref, ref[:-1]).ok
    a = (rng.normal(0, 3000, 16000)).astype(np.int16)
    assert compare_audio(a, a).ok
    assert compare_audio(a, (a * 0.9).astype(np.int16)).ok  # -0.9 dB: loose by design
    assert not compare_audio(a, (a * 0.5).astype(np.int16)).ok  # -6 dB
    assert not compare_audio(a, a[:-1]).ok


@pytest.mark.parametrize("stream", sorted((VEC / "legacy").glob("*.opus")), ids=lambda p: p.stem)
def test_streams_of_earlier_shipped_models_still_decode(stream):
    """A file made by an earlier default model (test_vectors/legacy: codec_v1, format 3) decodes
    with no model given: the decoder takes the shipped model the stream names, and its features
    are the ones that model decoded when the file was made."""
    g = _gen()
    feats, audio = g.decode_bytes(stream.read_bytes(), None)
    r = compare_features(np.fromfile(stream.with_suffix(".f32"), "<f4"), feats)
    assert r.ok, str(r)
    from mlcodec.api import info
    from mlcodec.codec.model import DEFAULT_MODEL

    assert info(stream.read_bytes()).model != DEFAULT_MODEL.rsplit(".", 1)[0]   # really another model


def test_a_model_given_by_path_is_never_swapped_for_the_streams():
    """Only the shipped default gives way to the stream's shipped model; a model the user
    names (here the default blob, loaded by path) is refused with the usual one-line error."""
    from mlcodec.codec.model import DEFAULT_MODEL, load_model
    from mlcodec.errors import CodecError

    legacy = sorted((VEC / "legacy").glob("*.opus"))
    if not legacy:
        pytest.skip("no legacy stream")
    mine = load_model(ROOT / "mlcodec" / "models" / DEFAULT_MODEL)
    with pytest.raises(CodecError, match="decode it with the matching model"):
        _gen().decode_bytes(legacy[0].read_bytes(), mine)
