"""RowBuffer (the encoder's compact latent and level store) against a plain list of rows."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcodec.codec.rows import RowBuffer

ops = st.lists(st.one_of(st.tuples(st.just("append"), st.integers(0, 700)),
                         st.tuples(st.just("pop"), st.integers(0, 300))), max_size=30)


@settings(max_examples=60, deadline=None)
@given(ops=ops, dim=st.sampled_from([None, 1, 32]), seed=st.integers(0, 2**31 - 1))
def test_rowbuffer_matches_a_list(ops, dim, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if dim is None else np.float32
    buf, ref = RowBuffer(dim, dtype, capacity=4), []
    for op, k in ops:
        if op == "append":
            rows = rng.standard_normal((k,) if dim is None else (k, dim)).astype(dtype)
            buf.append(rows)
            ref.extend(rows)
        else:
            got = buf.pop_front(k)
            want, ref = ref[:k], ref[k:]
            assert got.shape[0] == len(want)
            assert np.array_equal(got, np.array(want, dtype).reshape(got.shape))
        assert len(buf) == len(ref)
        if ref:
            assert np.array_equal(buf.rows(max(len(ref) - 2, 0), len(ref) + 5), np.array(ref[-2:], dtype))
    out = buf.take()
    assert out.dtype == dtype and out.shape == ((len(ref),) if dim is None else (len(ref), dim))
    assert np.array_equal(out, np.array(ref, dtype).reshape(out.shape))
    assert len(buf) == 0
    buf.append(np.zeros((3,) if dim is None else (3, dim), dtype))  # usable again after take
    assert len(buf) == 3


def test_take_of_an_empty_buffer_has_the_row_shape():
    assert RowBuffer(32, np.float32).take().shape == (0, 32)
    assert RowBuffer(None, np.float64).take().shape == (0,)
