"""libopus's FARGAN vocoder on our inference core, bound by name from libopus's weights blob.

Mirrors ``dnn/fargan.c`` of libopus 1.6.1 (specs 08 s1) operation for operation on the
arithmetic of :mod:`mlcodec.nn.kernels_x86`: ``x86`` (SSE2 ``vec_avx.h``, what an x86-64
``--disable-intrinsics`` build runs) is bit-identical to that build, ``avx2`` to a default
build on an AVX2 CPU, ``generic`` is libopus's portable C (tests/test_libopus_fargan.py). The layers are libopus's
``init_fargan`` list (``fargan_data.c``): names, shapes and which records each layer names.
The whole frame loop runs in numba; state (``FARGANState``) lives in NumPy arrays owned by
:class:`FarganState` so synthesis streams exactly across calls.

:class:`LibopusVocoder` is the streaming vocoder interface of our codec (``synthesize``,
``reset``, ``delay``; see :mod:`mlcodec.vocoder.fargan`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.errors import WeightsError
from mlcodec.nn import kernels as K
from mlcodec.nn import kernels_x86 as KX
from mlcodec.nn.layers_x86 import x86_params
from mlcodec.nn.layers import linear_init
from mlcodec.nn.weights import read_weights

NB_FEATURES = 20
NB_BANDS = 18
FRAME = 160  #: FARGAN_FRAME_SIZE
NB_SUB = 4
SUB = 40  #: FARGAN_SUBFRAME_SIZE
CONT_SAMPLES = 320  #: FARGAN_CONT_SAMPLES
CONT_FRAMES = 5  #: feature frames fargan_cont pre-loads
PITCH_MAX_PERIOD = 256
COND = 80  #: FARGAN_COND_SIZE
PEMBED = 12
SIG_IN = COND + 2 * SUB + 4  #: SIG_NET_INPUT_SIZE = 164
DEEMPH = np.float32(0.85)  #: FARGAN_DEEMPHASIS

#: libopus ``init_fargan`` (fargan_data.c), in order: (layer, nb_in, nb_out, bias, int8).
#: int8 layers name ``_subias``, ``_weights_int8``, ``_weights_float`` and ``_scale``;
#: float layers only ``_weights_float`` (the blob carries no float copy of int8 layers).
LAYERS = (
    ("cond_net_pembed", 224, 12, True, False),
    ("cond_net_fdense1", 32, 64, True, False),
    ("cond_net_fconv1", 192, 128, True, True),
    ("cond_net_fdense2", 128, 320, True, True),
    ("sig_net_cond_gain_dense", 80, 1, True, False),
    ("sig_net_fwc0_conv", 328, 192, True, True),
    ("sig_net_fwc0_glu_gate", 192, 192, True, True),
    ("sig_net_gru1_input", 272, 480, False, True),
    ("sig_net_gru1_recurrent", 160, 480, False, True),
    ("sig_net_gru2_input", 240, 384, False, True),
    ("sig_net_gru2_recurrent", 128, 384, False, True),
    ("sig_net_gru3_input", 208, 384, False, True),
    ("sig_net_gru3_recurrent", 128, 384, False, True),
    ("sig_net_gru1_glu_gate", 160, 160, True, True),
    ("sig_net_gru2_glu_gate", 128, 128, True, True),
    ("sig_net_gru3_glu_gate", 128, 128, True, True),
    ("sig_net_skip_glu_gate", 128, 128, True, True),
    ("sig_net_skip_dense", 688, 128, True, True),
    ("sig_net_sig_dense_out", 128, 40, True, True),
    ("sig_net_gain_dense_out", 192, 4, True, False),
)
#: Multiply-accumulates per second of audio (dense), for speed figures: conditioning per
#: frame, signal net per subframe (the embedding is a table lookup).
MAC_PER_SECOND = 100 * (32 * 64 + 192 * 128 + 128 * 320) + 400 * sum(
    i * o for n, i, o, _b, _q in LAYERS if n.startswith("sig_net"))

# indices into the parameter tuple (LAYERS order, embedding excluded)
(_FDENSE1, _FCONV1, _FDENSE2, _GAIN, _FWC0, _FWC0_GLU, _G1I, _G1R, _G2I, _G2R, _G3I, _G3R,
 _G1_GLU, _G2_GLU, _G3_GLU, _SKIP_GLU, _SKIP, _OUT, _PGATE) = range(19)


class FarganModel:
    """libopus's FARGAN layers bound by name (``init_fargan``) from a blob path, bytes or WeightSet.

    ``arch`` picks libopus's arithmetic: ``"x86"`` (``vec_avx.h`` SSE2: what any libopus build
    on x86-64 runs without AVX2, e.g. ``--disable-intrinsics``) or ``"generic"`` (``vec.h``,
    libopus on targets without SSE2/NEON); default: the host's (:data:`KX.HOST_ARCH`).
    """

    def __init__(self, weights, arch: str | None = None):
        ws = weights if hasattr(weights, "get") and hasattr(weights, "__getitem__") else read_weights(weights)
        self.file = getattr(ws, "file", None)
        layers = {}
        problems: list[str] = []
        for name, nb_in, nb_out, bias, q in LAYERS:
            try:
                layers[name] = linear_init(
                    ws, bias=f"{name}_bias" if bias else None, subias=f"{name}_subias" if q else None,
                    weights=f"{name}_weights_int8" if q else None, float_weights=f"{name}_weights_float",
                    scale=f"{name}_scale" if q else None, nb_inputs=nb_in, nb_outputs=nb_out, name=name)
            except WeightsError as exc:
                problems += getattr(exc, "problems", [str(exc)])
                continue
            if not q and layers[name].float_weights is None:
                problems.append(f"{name}: missing record '{name}_weights_float' (float weights)")
        if problems:
            from mlcodec.nn.layers import binding_error

            raise binding_error(problems, self.file, prefix="FARGAN: ")
        self.layers = layers
        #: cond_net_pembed is used as a table (rows of 12 floats), as fargan.c does.
        self.pembed = np.ascontiguousarray(layers["cond_net_pembed"].float_weights.reshape(224, PEMBED))
        self.arch = arch or KX.HOST_ARCH
        self.arch_id = KX.ARCHES.get(self.arch, -1)
        self.params = tuple(x86_params(layers[n], self.arch) for n, *_ in LAYERS[1:])
        self.max_gather = max(max(L.max_gather for L in layers.values()), 4)


# --- numba: fargan.c --------------------------------------------------------------------------


@njit(cache=True, fastmath=False, error_model="numpy")
def period_from_feature(f18):
    """``(int)floor(.5+256./pow(2.f,((1./60.)*((features[NB_BANDS]+1.5)*60))))`` in double."""
    v = np.floor(0.5 + 256.0 / np.power(2.0, (1.0 / 60.0) * ((np.float64(f18) + 1.5) * 60.0)))
    return K._c_int(v)


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _lin(L, x, y, XQ, XG, arch):
    KX.linear_arch(L, x.reshape((1, x.shape[0])), y.reshape((1, y.shape[0])), XQ, XG, arch)


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _dense(L, x, y, act, XQ, XG, arch):
    _lin(L, x, y, XQ, XG, arch)
    KX.activation_arch(y, y, act, arch)


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _glu(L, x, y, tmp, XQ, XG, arch):
    """compute_glu: y = x * sigmoid(linear(x)); y may be x."""
    n = y.shape[0]
    t = tmp[:n]
    _lin(L, x, t, XQ, XG, arch)
    KX.activation_arch(t, t, K.ACT_SIGMOID, arch)
    for i in range(n):
        y[i] = x[i] * t[i]


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _conv1d(L, x, y, mem, tmp, act, XQ, XG, arch):
    """compute_generic_conv1d: linear over [mem, x], then mem = the newest nb_in - len(x) inputs."""
    m = mem.shape[0]
    n = x.shape[0]
    for i in range(m):
        tmp[i] = mem[i]
    for i in range(n):
        tmp[m + i] = x[i]
    _dense(L, tmp[: m + n], y, act, XQ, XG, arch)
    for i in range(m):
        mem[i] = tmp[n + i]


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _gru(Li, Lr, state, x, zrh, rec, XQ, XG, arch):
    """compute_generic_gru: zrh = input product, rec = recurrent product, then the gates."""
    n = state.shape[0]
    _lin(Li, x, zrh[: 3 * n], XQ, XG, arch)
    _lin(Lr, state, rec[: 3 * n], XQ, XG, arch)
    KX.gru_gates_arch(zrh[: 3 * n], rec[: 3 * n], state, arch)


@njit(cache=True, fastmath=False, error_model="numpy")
def _cond(P, pembed, feat, period, cond, conv_mem, XQ, XG, arch):
    """compute_fargan_cond: features + pitch embedding -> 4 x 80 conditioning (cond)."""
    dense_in = np.empty(NB_FEATURES + PEMBED, np.float32)
    row = min(max(period - 32, 0), 223)
    for i in range(NB_FEATURES):
        dense_in[i] = feat[i]
    for i in range(PEMBED):
        dense_in[NB_FEATURES + i] = pembed[row, i]
    conv1_in = np.empty(64, np.float32)
    _dense(P[_FDENSE1], dense_in, conv1_in, K.ACT_TANH, XQ, XG, arch)
    fdense2_in = np.empty(128, np.float32)
    tmp = np.empty(192, np.float32)
    _conv1d(P[_FCONV1], conv1_in, fdense2_in, conv_mem, tmp, K.ACT_TANH, XQ, XG, arch)
    _dense(P[_FDENSE2], fdense2_in, cond, K.ACT_TANH, XQ, XG, arch)


@njit(cache=True, fastmath=False, error_model="numpy")
def _subframe(P, pcm, cond, period, fst, pitch_buf, fwc0_mem, g1, g2, g3, W, XQ, XG, arch):
    """run_fargan_subframe: 40 de-emphasised samples into ``pcm``; state updated in place.

    ``fst[0]`` is deemph_mem; ``W`` is float32 scratch (>= 2048).
    """
    one = np.float32(1.0)
    m1 = np.float32(-1.0)
    gainv = W[0:1]
    _dense(P[_GAIN], cond, gainv, K.ACT_LINEAR, XQ, XG, arch)
    gain = np.float32(np.exp(np.float64(gainv[0])))
    gain_1 = one / (np.float32(1e-5) + gain)
    pred = W[8:52]
    prev = W[52:92]
    pos = PITCH_MAX_PERIOD - period - 2
    for i in range(SUB + 4):
        v = gain_1 * pitch_buf[max(0, pos)]
        v = m1 if m1 > v else v  # MAX32(-1, v)
        pred[i] = one if one < v else v  # MIN32(1, v)
        pos += 1
        if pos == PITCH_MAX_PERIOD:
            pos -= period
    for i in range(SUB):
        v = gain_1 * pitch_buf[PITCH_MAX_PERIOD - SUB + i]
        v = one if one < v else v
        prev[i] = m1 if m1 > v else v
    fwc0_in = W[92:92 + SIG_IN]
    for i in range(COND):
        fwc0_in[i] = cond[i]
    for i in range(SUB + 4):
        fwc0_in[COND + i] = pred[i]
    for i in range(SUB):
        fwc0_in[COND + SUB + 4 + i] = prev[i]
    gru1_in = W[256:256 + 272]
    gru2_in = W[528:528 + 240]
    gru3_in = W[768:768 + 208]
    skip_cat = W[976:976 + 688]
    tmp = W[1664:1664 + 328]
    pg = W[4:8]
    h0 = gru1_in[:192]
    _conv1d(P[_FWC0], fwc0_in, h0, fwc0_mem, tmp, K.ACT_TANH, XQ, XG, arch)
    _glu(P[_FWC0_GLU], h0, h0, tmp, XQ, XG, arch)
    _dense(P[_PGATE], h0, pg, K.ACT_SIGMOID, XQ, XG, arch)
    zrh = W[2120:2600]
    rec = W[2600:3080]
    for i in range(SUB):
        gru1_in[192 + i] = pg[0] * pred[i + 2]
        gru1_in[192 + SUB + i] = prev[i]
    _gru(P[_G1I], P[_G1R], g1, gru1_in, zrh, rec, XQ, XG, arch)
    _glu(P[_G1_GLU], g1, gru2_in[:160], tmp, XQ, XG, arch)
    for i in range(SUB):
        gru2_in[160 + i] = pg[1] * pred[i + 2]
        gru2_in[160 + SUB + i] = prev[i]
    _gru(P[_G2I], P[_G2R], g2, gru2_in, zrh, rec, XQ, XG, arch)
    _glu(P[_G2_GLU], g2, gru3_in[:128], tmp, XQ, XG, arch)
    for i in range(SUB):
        gru3_in[128 + i] = pg[2] * pred[i + 2]
        gru3_in[128 + SUB + i] = prev[i]
    _gru(P[_G3I], P[_G3R], g3, gru3_in, zrh, rec, XQ, XG, arch)
    _glu(P[_G3_GLU], g3, skip_cat[288:416], tmp, XQ, XG, arch)
    for i in range(160):
        skip_cat[i] = gru2_in[i]
    for i in range(128):
        skip_cat[160 + i] = gru3_in[i]
    for i in range(192):
        skip_cat[416 + i] = gru1_in[i]
    for i in range(SUB):
        skip_cat[608 + i] = pg[3] * pred[i + 2]
        skip_cat[648 + i] = prev[i]
    skip_out = W[1992:1992 + 128]
    _dense(P[_SKIP], skip_cat, skip_out, K.ACT_TANH, XQ, XG, arch)
    _glu(P[_SKIP_GLU], skip_out, skip_out, tmp, XQ, XG, arch)
    _dense(P[_OUT], skip_out, pcm, K.ACT_TANH, XQ, XG, arch)
    for i in range(SUB):
        pcm[i] *= gain
    for i in range(PITCH_MAX_PERIOD - SUB):
        pitch_buf[i] = pitch_buf[i + SUB]
    for i in range(SUB):
        pitch_buf[PITCH_MAX_PERIOD - SUB + i] = pcm[i]
    mem = fst[0]
    for i in range(SUB):  # fargan_deemphasis
        pcm[i] += DEEMPH * mem
        mem = pcm[i]
    fst[0] = mem


@njit(cache=True, fastmath=False, error_model="numpy")
def fargan_cont(P, pembed, pcm0, feats0, ist, fst, pitch_buf, conv_mem, fwc0_mem, g1, g2, g3, XQ, XG, arch):
    """fargan_cont: warm start from 320 past samples (+-1 floats) and 5 feature frames.

    ``ist`` = [last_period, cont_initialized]; ``fst`` = [deemph_mem].
    """
    cond = np.empty(4 * COND, np.float32)
    W = np.zeros(3080, np.float32)
    period = 0
    for i in range(CONT_FRAMES):
        ist[0] = period
        period = period_from_feature(feats0[i, NB_BANDS])
        _cond(P, pembed, feats0[i], period, cond, conv_mem, XQ, XG, arch)
    x0 = np.empty(CONT_SAMPLES, np.float32)
    x0[0] = 0
    for i in range(1, CONT_SAMPLES):
        x0[i] = pcm0[i] - DEEMPH * pcm0[i - 1]
    for i in range(FRAME):
        pitch_buf[PITCH_MAX_PERIOD - FRAME + i] = x0[i]
    ist[1] = 1
    dummy = np.empty(SUB, np.float32)
    for k in range(NB_SUB):
        _subframe(P, dummy, cond[k * COND:(k + 1) * COND], ist[0], fst, pitch_buf, fwc0_mem, g1, g2, g3, W,
                  XQ, XG, arch)
        for i in range(SUB):
            pitch_buf[PITCH_MAX_PERIOD - SUB + i] = x0[FRAME + k * SUB + i]
    fst[0] = pcm0[CONT_SAMPLES - 1]


@njit(cache=True, fastmath=False, error_model="numpy")
def fargan_synthesize(P, pembed, feats, out, ist, fst, pitch_buf, conv_mem, fwc0_mem, g1, g2, g3, XQ, XG,
                      arch):
    """fargan_synthesize for every row of ``feats`` (T, 20): 160 float samples (+-1) per frame."""
    cond = np.empty(4 * COND, np.float32)
    W = np.zeros(3080, np.float32)
    for t in range(feats.shape[0]):
        period = period_from_feature(feats[t, NB_BANDS])
        _cond(P, pembed, feats[t], period, cond, conv_mem, XQ, XG, arch)
        for k in range(NB_SUB):
            _subframe(P, out[t * FRAME + k * SUB:t * FRAME + (k + 1) * SUB], cond[k * COND:(k + 1) * COND],
                      ist[0], fst, pitch_buf, fwc0_mem, g1, g2, g3, W, XQ, XG, arch)
        ist[0] = period


# --- Python API -----------------------------------------------------------------------------------


def _features(features, what="features") -> np.ndarray:
    f = np.asarray(features, dtype=np.float32)
    if f.ndim == 1:
        f = f.reshape(-1, NB_FEATURES) if f.size % NB_FEATURES == 0 else f
    if f.ndim != 2 or f.shape[1] < NB_FEATURES:
        raise ValueError(f"{what}: expected (n, {NB_FEATURES}) features, got shape {np.shape(features)}")
    return np.ascontiguousarray(f[:, :NB_FEATURES])


def to_int16(pcm: np.ndarray) -> np.ndarray:
    """``fargan_synthesize_int``'s conversion: floor(.5 + clamp(32768*y, -32767, 32767))."""
    y = np.float32(32768.0) * np.asarray(pcm, dtype=np.float32)
    y = np.where(y > np.float32(32767), np.float32(32767), y)
    y = np.where(y < np.float32(-32767), np.float32(-32767), y)
    return np.floor(0.5 + y.astype(np.float64)).astype(np.int16)


