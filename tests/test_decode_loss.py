"""Packet loss in decoding (issue 13): simulated loss models applied by the stream decoder,
concealment of the gaps, DTX pauses, and the ``mlcodec decode --loss*`` options.

The stream is the shipped espeak-ng sample cut to 2.5 s with 0.6 s of digital silence in the
middle (DTX packets), encoded at 3k with 20 ms packets (one packet = 320 output samples)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import mlcodec
from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import Decoder, StreamDecoder
from mlcodec.codec.loss import Bernoulli, GilbertElliott, Trace
from mlcodec.containers.oggopus import read_ogg_opus
from mlcodec.errors import CodecError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"
TRACES = ROOT / "test_vectors" / "loss"
PKT = 320  # 16 kHz samples per 20 ms packet


@pytest.fixture(scope="module")
def stream():
    """(bytes, per-packet all-DTX flags) of the test stream."""
    x, sr = sf.read(SAMPLE)
    a = np.concatenate([x[:int(1.5 * sr)], np.zeros(int(0.6 * sr)), x[int(1.5 * sr):int(2.5 * sr)]])
    data = mlcodec.encode(a, sr, "3k", frame_ms=20)
    dtx = [fmt.carrier_payload(p.data)[1] is None for p in read_ogg_opus(io.BytesIO(data)).packets()]
    assert sum(dtx) >= 10 and not all(dtx), "the pause should give DTX packets"
    return data, np.array(dtx)


@pytest.fixture(scope="module")
def plain(stream):
    return mlcodec.decode(stream[0])[0]


def _trace(lost_indices, n) -> Trace:
    t = np.zeros(n, bool)
    t[list(lost_indices)] = True
    return Trace(t)


def _stream_decode(data, **kw):
    d = StreamDecoder(io.BytesIO(data), **kw)
    y = np.concatenate(list(d)).astype(np.float64) / 32768
    return d, y


def test_zero_loss_is_bit_exact(stream, plain):
    data, dtx = stream
    for model in (Bernoulli(0.0, seed=3), GilbertElliott(0.0, burst=3), Trace(np.zeros(7, bool))):
        for conc in ("neural", "repeat"):
            y, _ = mlcodec.decode(data, loss=model, concealment=conc)
            assert np.array_equal(y, plain), (model, conc)


def test_seeded_loss_is_reproducible_and_keeps_the_length(stream, plain):
    data, _ = stream
    m = Bernoulli(0.25, seed=7)
    a, _ = mlcodec.decode(data, loss=m)
    b, _ = mlcodec.decode(data, loss=m)                     # the same object: reset per decode
    c, _ = mlcodec.decode(data, loss=Bernoulli(0.25, seed=7))
    assert a.tobytes() == b.tobytes() == c.tobytes()
    assert a.shape == plain.shape and not np.array_equal(a, plain)
    d, _ = mlcodec.decode(data, loss=Bernoulli(0.25, seed=8))
    assert d.shape == plain.shape and not np.array_equal(a, d)
    g, _ = mlcodec.decode(data, loss=GilbertElliott(0.3, burst=4, seed=1), concealment="repeat")
    assert g.shape == plain.shape


def test_lost_packets_are_the_models_flags_and_not_damage(stream):
    data, dtx = stream
    n = len(dtx)
    for model in (Bernoulli(0.2, seed=5), GilbertElliott(0.3, burst=4, seed=2)):
        want = int(type(model)(**{k: v for k, v in model.to_json().items() if k != "model"}).flags(n).sum())
        d, _ = _stream_decode(data, loss=model)
        assert d.lost == want and d.packets + d.unlevelled == n - want
        assert d.concealed == (want + d.unlevelled) * PKT and d.truncated is None and not d.damage


def test_losing_the_first_level_costs_little_and_is_not_damage(stream, plain):
    """The level is coded on a page's first carrier and, in format 3, again at least every
    LEVEL_REFRESH_MS: without it the next packets cannot be decoded; they are concealed too,
    and decoding resumes at the next level symbol (within 480 ms)."""
    data, dtx = stream
    d, y = _stream_decode(data, loss=_trace([0], len(dtx)))
    assert d.lost == 1 and 0 < d.unlevelled < len(dtx) - 1 and d.truncated is None and not d.damage
    assert d.unlevelled < fmt.level_refresh_packets(20)
    assert y.shape == plain.shape
    k = 1 + d.unlevelled + 10                                 # well after decoding resumed
    a, b = y[k * PKT:], plain[k * PKT:].astype(np.float64)
    assert 0.5 < np.sqrt(np.mean(a ** 2) / np.mean(b ** 2)) < 2.0   # the stream's level again


def test_committed_trace_files_parse_and_apply(stream, plain):
    data, dtx = stream
    n = len(dtx)
    for path in sorted(TRACES.glob("*.txt")):
        lines = path.read_text().split()
        assert set(lines) <= {"0", "1"} and len(lines) >= n
        t = Trace.read(open(path, "rb"))
        assert t.lost.size == len(lines) and int(t.lost.sum()) == lines.count("1")
        d, y = _stream_decode(data, loss=t)
        assert d.lost == lines[:n].count("1") and y.shape == plain.shape


def test_a_lost_burst_changes_only_what_follows_it(stream, plain):
    """Packets 20..24 lost: the output before them is untouched (the decoder is causal), the
    gap is filled at a bounded level, and decoding comes back to the stream's own audio."""
    data, dtx = stream
    assert not dtx[20:25].all()  # speech (format 3 may send single repeats as DTX packets)
    y, _ = mlcodec.decode(data, loss=_trace(range(20, 25), len(dtx)))
    cut = 20 * PKT - 3 * PKT  # leave the vocoder's and the pre-skip's lag a margin
    assert np.array_equal(y[:cut], plain[:cut])
    assert not np.array_equal(y[cut:30 * PKT], plain[cut:30 * PKT])


