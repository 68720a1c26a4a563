"""Binding a core :class:`~mlcodec.nn.layers.LinearLayer` for libopus's x86 arithmetic paths
(:mod:`mlcodec.nn.kernels_x86`): model wiring kept apart from the kernels (docs/nn.md s7)."""
from __future__ import annotations

import numpy as np

from mlcodec.errors import WeightsError
from mlcodec.nn import kernels as K
from mlcodec.nn.kernels_x86 import ARCHES


def x86_params(layer, arch: str = "x86") -> tuple:
    """Kernel tuple for :func:`linear_arch`: ``layer.params`` + row sums, subias as the x86 bias.

    On the x86 path an int8 layer adds ``subias`` (libopus ``USE_SU_BIAS``; missing means no
    bias, as libopus's NULL pointer); float layers keep ``bias``.
    """
    if arch not in ARCHES:
        raise WeightsError(f"unknown libopus arithmetic path {arch!r} (choose {', '.join(ARCHES)})")
    p = layer.params
    mode = p[0]
    rs = np.zeros(0, np.int32)
    bias = p[7]
    if arch == "x86" and mode in (K.MODE_INT8_DENSE_EXACT, K.MODE_INT8_SPARSE_EXACT):
        raise WeightsError(f"{layer.name}: int8 sums may exceed 2^24; not supported on the x86 path")
    # the avx2 sparse kernel walks the blob's own blocks (a private, writable copy)
    blob_w = np.array(layer.weights, dtype=np.int8).reshape(-1) if arch == "avx2" and mode == K.MODE_INT8_SPARSE \
        else np.zeros(0, np.int8)
    if arch == "avx2" and mode in (K.MODE_INT8_DENSE_EXACT, K.MODE_INT8_SPARSE_EXACT):
        raise WeightsError(f"{layer.name}: int8 sums may exceed 2^24; not supported on the avx2 path")
    if arch == "avx2" and mode in (K.MODE_INT8_DENSE, K.MODE_INT8_SPARSE):
        bias = np.zeros(0, np.float32) if layer.subias is None else np.array(layer.subias, np.float32)
    if arch == "x86" and mode in (K.MODE_INT8_DENSE, K.MODE_INT8_SPARSE):
        if mode == K.MODE_INT8_DENSE:
            rs = 128 * p[2].astype(np.int32).sum(axis=1)
        else:
            w = p[2].reshape(-1).astype(np.int32)
            rowptr = p[4]
            rs = np.zeros(layer.nb_outputs, np.int32)
            for r8 in range(rowptr.size - 1):
                ln = 4 * int(rowptr[r8 + 1] - rowptr[r8])
                base = 32 * int(rowptr[r8])
                rs[8 * r8 : 8 * r8 + 8] = 128 * w[base : base + 8 * ln].reshape(8, ln).sum(axis=1)
        rs = rs.astype(np.int32)
        bias = np.zeros(0, np.float32) if layer.subias is None else np.array(layer.subias, np.float32)
    return (mode, p[1], p[2], p[3], p[4], p[5], p[6], bias, p[8], rs, blob_w)
