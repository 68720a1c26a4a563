"""Speech out of a libopus stream's DRED (mlcodec.libopus.dred_decode, ``mlcodec dred``) against
libopus 1.6.1's own outputs in ``$MLCODEC_VECTORS/dred`` (cases from index.json).

* features: every packet's DRED read from the ``.bit`` files, decoded, within the bounds of
  libopus's ``dred_compare -features`` metric already used by tests/test_libopus_rdovae.py;
* gap audio: packets K-L..K-1 concealed from packet K's DRED within the tolerance of
  tests/test_libopus_dred_audio.py (log-spectral distance to libopus's DRED audio below 7.5 dB
  and below that of libopus's own DRED audio to the loss-free decode);
* the whole stream from DRED alone: length, level and alignment against libopus's loss-free
  decode; hostile and truncated inputs: one error line.
Models come from the libopus source, installed into a temporary cache (conftest).
"""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mlcodec.containers.detect import open_input
from mlcodec.errors import MlcodecError
from mlcodec.libopus import rdovae as RD

from conftest import vector_set
from test_libopus_dred_audio import _lsd
from test_libopus_rdovae import BOUNDS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ds(libopus_models):
    from mlcodec.libopus.dred_decode import DredSpeech

    old = os.environ.get("MLCODEC_MODELS_DIR")
    os.environ["MLCODEC_MODELS_DIR"] = str(libopus_models)
    try:
        yield DredSpeech.installed()
    finally:
        os.environ.pop("MLCODEC_MODELS_DIR") if old is None else os.environ.__setitem__("MLCODEC_MODELS_DIR", old)


def _index():
    root = vector_set("dred")
    return root, json.loads((root / "index.json").read_text())


def _jsonl(root, s):
    opener = gzip.open if s["jsonl"].endswith(".gz") else open
    with opener(root / s["jsonl"], "rt") as f:
        return [json.loads(line) for line in f]