@pytest.mark.parametrize("conc", ["neural", "repeat"])
def test_concealed_gaps_are_neither_silent_nor_exploding(stream, plain, conc):
    data, dtx = stream
    speech = np.flatnonzero(~dtx)
    lost = [k for k in speech if 10 <= k < len(dtx) - 5 and k % 9 in (0, 1, 2)]  # 60 ms bursts in speech
    y, _ = mlcodec.decode(data, loss=_trace(lost, len(dtx)), concealment=conc)
    assert y.shape == plain.shape and np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= max(2 * np.max(np.abs(plain)), 0.05) and np.max(np.abs(y)) < 1.0

    def rms(z):
        return float(np.sqrt(np.mean(np.asarray(z, np.float64) ** 2)))

    # the level where packets were lost, against the no-loss decode of the same spans
    gaps = np.concatenate([np.arange(k * PKT, (k + 1) * PKT) for k in lost])
    ratio = rms(y[gaps]) / rms(plain[gaps])
    assert 0.1 < ratio < 3.0, ratio                          # within -20 .. +10 dB
    # a long burst fades: the last 100 ms of 1 s of loss are far quieter than its first 100 ms
    y2, _ = mlcodec.decode(data, loss=_trace(range(10, 60), len(dtx)), concealment=conc)
    first, last = y2[11 * PKT:16 * PKT], y2[54 * PKT:59 * PKT]
    assert rms(first) > 0.01 and rms(last) < 0.3 * rms(first)


def _longest_dtx_run(dtx) -> np.ndarray:
    best, start = (0, 0), None
    for k, v in enumerate(list(dtx) + [False]):
        if v and start is None:
            start = k
        elif not v and start is not None:
            best, start = max(best, (k - start, start)), None
    return np.arange(best[1], best[1] + best[0])


def test_losing_only_dtx_packets_costs_nothing(stream, plain):
    """Pause packets lost: the gap is bridged with the pause's latent, bit for bit."""
    data, dtx = stream
    lost = _longest_dtx_run(dtx)  # the pause (format 3 also sends single repeats as DTX packets)
    drop = lost[::2]                                         # every other pause packet
    for conc in ("neural", "repeat"):
        d, y = _stream_decode(data, loss=_trace(drop, len(dtx)), concealer=conc)
        assert d.lost == len(drop)
        ref = plain.astype(np.float64)
        assert y.shape == ref.shape and np.max(np.abs(y - ref)) == 0.0
    # the whole pause: both neighbours are coded packets (20 ms: one latent each), so it is
    # concealed, and the concealer stays quiet after the silent frames before it
    seg = slice(lost[0] * PKT, (lost[-1] + 1) * PKT)
    speech = float(np.sqrt(np.mean(plain[:seg.start].astype(np.float64) ** 2)))
    for conc in ("neural", "repeat"):
        y, _ = mlcodec.decode(data, loss=_trace(lost, len(dtx)), concealment=conc)
        err = float(np.sqrt(np.mean((y[seg] - plain[seg]).astype(np.float64) ** 2)))
        assert y.shape == plain.shape and 20 * np.log10(err / speech) < -40, (conc, err, speech)
        assert np.array_equal(y[:seg.start - 3 * PKT], plain[:seg.start - 3 * PKT])
    # not trivially so: as many speech packets lost do change the output
    speech = np.flatnonzero(~dtx)[10:10 + len(drop)]
    y, _ = mlcodec.decode(data, loss=_trace(speech, len(dtx)))
    assert not np.array_equal(y, plain)