class FarganState:
    """libopus ``FARGANState`` (minus the model): streaming synthesis, state carried across calls."""

    def __init__(self, model: FarganModel):
        self.model = model
        self.ist = np.zeros(2, np.int64)  # last_period, cont_initialized
        self.fst = np.zeros(1, np.float32)  # deemph_mem
        self.pitch_buf = np.zeros(PITCH_MAX_PERIOD, np.float32)
        self.conv_mem = np.zeros(128, np.float32)  # COND_NET_FCONV1_STATE_SIZE
        self.fwc0_mem = np.zeros(SIG_IN, np.float32)  # the 164 values compute_generic_conv1d uses
        self.g1 = np.zeros(160, np.float32)
        self.g2 = np.zeros(128, np.float32)
        self.g3 = np.zeros(128, np.float32)
        self._xq = np.zeros(1024, np.int8)
        self._xg = np.zeros(model.max_gather, np.int8)

    def _state(self):
        return (self.ist, self.fst, self.pitch_buf, self.conv_mem, self.fwc0_mem, self.g1, self.g2, self.g3,
                self._xq, self._xg, self.model.arch_id)

    def reset(self) -> None:
        for a in self._state()[:8]:
            a[...] = 0

    @property
    def initialized(self) -> bool:
        return bool(self.ist[1])

    def cont(self, pcm0, features0) -> None:
        """fargan_cont: 320 past samples (float, +-1) and the 5 feature frames ending now."""
        pcm0 = np.ascontiguousarray(pcm0, dtype=np.float32).reshape(-1)
        f = _features(features0, "fargan_cont")
        if pcm0.size != CONT_SAMPLES or f.shape[0] != CONT_FRAMES:
            raise ValueError(f"fargan_cont needs {CONT_SAMPLES} samples and {CONT_FRAMES} feature frames, "
                             f"got {pcm0.size} and {f.shape[0]}")
        fargan_cont(self.model.params, self.model.pembed, pcm0, f, *self._state())

    def synthesize(self, features) -> np.ndarray:
        """(T, 20) features -> (T*160,) float32 samples in [-1, 1] (fargan_synthesize per frame)."""
        if not self.initialized:
            raise ValueError("FARGAN state not initialised: call cont() first (libopus asserts cont_initialized)")
        f = _features(features)
        out = np.zeros(f.shape[0] * FRAME, np.float32)
        if f.shape[0]:
            fargan_synthesize(self.model.params, self.model.pembed, f, out, *self._state())
        return out


