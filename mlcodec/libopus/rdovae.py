"""libopus's DRED RDOVAE decoder (experimental version 12) on our inference core.

Mirrors ``dnn/dred_rdovae_dec.c`` of libopus 1.6.1 (specs 08 s2.2): the 50-value initial
state sets the five GRU states (``dec_hidden_init`` -> ``dec_gru_init``); then each latent
(25 values + the quantiser conditioning ``q_level*0.125 - 1``, as ``dred_decode_latents``
appends it) gives one "qframe" of 80 floats = 4 feature frames of 20 **in reverse time
order**. ``decode_all`` is ``DRED_rdovae_decode_all``: latents newest first in, features
newest first out, exactly the layout of ``OpusDRED.fec_features``.

Layers are bound by name (``init_rdovaedec`` in ``dred_rdovae_dec_data.c``); arithmetic is
libopus's x86 SSE2 or portable path (:mod:`mlcodec.nn.kernels_x86`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.errors import WeightsError
from mlcodec.nn import kernels as K
from mlcodec.nn import kernels_x86 as KX
from mlcodec.nn.layers_x86 import x86_params
from mlcodec.nn.layers import binding_error, linear_init
from mlcodec.nn.weights import read_weights

NUM_FEATURES = 20  #: DRED_NUM_FEATURES
LATENT_DIM = 25  #: DRED_LATENT_DIM
STATE_DIM = 50  #: DRED_STATE_DIM
LATENT_IN = LATENT_DIM + 1  #: latent + quantiser conditioning
QFRAME = 4 * NUM_FEATURES  #: DEC_OUTPUT_OUT_SIZE
GRU = 64
CONV = 32

#: ``init_rdovaedec`` (dred_rdovae_dec_data.c): (layer, nb_in, nb_out, int8, sparse). Every
#: layer names a bias; int8 layers also ``_subias``, ``_scale`` (float copies optional).
LAYERS = (
    ("dec_dense1", 26, 96, False, False),
    ("dec_glu1", 64, 64, True, False), ("dec_glu2", 64, 64, True, False), ("dec_glu3", 64, 64, True, False),
    ("dec_glu4", 64, 64, True, False), ("dec_glu5", 64, 64, True, False),
    ("dec_hidden_init", 50, 128, False, False),
    ("dec_output", 576, 80, True, True),
    ("dec_conv_dense1", 160, 32, True, True), ("dec_conv_dense2", 256, 32, True, True),
    ("dec_conv_dense3", 352, 32, True, True), ("dec_conv_dense4", 448, 32, True, True),
    ("dec_conv_dense5", 544, 32, True, True),
    ("dec_gru_init", 128, 320, True, True),
    ("dec_gru1_input", 96, 192, True, True), ("dec_gru1_recurrent", 64, 192, True, False),
    ("dec_gru2_input", 192, 192, True, True), ("dec_gru2_recurrent", 64, 192, True, False),
    ("dec_gru3_input", 288, 192, True, True), ("dec_gru3_recurrent", 64, 192, True, False),
    ("dec_gru4_input", 384, 192, True, True), ("dec_gru4_recurrent", 64, 192, True, False),
    ("dec_gru5_input", 480, 192, True, True), ("dec_gru5_recurrent", 64, 192, True, False),
    ("dec_conv1", 64, 32, True, False), ("dec_conv2", 64, 32, True, False), ("dec_conv3", 64, 32, True, False),
    ("dec_conv4", 64, 32, True, False), ("dec_conv5", 64, 32, True, False),
)
_IDX = {n: i for i, (n, *_r) in enumerate(LAYERS)}


class RdovaeDecoder:
    """libopus's RDOVAE decoder layers bound by name, from a blob path, bytes or WeightSet.

    ``arch``: ``"x86"`` or ``"generic"`` arithmetic (see :class:`mlcodec.libopus.fargan.FarganModel`).
    """

    def __init__(self, weights, arch: str | None = None):
        ws = weights if hasattr(weights, "get") and hasattr(weights, "__getitem__") else read_weights(weights)
        self.file = getattr(ws, "file", None)
        layers, problems = {}, []
        for name, nb_in, nb_out, q, sp in LAYERS:
            try:
                layers[name] = linear_init(
                    ws, bias=f"{name}_bias", subias=f"{name}_subias" if q else None,
                    weights=f"{name}_weights_int8" if q else None, float_weights=f"{name}_weights_float",
                    weights_idx=f"{name}_weights_idx" if sp else None, scale=f"{name}_scale" if q else None,
                    nb_inputs=nb_in, nb_outputs=nb_out, name=name)
            except WeightsError as exc:
                problems += getattr(exc, "problems", [str(exc)])
                continue
            if not q and layers[name].float_weights is None:
                problems.append(f"{name}: missing record '{name}_weights_float' (float weights)")
        if problems:
            raise binding_error(problems, self.file, prefix="RDOVAE decoder: ")
        self.layers = layers
        self.arch = arch or KX.HOST_ARCH
        self.arch_id = KX.ARCHES.get(self.arch, -1)
        self.params = tuple(x86_params(layers[n], self.arch) for n, *_ in LAYERS)
        self.max_gather = max(max(L.max_gather for L in layers.values()), 4)

    def decode_all(self, state, latents) -> np.ndarray:
        """``DRED_rdovae_decode_all``: (50,) state + (n, 26) latents (newest first) ->
        (4n, 20) features, newest first (the order of ``OpusDRED.fec_features``)."""
        st = np.ascontiguousarray(state, dtype=np.float32).reshape(-1)
        lat = np.ascontiguousarray(latents, dtype=np.float32).reshape(-1, LATENT_IN) if np.size(latents) else \
            np.zeros((0, LATENT_IN), np.float32)
        if st.size != STATE_DIM:
            raise ValueError(f"RDOVAE decoder: state has {st.size} values, expected {STATE_DIM}")
        out = np.zeros((lat.shape[0], QFRAME), np.float32)
        xq = np.zeros(1024, np.int8)
        xg = np.zeros(self.max_gather, np.int8)
        _decode_all(self.params, st, lat, out, xq, xg, self.arch_id)
        return out.reshape(-1, NUM_FEATURES)


def chronological(features) -> np.ndarray:
    """Reverse ``decode_all``'s newest-first frames into time order (oldest first)."""
    return np.ascontiguousarray(np.asarray(features, np.float32).reshape(-1, NUM_FEATURES)[::-1])