def test_every_kind_of_gap_goes_through_fill_gap(stream, monkeypatch):
    data, dtx = stream
    calls = []
    orig = Decoder.fill_gap

    def spy(self, frames, next_packet=None, **kw):
        calls.append((frames, next_packet is not None))
        return orig(self, frames, next_packet, **kw)

    monkeypatch.setattr(Decoder, "fill_gap", spy)
    _stream_decode(data, loss=_trace([12, 13, 40], len(dtx)))  # simulated loss
    assert calls == [(4, True), (2, True)]
    calls.clear()
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x55                               # a damaged page: resync
    with pytest.raises(CodecError) as e:
        mlcodec.decode(bytes(bad))
    assert calls                                             # the damaged span was filled there
    assert e.value.audio[0].shape == mlcodec.decode(data)[0].shape


# --- CLI -------------------------------------------------------------------------------------


def _cli(*args):
    from mlcodec_cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_loss_options(stream, tmp_path):
    data, dtx = stream
    src = tmp_path / "s.opus"
    src.write_bytes(data)
    outs = {}
    for name, args in {"pct": ["--loss", "20%"], "num": ["--loss", "20"],
                       "gil": ["--loss", "20", "--loss-model", "gilbert", "--burst", "3", "--loss-seed", "4"],
                       "trace": ["--loss-trace", TRACES / "lossgen_20pct_3000.txt", "--concealment", "repeat"],
                       "none": []}.items():
        r = _cli("decode", src, tmp_path / f"{name}.wav", *args)
        assert r.exit_code == 0, r.output
        outs[name] = (tmp_path / f"{name}.wav").read_bytes()
        if name != "none":
            assert "simulated loss:" in r.output and "ms concealed" in r.output
    assert outs["pct"] == outs["num"] != outs["none"]
    assert outs["gil"] != outs["pct"] and len({len(v) for v in outs.values()}) == 1
    ref = mlcodec.decode(data, loss=Bernoulli(0.2, seed=0))[0]
    y, _ = sf.read(tmp_path / "pct.wav", dtype="int16")
    assert np.max(np.abs(y - np.round(ref * 32768).clip(-32768, 32767))) <= 1


@pytest.mark.parametrize("args", [
    ["--loss", "abc"], ["--loss", "150"], ["--loss", "-1"], ["--loss", "nan"],
    ["--loss", "60", "--loss-model", "gilbert", "--burst", "1"], ["--loss", "5", "--burst", "0.5"],
    ["--burst", "3"], ["--loss-seed", "3"], ["--loss", "5", "--burst", "3"],
    ["--loss", "5", "--loss-trace", TRACES / "lossgen_5pct_3000.txt"], ["--concealment", "magic"],
])
def test_cli_bad_loss_options_are_one_line(stream, tmp_path, args):
    src = tmp_path / "s.opus"
    src.write_bytes(stream[0])
    r = _cli("decode", src, tmp_path / "x.wav", *args)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("mlcodec: error: "), r.stderr
    assert not (tmp_path / "x.wav").exists()


def test_cli_bad_trace_file(stream, tmp_path):
    src = tmp_path / "s.opus"
    src.write_bytes(stream[0])
    (tmp_path / "t.txt").write_text("0\n1\n2\n")
    for trace, words in ((tmp_path / "t.txt", "line 3"), (tmp_path / "missing.txt", "missing.txt")):
        r = subprocess.run([sys.executable, "-m", "mlcodec_cli.main", "decode", "--loss-trace", str(trace),
                            str(src), str(tmp_path / "x.wav")], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and words in lines[0], r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "x.wav").exists()
