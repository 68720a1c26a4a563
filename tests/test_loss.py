"""Packet-loss simulation (mlcodec.codec.loss): rates, bursts, seeds, traces."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from mlcodec.codec.loss import Bernoulli, GilbertElliott, Trace, apply, burst_lengths, make_model
from mlcodec.errors import MlcodecError

TRACES = Path(__file__).resolve().parent.parent / "test_vectors" / "loss"
N = 200_000


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_bernoulli_rate_and_independence(p):
    f = Bernoulli(p, seed=3).flags(N)
    sd = np.sqrt(p * (1 - p) / N)
    assert abs(f.mean() - p) < 5 * sd
    # independence: P(lost | previous lost) ~ p; mean burst length 1/(1-p)
    cond = f[1:][f[:-1]].mean()
    assert abs(cond - p) < 0.02
    assert abs(burst_lengths(f).mean() - 1 / (1 - p)) < 0.03 / (1 - p)


@pytest.mark.parametrize("p,burst", [(0.05, 1.0), (0.1, 3.0), (0.2, 2.0), (0.3, 5.0)])
def test_gilbert_rate_and_bursts(p, burst):
    m = GilbertElliott(p, burst, seed=11)
    f = m.flags(N)
    b = burst_lengths(f)
    # The loss rate of a bursty process converges slower than i.i.d.: allow ~5 sd of the
    # sum of geometric runs (variance inflation ~ (1+rho)/(1-rho) with rho = 1 - q - r).
    rho = 1 - m.p_bad_to_good - m.p_good_to_bad
    sd = np.sqrt(p * (1 - p) / N * (1 + rho) / (1 - rho))
    assert abs(f.mean() - p) < 5 * sd + 1e-3
    assert abs(b.mean() - burst) < 0.05 * burst
    # geometric bursts: P(length == 1) = 1/burst
    assert abs((b == 1).mean() - 1 / burst) < 0.03


def test_gilbert_burstier_than_bernoulli():
    g = GilbertElliott(0.2, 4.0, seed=1).flags(N)
    r = Bernoulli(0.2, seed=1).flags(N)
    assert burst_lengths(g).mean() > 3 * burst_lengths(r).mean()


@pytest.mark.parametrize("make", [lambda s: Bernoulli(0.1, s), lambda s: GilbertElliott(0.1, 3, s)])
def test_seeds_reproduce_and_block_size_does_not_matter(make):
    a = make(5).flags(5000)
    m = make(5)
    parts = [m.flags(k) for k in (1, 2, 997, 0, 3000, 1000)]
    assert np.array_equal(a, np.concatenate(parts))
    assert not np.array_equal(a, make(6).flags(5000))
    m.reset()
    assert np.array_equal(m.flags(5000), a)
    # apply() drops exactly the flagged packets
    out = list(apply(range(5000), make(5)))
    assert [x is None for x in out] == a.tolist()
    assert [x for x in out if x is not None] == [i for i in range(5000) if not a[i]]


def test_bernoulli_fixed_values():
    """Pins the flag stream: a seed must mean the same losses in every release."""
    f = Bernoulli(0.3, seed=1).flags(20)
    r = np.random.default_rng(1).random(20) < 0.3
    assert np.array_equal(f, r)


def test_edge_probabilities_and_bad_parameters():
    assert not Bernoulli(0, 1).flags(1000).any()
    assert Bernoulli(1, 1).flags(1000).all()
    assert not GilbertElliott(0.0, 3, 1).flags(1000).any()
    for bad in (lambda: Bernoulli(1.5), lambda: Bernoulli("x"), lambda: GilbertElliott(0.2, 0.5),
                lambda: GilbertElliott(0.6, 1.0), lambda: GilbertElliott(1.0, 4), lambda: make_model("nope"),
                lambda: Bernoulli(0.1).flags(-1)):
        with pytest.raises(MlcodecError):
            bad()
    assert isinstance(make_model("gilbert", p=0.1, burst=2), GilbertElliott)
    assert isinstance(make_model("random", p=0.1), Bernoulli)


def test_trace_parse_and_end():
    t = Trace.parse(b"0\n1\n 1 \n0\n\n")
    assert t.lost.tolist() == [False, True, True, False]
    assert t.flags(3).tolist() == [False, True, True]
    assert t.flags(4).tolist() == [False, False, False, False]  # after the end: no loss (opus_demo)
    t.reset()
    assert t.flags(2).tolist() == [False, True]
    assert Trace.parse("1\r\n0\r\n").lost.tolist() == [True, False]


@pytest.mark.parametrize("data,line", [(b"0\n1\n2\n", 3), (b"0\nx\n", 2), (b"0\n\n1\n", 2), (b"1 0\n", 1),
                                       (b"0\n\xff\n", 2), (b"", None), (b"\n\n", None)])
def test_trace_errors_name_file_and_line(data, line):
    with pytest.raises(MlcodecError) as ei:
        Trace.read(io.BytesIO(data), file="loss.txt")
    msg = str(ei.value)
    assert msg.startswith("loss.txt: ")
    if line is not None:
        assert f"line {line}:" in msg
    else:
        assert "empty" in msg


def test_committed_lossgen_traces():
    """The lossgen_demo traces of test_vectors/loss: rate near the name's percentage, bursty."""
    files = sorted(TRACES.glob("lossgen_*pct_*.txt"))
    assert files, f"no traces in {TRACES}"
    for f in files:
        pct = int(f.name.split("_")[1].removesuffix("pct"))
        with open(f, "rb") as fh:
            t = Trace.read(fh)
        assert t.name == str(f)
        assert abs(t.loss_rate - pct / 100) < 0.02 + 0.1 * pct / 100, f.name
        # lossgen's bursts are longer than independent loss at the same rate would give
        assert burst_lengths(t.lost).mean() > 1.0 / (1 - t.loss_rate), f.name
