"""libopus's DRED RDOVAE decoder on our core (mlcodec.libopus.rdovae) against libopus 1.6.1.

* bit-exact: tests/data/libopus/rdovae_* (our own espeak-ng speech through libopus's encoder;
  make_refs.sh) against the --disable-intrinsics build;
* the default build (AVX2 CPU): bit-exact with our ``avx2`` path, on the same inputs and on
  every packet with features in ``$MLCODEC_VECTORS/dred`` (cases from index.json); our
  default ``x86`` path within bounds of libopus's ``dred_compare -features`` metric.
"""
from __future__ import annotations

import gzip
import json
import platform
from pathlib import Path

import numpy as np
import pytest

from mlcodec.errors import WeightsError
from mlcodec.libopus import rdovae as RD

from conftest import libopus_blob

from conftest import vector_set

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "libopus"
X86 = platform.machine().lower() in ("x86_64", "amd64")
#: Bounds on dred_compare's (total, max, pitch) per packet, x86 SSE2 path vs libopus's AVX2
#: path. Measured worst packet of the dred vectors: 0.068, 0.037, 0.0053.
BOUNDS = (0.1, 0.05, 0.01)


@pytest.fixture(scope="module")
def blob() -> bytes:
    return libopus_blob("rdovaedec_arrays.bin").read_bytes()


@pytest.fixture(scope="module")
def dec(blob):
    return RD.load_decoder(blob, "x86" if X86 else "generic")


def records():
    """(state, latents) of each record of rdovae_in.f32: [n, 50 state, n*26 latents]."""
    a = np.fromfile(DATA / "rdovae_in.f32", np.float32)
    out, p = [], 0
    while p < a.size:
        n = int(a[p])
        out.append((a[p + 1 : p + 51], a[p + 51 : p + 51 + 26 * n].reshape(n, 26)))
        p += 51 + 26 * n
    return out


def test_bitexact_with_portable_build(dec):
    if not X86:
        pytest.skip("the reference outputs come from libopus's x86-64 (SSE2) build; rcpps is CPU-specific")
    ours = np.concatenate([dec.decode_all(s, z).ravel() for s, z in records()])
    ref = np.fromfile(DATA / "rdovae_portable.f32", np.float32)
    assert ours.shape == ref.shape and np.array_equal(ours.view(np.uint32), ref.view(np.uint32))


@pytest.fixture(scope="module")
def dec_avx2(blob):
    if not X86:
        pytest.skip("the avx2 path reproduces x86 libopus builds (rcpps is an x86 instruction)")
    return RD.load_decoder(blob, "avx2")


def test_bitexact_with_default_build_on_avx2_path(dec_avx2):
    ours = np.concatenate([dec_avx2.decode_all(s, z).ravel() for s, z in records()])
    ref = np.fromfile(DATA / "rdovae_default.f32", np.float32)
    assert ours.shape == ref.shape and np.array_equal(ours.view(np.uint32), ref.view(np.uint32))


def test_default_build_within_dred_compare_bounds(dec):
    ref = np.fromfile(DATA / "rdovae_default.f32", np.float32).reshape(-1, 20)
    p = 0
    for s, z in records():
        ours = dec.decode_all(s, z)
        m = RD.compare_features(ref[p : p + len(ours)], ours)
        p += len(ours)
        assert all(v <= b for v, b in zip(m, BOUNDS)), m
    assert p == len(ref)


@pytest.mark.parametrize("arch", ["x86", "generic"])
def test_numpy_twin_bit_identical(blob, arch):
    from mlcodec.libopus.reference_rdovae import decode_all
    from mlcodec.nn.weights import read_weights

    if arch == "x86" and not X86:
        pytest.skip("rcpps needs an x86 CPU")
    ws = read_weights(blob)
    d = RD.load_decoder(ws, arch)
    for s, z in records()[:2] + records()[-1:]:
        z = z[:5]
        assert np.array_equal(d.decode_all(s, z), decode_all(ws, s, z, arch))


def _dred_packets():
    root = vector_set("dred")
    idx = json.loads((root / "index.json").read_text())
    for s in idx["streams"]:
        if not s.get("fec_features"):
            continue
        opener = gzip.open if s["jsonl"].endswith(".gz") else open
        with opener(root / s["jsonl"], "rt") as f:
            for line in f:
                p = json.loads(line)
                if p.get("process_stage") == 2 and p.get("nb_latents", 0) > 0:
                    yield s["name"], p


def test_every_dred_vector_packet(dec, dec_avx2):
    """The vectors come from libopus's default build on an AVX2 CPU: the avx2 path reproduces
    every packet's features bit for bit; our default x86 path stays within the bounds of
    dred_compare's metric."""
    n = 0
    for name, p in _dred_packets():
        ref = np.asarray(p["fec_features"], np.float32).reshape(-1, 20)
        exact = dec_avx2.decode_all(p["state"], p["latents"])
        assert np.array_equal(exact.view(np.uint32), ref.view(np.uint32)), (name, p["packet"])
        ours = dec.decode_all(p["state"], p["latents"])
        assert ours.shape == ref.shape == (4 * p["nb_latents"], 20), (name, p["packet"])
        m = RD.compare_features(ref, ours)
        assert all(v <= b for v, b in zip(m, BOUNDS)), (name, p["packet"], m)
        n += 1
    if n == 0:
        pytest.skip("no DRED packet with fec_features in this vector set")


def test_chronological_and_errors(dec):
    s, z = records()[-1]
    f = dec.decode_all(s, z)
    assert np.array_equal(RD.chronological(f)[0], f[-1])
    assert dec.decode_all(s, z[:0]).shape == (0, 20)
    with pytest.raises(ValueError):
        dec.decode_all(s[:10], z)


def test_wrong_blob_refused():
    p = str(libopus_blob("fargan_arrays.bin"))
    with pytest.raises(WeightsError, match="RDOVAE decoder: .*dec_dense1"):
        RD.load_decoder(p)
