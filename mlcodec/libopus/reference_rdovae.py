"""Plain NumPy twin of :mod:`mlcodec.libopus.rdovae` (tests only; slow).

Written from ``dnn/dred_rdovae_dec.c`` (specs 08 s2.2) on the blob's arrays with the layer
twins of :mod:`mlcodec.nn.reference_x86`; shares no code with the numba path except ``rcpps``.
"""
from __future__ import annotations

import numpy as np

from mlcodec.libopus.reference_fargan import layer_arrays
from mlcodec.nn import reference_x86 as RX

F32 = np.float32


def decode_all(ws, state, latents, arch: str = "x86") -> np.ndarray:
    """DRED_rdovae_decode_all: (50,) state, (n, 26) latents newest first -> (4n, 20) newest first."""
    a = {}

    def arr(name):
        if name not in a:
            a[name] = layer_arrays(ws, name)
        return a[name]

    def dense(name, nb_in, nb_out, x, act):
        return RX.dense(arr(name), nb_in, nb_out, np.asarray(x, F32), act, arch)

    hidden = dense("dec_hidden_init", 50, 128, np.asarray(state, F32).reshape(-1), "TANH")
    init = dense("dec_gru_init", 128, 320, hidden, "TANH")
    grus = [init[64 * k : 64 * k + 64].copy() for k in range(5)]
    conv_mem = [np.zeros(32, F32) for _ in range(5)]
    out = []
    for z in np.asarray(latents, F32).reshape(-1, 26):
        buf = dense("dec_dense1", 26, 96, z, "TANH")
        for k in range(5):
            n = f"dec_gru{k + 1}"
            grus[k] = RX.gru_step(arr(n + "_input"), buf.size, arr(n + "_recurrent"), grus[k], buf, arch)
            buf = np.concatenate([buf, RX.glu(arr(f"dec_glu{k + 1}"), 64, grus[k], arch)])
            ct = dense(f"dec_conv_dense{k + 1}", buf.size, 32, buf, "TANH")
            conv_in = np.concatenate([conv_mem[k], ct])
            conv_mem[k] = ct
            buf = np.concatenate([buf, dense(f"dec_conv{k + 1}", 64, 32, conv_in, "TANH")])
        out.append(dense("dec_output", 576, 80, buf, "LINEAR"))
    return np.concatenate(out).reshape(-1, 20) if out else np.zeros((0, 20), F32)
