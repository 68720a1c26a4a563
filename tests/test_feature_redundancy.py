"""Feature redundancy (extension 123, docs/loss.md s5): payload round trip and fuzzing, chunk
ownership, the encoder's bit-exact primary, and recovery of a lost burst against concealment."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcodec.bitstream.featred import (GRADES, MAX_AGE, MAX_CHUNKS, RedChunk, RedGroup, RedPayload, parse_featred,
                                       write_featred)
from mlcodec.codec import format as fmt
from mlcodec.codec.conceal import RepeatFade
from mlcodec.codec.feature_redundancy import (RecoveryStore, RedundancyWriter, lookahead_packets, owned_chunks)
from mlcodec.errors import CodecError


def _chunk(coarse):
    g = GRADES[coarse]
    return st.one_of(st.none(), st.builds(RedChunk, st.integers(0, g.nc0 - 1),
                                          st.one_of(st.none(), st.integers(0, g.npitch - 1)),
                                          st.integers(0, g.vq - 1)))


def _group(coarse):
    age = st.just(1) if not coarse else st.integers(2, MAX_AGE)
    return st.builds(RedGroup, age, st.just(coarse), st.lists(_chunk(coarse), max_size=MAX_CHUNKS).map(tuple))


payloads = st.builds(lambda f, c: RedPayload(tuple(x for x in (f, c) if x is not None)),
                     st.one_of(st.none(), _group(False)), st.one_of(st.none(), _group(True)))


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_payload_round_trip(p):
    """Any valid payload parses back to itself (every index delta fits the Laplace coder)."""
    assert parse_featred(write_featred(p)) == p


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 200))
def test_hostile_payloads_give_one_line_errors(data, packet):
    """Arbitrary bytes: a payload or a one-line CodecError, in the parser and in the store."""
    store = RecoveryStore(120)
    for f in (lambda: parse_featred(data, offset=7), lambda: store.add(packet, data, offset=7)):
        try:
            f()
        except CodecError as exc:
            assert "\n" not in str(exc) and exc.offset == 7


@pytest.mark.parametrize("lpp", [1, 2, 3, 4, 5, 6])
def test_every_chunk_has_one_owner(lpp):
    seen = [k for q in range(90) for k in owned_chunks(q, lpp)]
    assert seen == list(range(len(seen))) and len(seen) >= 90 * lpp // 2 - 3
    assert all(len(owned_chunks(q, lpp)) <= MAX_CHUNKS for q in range(90))


def test_writer_store_round_trip_on_synthetic_features():
    """What the writer sends comes back from the store for every active chunk, at the right
    place: a chunk's level and envelope match its own 4 frames' means within the quantizer."""
    rng = np.random.default_rng(1)
    n_lat = 60
    feats = np.zeros((2 * n_lat, 20), np.float32)
    feats[:, 0] = np.repeat(5 + 4 * np.sin(0.3 * np.arange(n_lat // 2)), 4)   # a level per chunk
    feats[:, 1:18] = np.repeat(rng.normal(0, 0.5, (n_lat // 2, 17)), 4, axis=0)
    feats[:, 18], feats[:, 19] = 0.2, 0.4
    coded = np.ones(n_lat, bool)
    coded[20:26] = False        # chunks 10..12: DTX, nothing is sent
    for frame_ms in (20, 60, 120):
        lpp = frame_ms // 20
        w, store = RedundancyWriter(500, frame_ms), RecoveryStore(frame_ms)
        for q in range(n_lat // lpp):
            sl = slice(q * lpp, (q + 1) * lpp)
            store.add(q, w.push(feats[2 * sl.start:2 * sl.stop], coded[sl]))
        f, have = store.features_for_missing(0, 2 * n_lat)
        chunks = have.reshape(-1, 4).all(1)
        assert not chunks[10:13].any() and chunks[:8].all()
        for k in np.flatnonzero(chunks):
            assert abs(f[4 * k:4 * k + 4, 0].mean() - feats[4 * k, 0]) <= 0.6   # fine step 1.0, interpolated
            assert f[4 * k, 18] == pytest.approx(0.2, abs=1 / 20 + 1e-6)


_ENCODED: dict = {}


def _encode(x, **kw):
    """The stream of ``x`` (the sample) with these options, encoded once per test session."""
    from mlcodec.codec.encoder import encode_stream

    key = tuple(sorted(kw.items()))
    if key in _ENCODED:
        return _ENCODED[key]
    b = io.BytesIO()
    enc = encode_stream([x], b, serial=1, **kw)
    _ENCODED[key] = b.getvalue(), enc
    return _ENCODED[key]


def _packets(data):
    from mlcodec.containers.oggopus import read_ogg_opus

    return [p.data for p in read_ogg_opus(io.BytesIO(data)).packets()]


@pytest.fixture(scope="module")
def speech():
    from mlcodec.dsp.audio import read_audio
    from pathlib import Path

    import mlcodec

    return read_audio(Path(mlcodec.__file__).parent / "samples" / "sample.flac")


@pytest.mark.parametrize("frame_ms,two_pass,version", [(120, True, 3), (20, True, 3), (120, False, 3),
                                                       (120, True, 2)])
def test_primary_bit_exact_with_redundancy(speech, frame_ms, two_pass, version):
    """0 % loss: every primary payload (ID 122), the DTX pattern and the decoded features are
    the same with and without redundancy; the tag tells the decoder the setting."""
    from mlcodec.codec.decoder import StreamDecoder

    # one pass (pipes): the leaky bucket charges the headers without the redundancy's tag field
    kw = ({} if two_pass else {"two_pass": False}) | ({} if version == fmt.FORMAT_VERSION else {"format_version": version})
    plain, _ = _encode(speech, frame_ms=frame_ms, **kw)
    red, enc = _encode(speech, frame_ms=frame_ms, redundancy_ms=500, **kw)
    a, b = _packets(plain), _packets(red)
    assert len(a) == len(b) and enc.redundancy_bytes > 0
    assert [fmt.carrier_payload(p) for p in a] == [fmt.carrier_payload(p) for p in b]
    assert any(fmt.redundancy_payload(p) for p in b) and not any(fmt.redundancy_payload(p) for p in a)
    outs = []
    for data in (plain, red):
        sd = StreamDecoder(io.BytesIO(data), vocoder="reference", keep_features=True)
        audio = np.concatenate(list(sd))
        outs.append((np.concatenate(sd.features), sd.truncated, sd.info.redundancy_ms, audio.shape))
    assert outs[0][1] is None and outs[1][1] is None, (outs[0][1], outs[1][1])
    # the decoded features (what the vocoder is given) are bit-identical; the audio is compared
    # through them because the reference synthesizer itself is not run-to-run deterministic
    # at 20 ms packets (the same stream decoded twice in one process can differ)
    assert np.array_equal(outs[0][0], outs[1][0]) and outs[0][3] == outs[1][3]
    assert (outs[0][2], outs[1][2]) == (0, 500)


def _decode_with_loss(data, lost):
    """Features of a stream decoded with the packets in ``lost`` dropped (the decoder's loss
    simulation with a trace: it never sees their redundancy)."""
    from mlcodec.codec.decoder import StreamDecoder
    from mlcodec.codec.loss import Trace

    n = max(lost, default=0) + 1
    trace = Trace.parse("".join("1\n" if i in lost else "0\n" for i in range(n)).encode())
    sd = StreamDecoder(io.BytesIO(data), vocoder="reference", keep_features=True, loss=trace, concealer="neural")
    list(sd)
    assert sd.lost == len(lost)
    return np.concatenate(sd.features)


@pytest.mark.parametrize("frame_ms,burst", [(120, range(10, 13)), (20, range(60, 80))])
def test_recovery_beats_concealment(speech, frame_ms, burst):
    """A lost burst (360 / 400 ms) is rebuilt from the redundancy that arrived after it:
    closer to the no-loss decode's features than concealment alone, and outside the burst
    nothing changes."""
    plain, _ = _encode(speech, frame_ms=frame_ms)
    red, _ = _encode(speech, frame_ms=frame_ms, redundancy_ms=500)
    ref = _decode_with_loss(red, set())
    lost = set(burst)
    rec, con = _decode_with_loss(red, lost), _decode_with_loss(plain, lost)
    fr = slice(2 * frame_ms // 20 * burst.start, 2 * frame_ms // 20 * burst.stop)
    assert np.array_equal(rec[:fr.start], ref[:fr.start])
    err_rec = np.sqrt(((rec[fr, :18] - ref[fr, :18]) ** 2).mean())
    err_con = np.sqrt(((con[fr, :18] - ref[fr, :18]) ** 2).mean())
    assert err_rec < 0.6 * err_con, (err_rec, err_con)


def test_lookahead_covers_the_far_copy():
    assert lookahead_packets(0, 120) == 0
    assert lookahead_packets(500, 120) == 5          # coarse copy 5 packets (600 ms) later
    assert lookahead_packets(500, 20) == 25 + 5      # + the span of 6 packets
    with pytest.raises(CodecError):
        RedundancyWriter(1041, 120)


def test_concealer_continues_from_recovered_frames():
    """Frames the store lacks are concealed from the rebuilt ones before them."""
    class _Store(RecoveryStore):
        def features_for_missing(self, frame, n):
            return np.full((n, 20), 3.0, np.float32), np.arange(n) < 4

    c = RepeatFade()
    c.observe(np.zeros((1, 20), np.float32))
    out = _Store(120).rebuild(0, 8, c)
    # the first two rebuilt frames lean on the concealer's prediction (zeros), 2/3 then 1/3
    assert np.allclose(out[:2, 1], [1.0, 2.0]) and np.all(out[2:4] == 3.0)
    assert np.all(out[4:, 1:18] == 3.0)   # then concealed from the rebuilt frames: repeated shape


def _cli(*args, cwd):
    """This checkout's CLI in a subprocess (its cli/ folder first on the path)."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {root!r}); from cli.main import main; main()"
    import os

    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env)


