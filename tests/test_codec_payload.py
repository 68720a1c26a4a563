"""Range-coded latent payload: round trips, version byte, skipped dimensions, fuzz."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlcodec.codec.format import FORMAT_V1 as FORMAT_VERSION  # format 1's payload (version byte)
from mlcodec.codec.payload import MAX_MAGNITUDE, CodingTables, read_payload, write_payload
from mlcodec.errors import CodecError, MlcodecError

DIM = 8
# p0/decay in laplace_p0 units (Q15); the last dimension is never coded (p0 certain),
# the one before has decay 0 (also never coded), as DRED prunes them (specs 05 §4).
TABLES = CodingTables(p0=(4000, 8000, 16000, 24000, 30000, 12000, 9000, 32767),
                      decay=(20000, 16000, 12000, 8000, 4000, 26000, 0, 20000))


def test_coded_mask():
    assert TABLES.coded == (True,) * 6 + (False, False)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_round_trip_simple(n):
    rng = np.random.default_rng(n)
    q = rng.laplace(0, 2, (n, DIM)).round().astype(int)
    q[:, 6:] = 0
    p = write_payload(q, TABLES)
    assert p[0] == FORMAT_VERSION
    assert not p[1:].endswith(b"\0")  # trailing zeros are dropped
    np.testing.assert_array_equal(read_payload(p, n, TABLES), q)


def test_all_zero_is_tiny():
    p = write_payload(np.zeros((3, DIM), int), TABLES)
    assert len(p) <= 3


def test_uncoded_dimensions_cost_nothing():
    q = np.zeros((1, DIM), int)
    a = write_payload(q, TABLES)
    q[0, 6:] = [5, -7]  # not coded: the decoder reads 0 there
    assert write_payload(q, TABLES) == a
    assert read_payload(a, 1, TABLES)[0, 6:].tolist() == [0, 0]


def test_clip_large_values():
    q = np.zeros((1, DIM), int)
    q[0, 0] = 10 * MAX_MAGNITUDE
    assert read_payload(write_payload(q, TABLES), 1, TABLES)[0, 0] == MAX_MAGNITUDE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-60, 60), min_size=6, max_size=6), min_size=1, max_size=3))
def test_round_trip_hypothesis(rows):
    q = np.zeros((len(rows), DIM), int)
    q[:, :6] = rows
    p = write_payload(q, TABLES)
    np.testing.assert_array_equal(read_payload(p, len(rows), TABLES), q)


@pytest.mark.parametrize("payload,msg", [(b"", "empty"), (bytes([FORMAT_VERSION + 1, 1, 2]), "version")])
def test_bad_payload(payload, msg):
    with pytest.raises(CodecError, match=msg):
        read_payload(payload, 1, TABLES)


def test_shape_mismatch():
    with pytest.raises(CodecError):
        write_payload(np.zeros((1, DIM + 1), int), TABLES)


def test_tables_validation():
    class T:
        p0 = [1, 2]
        decay = [3]
    with pytest.raises(CodecError):
        CodingTables.from_quant_tables(T())

    class U:
        p0 = [40000]
        decay = [3]
    with pytest.raises(CodecError):
        CodingTables.from_quant_tables(U())

    class R:  # "r" accepted as the decay's name
        p0 = np.array([100])
        r = np.array([200])
    assert CodingTables.from_quant_tables(R()) == CodingTables((100,), (200,))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=40), st.integers(1, 3))
def test_fuzz_random_bytes(data, n):
    try:
        q = read_payload(bytes([FORMAT_VERSION]) + data, n, TABLES)
        assert q.shape == (n, DIM) and np.all(np.abs(q) <= MAX_MAGNITUDE)
    except MlcodecError:
        pass


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(-40, 40), min_size=6, max_size=6), min_size=1, max_size=3),
       st.binary(max_size=30))
def test_fast_path_matches_reference(rows, junk):
    """The hot loop (cached iCDF tables) is bit-identical to one laplace_p0() call per value."""
    import mlcodec.codec.payload as pl

    q = np.zeros((len(rows), DIM), int)
    q[:, :6] = rows
    def junk_read():
        try:
            return read_payload(bytes([FORMAT_VERSION]) + junk, len(rows), TABLES).tolist()
        except CodecError:
            return "error"
    fast = write_payload(q, TABLES)
    fast_junk = junk_read()
    try:
        pl.FAST = False
        assert write_payload(q, TABLES) == fast
        np.testing.assert_array_equal(read_payload(fast, len(rows), TABLES), q)
        assert junk_read() == fast_junk
    finally:
        pl.FAST = True