def load_model(weights, arch: str | None = None) -> FarganModel:
    """Bind libopus's FARGAN from a blob path, blob bytes or WeightSet (fargan or combined blob)."""
    return FarganModel(weights, arch)


def demo_synthesis(model: FarganModel, features) -> np.ndarray:
    """What ``fargan_demo -fargan-synthesis`` writes, as int16: frame 0 (x5) warms up from silence,
    frames 1.. are synthesised, the first 80 samples dropped, and the last frame repeated twice
    with 80 samples of the second kept (the demo's end-of-file handling)."""
    f = _features(features)
    st = FarganState(model)
    st.cont(np.zeros(CONT_SAMPLES, np.float32), np.repeat(f[:1], CONT_FRAMES, axis=0))
    last = f[-1:] if f.shape[0] > 1 else f[:1]
    pcm = st.synthesize(np.concatenate([f[1:], last, last]) if f.shape[0] > 1 else np.concatenate([f, f]))
    n = (max(f.shape[0] - 1, 0) + 1) * FRAME  # frames 1..n-1, then the repeated last one
    return to_int16(pcm[FRAME // 2 : n + FRAME // 2])


class LibopusVocoder:
    """Streaming vocoder with our codec's interface (``synthesize``/``reset``/``delay``) on libopus's FARGAN.

    libopus always warm-starts FARGAN with ``fargan_cont``; with no past audio we do what
    ``fargan_demo`` does: 320 zero samples and the first feature frame repeated five times
    (that frame yields no audio of its own, so every call's output is the synthesis of the
    frames it was given, one frame behind the first call's). Output is in int16 units
    (float32), like :class:`mlcodec.vocoder.fargan.NeuralVocoder`.
    """

    #: Output lag in 16 kHz samples relative to the audio libopus's analysis
    #: (``lpcnet_compute_single_frame_features``) took the features from: fargan_demo, whose
    #: output is aligned with its input, drops 80 samples and skips frame 0 (used for the warm
    #: start), so synthesising frame k yields input samples [160k - 240, 160k - 80). Measured
    #: on speech: 260-270 (tests/test_libopus_fargan.py::test_vocoder_delay_matches_measured_alignment).
    delay = FRAME + FRAME // 2

    def __init__(self, model: FarganModel):
        self.model = model
        self.state = FarganState(model)

    def reset(self) -> None:
        self.state.reset()

    def synthesize(self, features) -> np.ndarray:
        f = _features(features)
        if not f.shape[0]:
            return np.zeros(0, np.float32)
        if not self.state.initialized:
            self.state.cont(np.zeros(CONT_SAMPLES, np.float32), np.repeat(f[:1], CONT_FRAMES, axis=0))
        return self.state.synthesize(f) * np.float32(32768.0)


def load_vocoder(weights, arch: str | None = None) -> LibopusVocoder:
    """A fresh streaming :class:`LibopusVocoder` from a blob path, bytes or WeightSet."""
    return LibopusVocoder(FarganModel(weights, arch))
