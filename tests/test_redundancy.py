"""Redundancy payload (mlcodec.codec.redundancy): schedule, round trips, hostile payloads."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcodec.codec.model import load_model, quantize
from mlcodec.codec.payload import CodingTables
from mlcodec.codec.redundancy import (
    DQ_TABLE, MAX_LATENTS, REDUNDANCY_VERSION, Redundancy, level_schedule, parse_redundancy, write_redundancy,
)
from mlcodec.errors import CodecError, MlcodecError

MODEL = load_model()
LAT = MODEL.quant_tables  # level -> QuantTables (the codec's own tables)


def _synthetic_tables(dim: int):
    """Tables independent of the model: a few dims never coded, decays and P(0) varied."""
    def f(level):
        p0 = [min(32767, 8000 + 1500 * level + 100 * i) if i % 7 else 255 << 7 for i in range(dim)]
        decay = [0 if i == 3 else 6000 + 800 * (i % 5) for i in range(dim)]
        return CodingTables(tuple(p0), tuple(decay))
    return f


STATE = _synthetic_tables(12)


def test_schedule_matches_specs_example():
    # specs 05 s4: q0 = 6, dQ = 3 (slope 4/16), qmax = 15, k = 0..25
    want = [6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12]
    assert level_schedule(6, 3, 15, 26) == want
    assert level_schedule(6, 3, 9, 26)[-1] == 9
    assert level_schedule(4, 0, 15, 5) == [4] * 5
    assert DQ_TABLE[7] == 16 and level_schedule(0, 7, 15, 20)[-1] == 15


def _real_latents(n, seed=0):
    from train.data import synthetic_features  # smooth feature tracks in realistic ranges

    f = synthetic_features(2 * n, seed=seed)
    return MODEL.new_encoder().process(f)


@pytest.mark.parametrize("q0,dq,qmax,offset,n", [(6, 3, 15, 0, 26), (2, 5, 12, 40, 52), (14, 0, 15, 7, 10),
                                                 (0, 1, 1, 31, 1), (9, 7, 15, 8191, 0)])
def test_round_trip_codec_latents(q0, dq, qmax, offset, n):
    z = _real_latents(max(n, 1))[::-1][:n]  # newest first
    lv = level_schedule(q0, dq, qmax, n)
    q = np.array([quantize(z[k], LAT(lv[k])) for k in range(n)], np.int64).reshape(n, MODEL.latent_dim)
    state = np.arange(12) % 5 - 2
    state[[0, 3, 7]] = 0  # dims the synthetic state tables do not code read back as 0
    r = Redundancy(q0, dq, qmax, offset, state, q)
    data = write_redundancy(r, LAT, STATE)
    assert data[0] == REDUNDANCY_VERSION
    back = parse_redundancy(data, LAT, STATE)
    assert (back.q0, back.dq, back.qmax, back.offset) == (q0, dq, qmax, offset)
    assert np.array_equal(back.latents, q) and np.array_equal(back.state, state)
    assert back.covered_ms == 20 * n and back.to_json()["latents"] == n
    # without a state
    r2 = Redundancy(q0, dq, qmax, offset, np.zeros(0, np.int64), q)
    assert np.array_equal(parse_redundancy(write_redundancy(r2, LAT), LAT).latents, q)


def test_older_latents_cost_fewer_bits():
    z = _real_latents(40)
    flat = Redundancy(3, 0, 15, 0, np.zeros(0), np.array([quantize(v, LAT(3)) for v in z]))
    lv = level_schedule(3, 5, 15, 40)
    sloped = Redundancy(3, 5, 15, 0, np.zeros(0), np.array([quantize(v, LAT(l)) for v, l in zip(z, lv)]))
    assert len(write_redundancy(sloped, LAT)) < len(write_redundancy(flat, LAT))


@pytest.mark.parametrize("bad", [dict(q0=16), dict(dq=8), dict(qmax=3), dict(offset=-1), dict(offset=8192),
                                 dict(qmax=14, dq=0), dict(n=MAX_LATENTS + 1)])
def test_invalid_headers_refused(bad):
    a = dict(q0=4, dq=2, qmax=15, offset=0, n=3)
    a.update(bad)
    r = Redundancy(a["q0"], a["dq"], a["qmax"], a["offset"], np.zeros(0), np.zeros((a["n"], MODEL.latent_dim)))
    with pytest.raises(CodecError):
        write_redundancy(r, LAT)


def test_corrupt_payloads():
    with pytest.raises(CodecError, match="empty"):
        parse_redundancy(b"", LAT)
    with pytest.raises(CodecError, match="version"):
        parse_redundancy(b"\x07abc", LAT, offset=99)
    good = write_redundancy(Redundancy(5, 3, 15, 2, np.zeros(0), np.ones((20, MODEL.latent_dim))), LAT)
    with pytest.raises(CodecError) as ei:
        parse_redundancy(good[:4], LAT, offset=123)  # truncated: the count asks for more
    assert ei.value.offset == 123


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=300))
def test_hostile_payloads_give_codec_errors(data):
    for payload in (data, bytes([REDUNDANCY_VERSION]) + data):
        try:
            r = parse_redundancy(payload, LAT, STATE)
        except MlcodecError as exc:
            assert isinstance(exc, CodecError) and exc.reason and "\n" not in exc.reason
        else:
            assert r.latents.shape[0] <= MAX_LATENTS and r.latents.shape[1] == MODEL.latent_dim


@settings(max_examples=25, deadline=None)
@given(q0=st.integers(0, 15), dq=st.integers(0, 7), off=st.integers(0, 8191), n=st.integers(0, MAX_LATENTS),
       seed=st.integers(0, 2 ** 31), big=st.booleans())
def test_round_trip_random(q0, dq, off, n, seed, big):
    rng = np.random.default_rng(seed)
    qmax = 15 if (q0 >= 14 or dq == 0) else int(rng.integers(q0 + 1, 16))
    lv = level_schedule(q0, dq, qmax, n)
    scale = 40 if big else 3
    q = np.zeros((n, MODEL.latent_dim), np.int64)
    for k in range(n):
        coded = np.asarray(CodingTables.from_quant_tables(LAT(lv[k])).coded)
        q[k] = np.where(coded, np.round(rng.laplace(0, scale, MODEL.latent_dim)), 0)
    r = Redundancy(q0, dq, qmax, off, np.zeros(0), q)
    back = parse_redundancy(write_redundancy(r, LAT), LAT)
    assert np.array_equal(back.latents, q) and (back.q0, back.dq, back.qmax, back.offset) == (q0, dq, qmax, off)