def test_cli_encode_redundancy_inspect_and_decode(speech, tmp_path):
    """encode --redundancy reports its share; inspect-extensions decodes ID 123 in JSON (groups,
    ages, carried ms) the same in the reference and batched paths; decode under loss reports
    how much it rebuilt."""
    import json

    import soundfile as sf

    wav = tmp_path / "in.wav"
    sf.write(wav, (speech[:48000] / 32768).astype(np.float32), 16000, subtype="PCM_16")
    r = _cli("encode", "--redundancy", "500", wav, tmp_path / "r.opus", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "redundancy 500 ms" in r.stdout + r.stderr
    r = _cli("encode", "--redundancy", "2000", wav, tmp_path / "x.opus", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and not (tmp_path / "x.opus").exists()
    r = _cli("inspect-extensions", "--json", tmp_path / "r.opus", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    objs = [e["redundancy"] for line in r.stdout.splitlines() if line.startswith("{")
            for e in json.loads(line).get("extensions") or [] if e["id"] == 123]
    assert objs and all("error" not in o for o in objs)
    assert {g["age"] for o in objs for g in o["groups"]} == {1, 5}      # 120 ms packets, 500 ms: 600 ms back
    assert max(o["carried_ms"] for o in objs) == 240                      # 3 chunks twice
    r = _cli("inspect-extensions", tmp_path / "r.opus", cwd=tmp_path)
    words = " ".join(r.stdout.split())   # the table wraps to the terminal's width
    assert "mlcodec redundancy" in words and "coarse age 5" in words
    from mlcodec.containers.detect import open_input
    from mlcodec.inspect import batch
    from mlcodec.inspect.reference import inspect_input

    with open_input(tmp_path / "r.opus") as inp:
        ref = "".join(rep.to_json() + "\n" for rep in inspect_input(inp))
    with open_input(tmp_path / "r.opus") as inp:
        assert "".join(batch.iter_json(inp)) == ref
    r = _cli("decode", "--vocoder", "reference", "--loss", "40", "--loss-seed", "3", tmp_path / "r.opus",
             tmp_path / "r.wav", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sf.info(tmp_path / "r.wav").frames == 48000
    assert "ms of it rebuilt from redundancy" in r.stdout + r.stderr


def test_hostile_redundancy_in_a_stream_is_noted_not_fatal(speech):
    """A packet whose ID-123 payload is garbage: the primary still decodes in full (the same
    features) and the damage is one line naming the packet's offset."""
    from mlcodec.codec.decoder import StreamDecoder
    from mlcodec.containers.oggopus import OggOpusWriter, read_ogg_opus

    data, _ = _encode(speech, frame_ms=120, redundancy_ms=500)
    rd = read_ogg_opus(io.BytesIO(data))
    pk = list(rd.packets())

    def remux(bad: int | None) -> bytes:
        out = io.BytesIO()
        w = OggOpusWriter(out, channels=1, input_sample_rate=16000, pre_skip=rd.head.pre_skip, serial=1,
                          tags=list(rd.tags.comments), output_gain=rd.head.output_gain)
        for i, p in enumerate(pk):
            d = p.data
            if i == bad:
                d = fmt.add_redundancy(fmt.build_codec_packet(fmt.carrier_payload(d)[1], 120), b"\xff" * 40, 120)
            w.write_packet(d)
        w.close(final_granule=pk[-1].granule)
        return out.getvalue()

    feats = []
    for data in (remux(None), remux(6)):
        sd = StreamDecoder(io.BytesIO(data), vocoder="reference", keep_features=True)
        list(sd)
        feats.append(np.concatenate(sd.features))
    assert np.array_equal(feats[0], feats[1])
    assert sd.truncated and "redundancy" in sd.truncated and "\n" not in sd.truncated


def test_codebook_recipe_is_seeded_and_matches_the_encoders_chunks():
    """train/redundancy: two seeded k-means runs give identical codebooks, and its chunk
    statistics follow the encoder's chunk rule (chunk_params)."""
    from mlcodec.codec.feature_redundancy import chunk_params
    from train.data import synthetic_features
    from train.redundancy.codebook import chunk_stats, kmeans

    f = synthetic_features(400, seed=3)
    c0, shape, voiced, pitch, corr, v = chunk_stats(f)
    for k in range(0, 100, 7):
        p = chunk_params(f[4 * k:4 * k + 4])
        assert p[0] == pytest.approx(c0[k], abs=1e-5) and np.allclose(p[1], shape[k], atol=1e-5)
        assert p[2] == voiced[k]
    x = np.random.default_rng(0).normal(size=(500, 17))
    a, b = kmeans(x, 8, 5, seed=1), kmeans(x, 8, 5, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, kmeans(x, 8, 5, seed=2))
