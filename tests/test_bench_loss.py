"""The pure parts of the loss benchmark (bench/loss_patterns.py): conditions, per-file packet
patterns, trace files (as libopus's opus_demo -lossfile and mlcodec.codec.loss.Trace read them)
and whole-file rates. No decoding, no scoring."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import loss_patterns as lp  # noqa: E402

from mlcodec.codec.loss import Trace, burst_lengths  # noqa: E402

TRACES = ROOT / "test_vectors" / "loss"


def test_parse_condition():
    assert lp.parse_condition("0") == ("none", 0.0)
    assert lp.parse_condition("rand5") == ("rand", 5.0)
    assert lp.parse_condition("burst20") == ("burst", 20.0)
    assert lp.parse_condition("lossgen30") == ("lossgen", 30.0)
    assert lp.condition_label("burst10", 2.5) == "Gilbert 10 %, burst 2.5"
    for bad in ("", "rand", "gilbert5", "rand-5", "rand100", "5"):
        with pytest.raises(ValueError):
            lp.parse_condition(bad)


def test_trace_text_round_trips_through_mlcodec_trace():
    flags = np.array([0, 1, 1, 0, 0, 1], bool)
    text = lp.trace_text(flags)
    assert text == "0\n1\n1\n0\n0\n1\n"  # one 0/1 per line, 1 = lost: the lossgen_demo format
    assert np.array_equal(lp.read_trace(text), flags)
    t = Trace.parse(text.encode())  # the library's independent parser reads the same flags
    assert np.array_equal(t.flags(8), np.r_[flags, [False, False]])


def test_split_patterns_consecutive_and_first_packet_kept():
    flags = np.ones(10, bool)
    flags[[3, 7]] = False
    parts = lp.split_patterns(flags, [4, 3, 2])
    assert [len(p) for p in parts] == [4, 3, 2]
    # consecutive slices of the long pattern, with each file's first packet received
    assert parts[0].tolist() == [False, True, True, False]
    assert parts[1].tolist() == [False, True, True]
    assert parts[2].tolist() == [False, True]
    assert flags.sum() == 8  # the input pattern is not modified
    with pytest.raises(ValueError):
        lp.split_patterns(flags, [6, 6])


def test_long_patterns_rates_and_lossgen_trace():
    n = 20000
    r = lp.long_pattern("rand20", n, seed=3)
    g = lp.long_pattern("burst20", n, burst=2.5, seed=3)
    assert abs(r.mean() - 0.2) < 0.02 and abs(g.mean() - 0.2) < 0.02
    assert burst_lengths(g).mean() > burst_lengths(r).mean() + 0.8  # ~2.5 against ~1.25
    assert np.array_equal(lp.long_pattern("rand20", n, seed=3), r)  # seeded
    assert not lp.long_pattern("0", 50).any()
    # lossgen: the committed trace, repeated from its start when the files need more packets
    lines = (TRACES / "lossgen_20pct_3000.txt").read_text()
    ref = np.array([ln.strip() == "1" for ln in lines.splitlines() if ln.strip()])
    lg = lp.long_pattern("lossgen20", len(ref) + 7, trace_dir=TRACES)
    assert np.array_equal(lg[: len(ref)], ref) and np.array_equal(lg[len(ref):], ref[:7])


def test_loss_stats_and_packet_count():
    rate, burst = lp.loss_stats([np.array([0, 1, 1, 0], bool), np.array([1, 0, 1], bool)])
    assert rate == pytest.approx(4 / 7)
    assert burst == pytest.approx(4 / 3)  # bursts 2, 1, 1 (a burst never spans two files)
    assert lp.packet_count(320) == 1 and lp.packet_count(321) == 2 and lp.packet_count(16000) == 50


def test_kbps_and_paired_drop():
    assert lp.kbps(3000, 16000 * 8) == pytest.approx(3.0)  # 3000 B in 8 s = 3 kb/s
    assert lp.kbps(1, 16000, rate=8000) == pytest.approx(0.004)
    d, ci = lp.paired_drop([4.0, 4.2, 3.8], [3.0, 3.4, 3.2])
    assert d == pytest.approx(0.8)
    assert ci == pytest.approx(1.96 * np.std([1.0, 0.8, 0.6], ddof=1) / np.sqrt(3))