def compare_features(reference, test) -> tuple[float, float, float]:
    """libopus ``dred_compare -features`` metric of ``test`` against ``reference`` (n, 20).

    Per feature the mean squared error over frames; ``total`` = sqrt of their sum and ``max``
    = sqrt of the largest, both without the pitch feature (18); ``pitch`` = mean |error| of
    feature 18 over the frames whose reference correlation (feature 19) is > 0.2 (0 if none).
    """
    x = np.asarray(reference, np.float32).reshape(-1, NUM_FEATURES)
    y = np.asarray(test, np.float32).reshape(-1, NUM_FEATURES)
    mse = ((x - y).astype(np.float64) ** 2).mean(axis=0)
    rest = np.delete(mse, NUM_FEATURES - 2)
    voiced = x[:, NUM_FEATURES - 1] > 0.2
    pitch = float(np.abs(x[voiced, 18] - y[voiced, 18]).mean()) if voiced.any() else 0.0
    return float(np.sqrt(rest.sum())), float(np.sqrt(rest.max())), pitch


# --- numba: dred_rdovae_dec.c ------------------------------------------------------------------


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _dense(L, x, y, act, XQ, XG, arch):
    KX.linear_arch(L, x.reshape((1, x.shape[0])), y.reshape((1, y.shape[0])), XQ, XG, arch)
    KX.activation_arch(y, y, act, arch)


@njit(cache=True, fastmath=False, error_model="numpy")
def _decode_all(P, state, latents, out, XQ, XG, arch):
    hidden = np.empty(128, np.float32)
    init = np.empty(5 * GRU, np.float32)
    # dred_rdovae_dec_init_states
    _dense(P[6], state, hidden, K.ACT_TANH, XQ, XG, arch)
    _dense(P[13], hidden, init, K.ACT_TANH, XQ, XG, arch)
    grus = np.empty((5, GRU), np.float32)
    for k in range(5):
        for i in range(GRU):
            grus[k, i] = init[k * GRU + i]
    conv_mem = np.zeros((5, CONV), np.float32)  # zeroed by memset and conv1_cond_init
    buf = np.zeros(576, np.float32)
    conv_tmp = np.empty(CONV, np.float32)
    tmp = np.empty(2 * CONV, np.float32)
    glu_t = np.empty(GRU, np.float32)
    zrh = np.empty(3 * GRU, np.float32)
    rec = np.empty(3 * GRU, np.float32)
    for n in range(latents.shape[0]):
        # dred_rdovae_decode_qframe
        _dense(P[0], latents[n], buf[:96], K.ACT_TANH, XQ, XG, arch)
        pos = 96
        for k in range(5):
            s = grus[k]
            # compute_generic_gru(dec_gruK_input, dec_gruK_recurrent, state, buffer)
            KX.linear_arch(P[14 + 2 * k], buf[:pos].reshape((1, pos)), zrh.reshape((1, 3 * GRU)), XQ, XG, arch)
            KX.linear_arch(P[15 + 2 * k], s.reshape((1, GRU)), rec.reshape((1, 3 * GRU)), XQ, XG, arch)
            KX.gru_gates_arch(zrh, rec, s, arch)
            # compute_glu(dec_gluK, &buffer[pos], state)
            KX.linear_arch(P[1 + k], s.reshape((1, GRU)), glu_t.reshape((1, GRU)), XQ, XG, arch)
            KX.activation_arch(glu_t, glu_t, K.ACT_SIGMOID, arch)
            for i in range(GRU):
                buf[pos + i] = s[i] * glu_t[i]
            pos += GRU
            # compute_generic_dense(dec_conv_denseK, conv_tmp, buffer, TANH)
            _dense(P[8 + k], buf[:pos], conv_tmp, K.ACT_TANH, XQ, XG, arch)
            # compute_generic_conv1d(dec_convK, &buffer[pos], conv_state, conv_tmp, 32, TANH)
            for i in range(CONV):
                tmp[i] = conv_mem[k, i]
                tmp[CONV + i] = conv_tmp[i]
            _dense(P[24 + k], tmp, buf[pos:pos + CONV], K.ACT_TANH, XQ, XG, arch)
            for i in range(CONV):
                conv_mem[k, i] = conv_tmp[i]
            pos += CONV
        _dense(P[7], buf, out[n], K.ACT_LINEAR, XQ, XG, arch)


def load_decoder(weights, arch: str | None = None) -> RdovaeDecoder:
    """Bind libopus's RDOVAE decoder from a blob path, bytes or WeightSet (rdovaedec or combined)."""
    return RdovaeDecoder(weights, arch)