def _cli(args, models, cwd, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MLCODEC_MODELS_DIR=str(models))
    return subprocess.run([sys.executable, "-m", "cli.main", "dred", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=600, **kw)


def test_every_packet_features_within_dred_compare_bounds(ds):
    root, idx = _index()
    n = 0
    for s in idx["streams"]:
        ref = _jsonl(root, s)
        with open_input(root / s["bit"]) as inp:
            packets = list(ds.read(inp))
        assert len(packets) == s["packets"] == len(ref)
        for p, r in zip(packets, ref):
            assert p.error is None and p.start == 320 * p.index
            assert (p.dred is not None) == (r["dred_ext"] is not None), (s["name"], p.index)
            if p.dred is None:
                continue
            assert (p.dred.latents, p.dred.offset) == (r["nb_latents"], r["dred_offset"])
            if r.get("fec_features") is None or not r["nb_latents"]:
                continue
            m = RD.compare_features(np.asarray(r["fec_features"], np.float32).reshape(-1, 20), ds.features(p.dred))
            assert all(v <= b for v, b in zip(m, BOUNDS)), (s["name"], p.index, m)
            n += 1
    if not n:
        pytest.skip("no DRED packet with fec_features in this vector set")


def _audio_cases(root, idx):
    cases = idx.get("audio_cases", [])
    if not cases:
        pytest.skip("this dred vector set has no audio cases")
    return cases


def test_gap_audio_within_tolerance(ds):
    root, idx = _index()
    for c in _audio_cases(root, idx):
        k, (a, b) = c["packet"], c["lost_packets"]
        ref = np.fromfile(root / c["ref"], np.int16).astype(np.float64)
        dred = np.fromfile(root / c["dred"], np.int16).astype(np.float64)
        with open_input(root / c["bit"]) as inp:
            from mlcodec.libopus.dred_decode import collect

            pk = collect(ds.read(inp), k, keep=k - a + 1)
        sp = ds.gap_speech(pk[:-1], pk[-1], ref)
        g0, g1 = c["gap_samples"]
        assert sp.start == g0 and len(sp.audio) == g1 - g0 and len(sp.features) == (g1 - g0) // 160
        d_ours, d_ref = _lsd(sp.audio.astype(np.float64), dred[g0:g1]), _lsd(ref[g0:g1], dred[g0:g1])
        assert d_ours < 7.5 and d_ours < d_ref, (c["name"], d_ours, d_ref)


def _envelope(x, n=160):
    x = np.asarray(x, np.float64)[: len(x) // n * n].reshape(-1, n)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1.0)


def test_whole_stream_from_dred_alone(ds):
    root, idx = _index()
    c = _audio_cases(root, idx)[0]
    s = next(s for s in idx["streams"] if s["bit"] == c["bit"])
    ref = np.fromfile(root / c["ref"], np.int16).astype(np.float64)
    with open_input(root / s["bit"]) as inp:
        blocks = list(ds.stream_speech(ds.read(inp)))
    f = np.concatenate([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks]).astype(np.float64)
    assert len(y) == 320 * s["packets"] == len(ref) and f.shape == (len(y) // 160, 20)
    covered = ~np.isnan(f[:, 0])
    # the last packet's slots have no later packet; the others are covered where DRED exists
    assert covered.sum() >= len(f) - 4 and not covered[-2:].any()
    assert np.all(y.reshape(-1, 160)[~covered] == 0)
    # level within 1 dB, log-spectral distance to the loss-free decode within that of
    # libopus's own DRED gap audio (8.5-8.8 dB; measured 8.7-9.1 for the whole stream)
    assert abs(20 * np.log10(np.std(y) / np.std(ref))) < 1 and _lsd(y, ref) < 10
    a, b = _envelope(ref), _envelope(y)
    corr = {lag: np.corrcoef(a[10 + lag : len(a) - 10 + lag], b[10 : len(b) - 10])[0, 1] for lag in range(-5, 6)}
    assert max(corr, key=corr.get) in (-1, 0, 1), corr


def test_cli_packet_features_and_gap(libopus_models, tmp_path):
    root, idx = _index()
    s = next((s for s in idx["streams"] if s.get("fec_features") and s["packets_with_dred_extension"]), None)
    if s is None:
        pytest.skip("no stream with fec_features")
    ref_pk = max(_jsonl(root, s), key=lambda r: (r["nb_latents"], -r["packet"]))
    n = ref_pk["packet"]
    r = _cli([str(root / s["bit"]), "--packet", str(n), "-o", "p.wav", "--features", "p.f32", "--json"],
             libopus_models, tmp_path, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    feats = np.fromfile(tmp_path / "p.f32", np.float32).reshape(-1, 20)
    y, sr = sf.read(tmp_path / "p.wav", dtype="int16")
    assert sr == 16000 and info["latents"] == ref_pk["nb_latents"] and len(y) == 640 * ref_pk["nb_latents"]
    ref = np.asarray(ref_pk["fec_features"], np.float32).reshape(-1, 20)[::-1]  # time order
    m = RD.compare_features(ref, feats)
    assert all(v <= b for v, b in zip(m, BOUNDS)), m
    # a gap through the CLI, with the loss-free decode as history, spliced back in
    c = _audio_cases(root, idx)[0]
    pcm = np.fromfile(root / c["ref"], np.int16)
    sf.write(tmp_path / "ref.wav", pcm, 16000, subtype="PCM_16")
    k, (a, _b) = c["packet"], c["lost_packets"]
    r = _cli([str(root / c["bit"]), "--gap", f"{k}:{k - a}", "--history", "ref.wav", "--splice", "-o", "g.wav"],
             libopus_models, tmp_path, text=True)
    assert r.returncode == 0, r.stderr
    g, _sr = sf.read(tmp_path / "g.wav", dtype="int16")
    g0, g1 = c["gap_samples"]
    assert len(g) == len(pcm) and np.array_equal(g[:g0], pcm[:g0]) and np.array_equal(g[g1:], pcm[g1:])
    dred = np.fromfile(root / c["dred"], np.int16).astype(np.float64)
    assert _lsd(g[g0:g1].astype(np.float64), dred[g0:g1]) < 7.5


def _one_line(r, out):
    err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1 and err.startswith("mlcodec: error: "), err
    assert "Traceback" not in err and not out.exists()
    return err


def test_cli_bad_inputs_one_line(libopus_models, tmp_path):
    root, idx = _index()
    s = next(s for s in idx["streams"] if s["packets_with_dred_extension"])
    data = (root / s["bit"]).read_bytes()
    (tmp_path / "t.bit").write_bytes(data[: len(data) // 2 + 3])
    out = tmp_path / "o.wav"
    err = _one_line(_cli(["t.bit", "-o", "o.wav"], libopus_models, tmp_path, text=True), out)
    assert "t.bit" in err and "truncated" in err
    err = _one_line(_cli([str(root / s["bit"]), "--packet", str(s["packets"]), "-o", "o.wav"], libopus_models, tmp_path, text=True), out)
    assert "no packet" in err
    nodred = next((s2 for s2 in idx["streams"] if not s2["packets_with_dred_extension"]), None)
    if nodred is not None:
        err = _one_line(_cli([str(root / nodred["bit"]), "--packet", "1", "-o", "o.wav"], libopus_models, tmp_path,
                             text=True), out)
        assert "carries no DRED" in err
    (tmp_path / "junk").write_bytes(bytes(random.Random(1).randrange(256) for _ in range(3000)))
    _one_line(_cli(["junk", "-o", "o.wav"], libopus_models, tmp_path, text=True), out)
    _one_line(_cli([str(root / s["bit"]), "-o", "o.wav"], tmp_path / "nomodels", tmp_path, text=True), out)
    r = _cli([str(root / s["bit"]), "--gap", "3:5", "-o", "o.wav"], libopus_models, tmp_path, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and not out.exists()
    # stdin in, WAV on stdout
    r = _cli(["-", "--packet", "10", "-o", "-"], libopus_models, tmp_path, input=data)
    assert r.returncode == 0 and r.stdout[:4] == b"RIFF", r.stderr


def test_corrupt_dred_payloads_never_crash(ds):
    """Random byte damage inside packets: every problem is an MlcodecError (or a packet error
    recorded on the packet), and the whole-stream decode still yields the stream's length."""
    root, idx = _index()
    s = next(s for s in idx["streams"] if s["packets_with_dred_extension"])
    data = bytearray((root / s["bit"]).read_bytes())
    rng = random.Random(12)
    import io

    for trial in range(3):
        d = bytearray(data)
        for _ in range(200):
            i = rng.randrange(len(d))
            d[i] = rng.randrange(256)
        try:
            with open_input(io.BytesIO(bytes(d)), name="fuzz.bit") as inp:
                for f, y in ds.stream_speech(ds.read(inp)):
                    assert len(y) == 160 * len(f) or len(y) < 160 * len(f)
        except MlcodecError as exc:
            assert exc.reason


def test_ogg_opus_input_gives_the_same_speech(ds):
    """The same packets in an Ogg Opus file (our writer) decode to the same features and audio."""
    import io

    from mlcodec.containers.oggopus import OggOpusWriter
    from mlcodec.containers.opusdemo import iter_bit
    from mlcodec.libopus.dred_decode import collect

    root, idx = _index()
    s = next(s for s in idx["streams"] if s["packets_with_dred_extension"])
    buf = io.BytesIO()
    with open(root / s["bit"], "rb") as f:
        w = OggOpusWriter(buf, serial=5)
        for rec in iter_bit(f):
            w.write_packet(rec.data)
        w.close()
    with open_input(root / s["bit"]) as inp:
        n = next(p.index for p in ds.read(inp) if p.dred is not None and p.dred.latents and p.index >= s["packets"] // 2)
    with open_input(root / s["bit"]) as inp:
        a = ds.packet_speech(collect(ds.read(inp), n, keep=1)[-1])
    with open_input(io.BytesIO(buf.getvalue()), name="x.opus") as inp:
        assert inp.format == "ogg"
        b = ds.packet_speech(collect(ds.read(inp), n, keep=1)[-1])
    assert a.start == b.start and np.array_equal(a.features, b.features) and np.array_equal(a.audio, b.audio)
