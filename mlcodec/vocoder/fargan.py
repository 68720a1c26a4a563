"""FARGAN-lite neural vocoder: streaming inference on the fixed-point core (specs 08 s1, 06).

A small member of the FARGAN family (``train/vocoder/model.py`` has the training twin and the
architecture notes; ``docs/vocoder.md`` the measurements). Per 10 ms feature frame it runs a
conditioning net, then four 2.5 ms subframes of the signal net with a pitch-driven adaptive
codebook (the past output one pitch period back), producing 160 samples. Output block t spans
the centres of frames t-1 and t, the same alignment as :class:`mlcodec.dsp.synth.ReferenceSynth`
(``SYNTH_DELAY`` = 160 samples), so the two are drop-in replacements for each other.

Weights come from a libopus-format blob (specs 06 s1-s3) with libopus-style names; the large
matrices are int8 (8x4 blocks, per-output scale; specs 06 s3.2, s5) and, for ``fixed_point=False``,
also float. The whole frame loop runs inside one numba function calling the inference-core
kernels of :mod:`mlcodec.nn.kernels` (libopus generic-C arithmetic, rational tanh/sigmoid).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from mlcodec.errors import WeightsError
from mlcodec.nn import kernels as K
from mlcodec.nn.layers import LinearLayer, linear_init
from mlcodec.nn.weights import read_weights

FRAME = 160
N_SUB = 4
SUB = 40
PITCH_BUF = 256
PRED = SUB + 4
PMIN, PMAX = 32, 255
PEMBED_ROWS = 224
PREEMPH = 0.85
NB_FEATURES = 20
#: Output delay relative to the analysed input (same as mlcodec.dsp.synth.SYNTH_DELAY).
SYNTH_DELAY = FRAME
#: Record holding the architecture sizes (int32): version, cond, pembed, fdense1, fconv1, fwc, gru, skip.
CONFIG_RECORD = "fargan_lite_config"
CONFIG_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "vocoder_v2.bin"

#: Layers stored as int8 (with scale and subias) in addition to float; all others are float only.
QUANTIZED = (
    "cond_net_fconv1", "cond_net_fdense2", "sig_net_fwc0_conv", "sig_net_fwc0_glu_gate",
    "sig_net_gru1_input", "sig_net_gru1_recurrent", "sig_net_gru1_glu_gate",
    "sig_net_gru2_input", "sig_net_gru2_recurrent", "sig_net_gru2_glu_gate",
    "sig_net_skip_dense", "sig_net_skip_glu_gate", "sig_net_sig_dense_out",
)
#: Layers with a bias record.
BIASED = ("cond_gain_dense", "sig_net_gain_dense_out")
#: Order of the linear layers in the numba parameter tuple.
LAYER_ORDER = (
    "cond_net_fdense1", "cond_net_fconv1", "cond_net_fdense2", "cond_gain_dense",
    "sig_net_fwc0_conv", "sig_net_fwc0_glu_gate", "sig_net_gain_dense_out",
    "sig_net_gru1_input", "sig_net_gru1_recurrent", "sig_net_gru1_glu_gate",
    "sig_net_gru2_input", "sig_net_gru2_recurrent", "sig_net_gru2_glu_gate",
    "sig_net_skip_dense", "sig_net_skip_glu_gate", "sig_net_sig_dense_out",
)


def layer_shapes(cfg: dict) -> dict:
    """(nb_in, nb_out) of every linear layer for architecture sizes ``cfg`` (training config keys)."""
    c = cfg
    fwc_in = c["cond"] + PRED + SUB
    return {
        "cond_net_fdense1": (NB_FEATURES + c["pembed"], c["fdense1"]),
        "cond_net_fconv1": (3 * c["fdense1"], c["fconv1"]),
        "cond_net_fdense2": (c["fconv1"], N_SUB * c["cond"]),
        "cond_gain_dense": (c["cond"], 1),
        "sig_net_fwc0_conv": (2 * fwc_in, c["fwc"]),
        "sig_net_fwc0_glu_gate": (c["fwc"], c["fwc"]),
        "sig_net_gain_dense_out": (c["fwc"], 3),
        "sig_net_gru1_input": (c["fwc"] + 2 * SUB, 3 * c["gru"]),
        "sig_net_gru1_recurrent": (c["gru"], 3 * c["gru"]),
        "sig_net_gru1_glu_gate": (c["gru"], c["gru"]),
        "sig_net_gru2_input": (c["gru"] + 2 * SUB, 3 * c["gru"]),
        "sig_net_gru2_recurrent": (c["gru"], 3 * c["gru"]),
        "sig_net_gru2_glu_gate": (c["gru"], c["gru"]),
        "sig_net_skip_dense": (2 * c["gru"] + c["fwc"] + 2 * SUB, c["skip"]),
        "sig_net_skip_glu_gate": (c["skip"], c["skip"]),
        "sig_net_sig_dense_out": (c["skip"], SUB),
    }


CONFIG_KEYS = ("cond", "pembed", "fdense1", "fconv1", "fwc", "gru", "skip")


def complexity(cfg: dict) -> dict:
    """Parameters and multiply-accumulates per second of audio (dense equivalent)."""
    shapes = layer_shapes(cfg)
    per_frame = sum(shapes[n][0] * shapes[n][1] for n in LAYER_ORDER[:3])
    per_sub = sum(shapes[n][0] * shapes[n][1] for n in LAYER_ORDER[3:])
    params = sum(a * b for a, b in shapes.values()) + PEMBED_ROWS * cfg["pembed"] + 1 + 3
    mac = 100 * per_frame + 400 * per_sub
    return {"params": params, "mmac_per_s": mac / 1e6, "mflop_per_s": 2 * mac / 1e6}


# --- export: float matrices -> blob records (specs 06 s2, s3.2, s5.1) -------------------------


def quantize_int8(w: np.ndarray, bias: np.ndarray | None = None):
    """libopus export quantisation of an input-major (nb_in, nb_out) matrix (specs 06 s5.1).

    Returns (int8 blob bytes in 8x4 block order, scale, subias).
    """
    w = np.asarray(w, dtype=np.float64)
    nb_in, nb_out = w.shape
    pair = np.abs(w[0::2] + w[1::2]).max(0) if nb_in >= 2 else np.zeros(nb_out)
    q = np.maximum(np.abs(w).max(0) / 127.0, pair / 129.0)
    q = np.where(q > 0, q, 1e-12)
    wq = np.rint(w / q)
    if np.abs(wq).max() > 127:
        raise WeightsError("int8 quantisation out of range")
    wq = wq.astype(np.int8)
    b = np.zeros(nb_out) if bias is None else np.asarray(bias, dtype=np.float64)
    subias = b - wq.astype(np.float64).sum(0) * q
    blocks = wq.T.reshape(nb_out // 8, 8, nb_in // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return blocks, (q / 127.0).astype(np.float32), subias.astype(np.float32)


def make_records(cfg: dict, mats: dict, biases: dict, pembed: np.ndarray) -> dict:
    """Blob records {name: array} (insertion order = blob order) from input-major float matrices.

    ``mats[name]`` is (nb_in, nb_out) float for every layer of :data:`LAYER_ORDER`;
    ``biases[name]`` for the layers of :data:`BIASED`; ``pembed`` the (224, pembed) table.
    """
    shapes = layer_shapes(cfg)
    recs: list[tuple[str, np.ndarray]] = [
        (CONFIG_RECORD, np.array([CONFIG_VERSION] + [int(cfg[k]) for k in CONFIG_KEYS], dtype=np.int32)),
        ("cond_net_pembed_weights_float", np.asarray(pembed, dtype=np.float32).reshape(-1)),
    ]
    for name in LAYER_ORDER:
        w = np.asarray(mats[name], dtype=np.float32)
        if w.shape != shapes[name]:
            raise WeightsError(f"{name}: matrix {w.shape}, expected {shapes[name]}")
        b = biases.get(name)
        if b is not None:
            recs.append((f"{name}_bias", np.asarray(b, dtype=np.float32)))
        if name in QUANTIZED:
            wq, scale, subias = quantize_int8(w, b)
            recs += [(f"{name}_weights_int8", wq), (f"{name}_scale", scale), (f"{name}_subias", subias)]
        recs.append((f"{name}_weights_float", w.reshape(-1)))
    return dict(recs)


def random_records(cfg: dict | None = None, seed: int = 0) -> dict:
    """Records of a randomly initialised model (tests and benchmarks without a trained blob)."""
    cfg = cfg or dict(cond=64, pembed=12, fdense1=64, fconv1=128, fwc=128, gru=96, skip=128)
    rng = np.random.default_rng(seed)
    mats = {n: rng.uniform(-1, 1, s).astype(np.float32) / math.sqrt(s[0]) for n, s in layer_shapes(cfg).items()}
    biases = {n: rng.uniform(-0.1, 0.1, layer_shapes(cfg)[n][1]).astype(np.float32) for n in BIASED}
    biases["cond_gain_dense"] = np.array([-3.0], dtype=np.float32)
    return make_records(cfg, mats, biases, rng.standard_normal((PEMBED_ROWS, cfg["pembed"])).astype(np.float32))


# --- binding -----------------------------------------------------------------------------------


class VocoderModel:
    """Bound layers of one blob: int8 (``fixed_point=True``) or float weights for the big matrices."""

    def __init__(self, ws, fixed_point: bool = True):
        if CONFIG_RECORD not in ws:
            raise WeightsError(f"not a FARGAN-lite blob: missing record {CONFIG_RECORD!r}",
                               file=getattr(ws, "file", None))
        cv = np.asarray(ws.array(CONFIG_RECORD) if hasattr(ws, "array") else ws[CONFIG_RECORD].data)
        if cv.size != 1 + len(CONFIG_KEYS) or int(cv[0]) != CONFIG_VERSION:
            raise WeightsError(f"{CONFIG_RECORD}: unsupported config {cv.tolist()}", file=getattr(ws, "file", None))
        self.cfg = {k: int(v) for k, v in zip(CONFIG_KEYS, cv[1:])}
        if min(self.cfg.values()) <= 0:
            raise WeightsError(f"{CONFIG_RECORD}: non-positive size in {self.cfg}")
        self.fixed_point = fixed_point
        shapes = layer_shapes(self.cfg)
        layers = []
        for name in LAYER_ORDER:
            nb_in, nb_out = shapes[name]
            q = fixed_point and name in QUANTIZED
            layers.append(linear_init(
                ws, bias=f"{name}_bias" if name in BIASED else None,
                subias=None,
                weights=f"{name}_weights_int8" if q else None,
                float_weights=None if q else f"{name}_weights_float",
                scale=f"{name}_scale" if q else None,
                nb_inputs=nb_in, nb_outputs=nb_out, name=name))
            if not q and layers[-1].float_weights is None:
                raise WeightsError(f"{name}: missing record {name}_weights_float", file=getattr(ws, "file", None))
        self.layers: list[LinearLayer] = layers
        self.params = tuple(L.params for L in layers)
        from mlcodec.nn.layers import bind_embedding

        self.pembed = bind_embedding(ws, "cond_net_pembed", PEMBED_ROWS, self.cfg["pembed"]).table
        self.max_in = max(L.nb_inputs for L in layers)
        self.max_gather = max(max(L.max_gather for L in layers), 1)

    def complexity(self) -> dict:
        return complexity(self.cfg)


# --- the streaming frame loop (numba) ------------------------------------------------------------

# state vector layout: [last_period, deemph_mem]
_ST_PERIOD = 0
_ST_DEEMPH = 1


@njit(cache=True, fastmath=False)
def _period(f18):
    t = np.floor(0.5 + 256.0 / 2.0 ** (np.float64(f18) + 1.5))
    if not (t >= PMIN):  # also catches NaN
        t = PMIN
    if t > PMAX:
        t = PMAX
    return int(t)


@njit(cache=True, fastmath=False)
def _lin(L, x, y, XQ, XG):
    K.linear(L, x.reshape((1, x.shape[0])), y.reshape((1, y.shape[0])), XQ, XG)


@njit(cache=True, fastmath=False, inline="always")
def _sig_input(dst, h, pgain, pred, prev):
    """dst = [h, pgain x pred[2:2+SUB], prev]: the signal net's layer inputs (specs 08 s1.3)."""
    n = h.shape[0]
    for i in range(n):
        dst[i] = h[i]
    for i in range(SUB):
        dst[n + i] = pgain * pred[2 + i]
        dst[n + SUB + i] = prev[i]


@njit(cache=True, fastmath=False, inline="always")
def _gru_glu(Pi, Pr, Pg, s, gin, sv, t, h, zrh, rec, XQ, XG):
    """One GRU step on ``gin`` (state ``s`` (1, n)), then h = s * sigmoid(glu(s))."""
    K.gru_step(Pi, Pr, s, gin.reshape((1, gin.shape[0])), zrh, rec, XQ, XG)
    n = s.shape[1]
    for i in range(n):
        sv[i] = s[0, i]
    _lin(Pg, sv, t, XQ, XG)
    K.activation(t, t, K.ACT_SIGMOID)
    for i in range(n):
        h[i] = s[0, i] * t[i]


@njit(cache=True, fastmath=False)
def _synth(P, pembed, dims, feats, out, st, conv_mem, pbuf, fwc_mem, s1, s2, XQ, XG):
    """Synthesise len(feats) frames into ``out`` (160 per frame, int16 units); state updated in place.

    ``P`` holds the layer parameter tuples in :data:`LAYER_ORDER`; ``dims`` = cond, pembed,
    fdense1, fconv1, fwc, gru, skip.
    """
    cond_d, pe_d, fd1, fc1, fwc, gru, skip = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6]
    fwc_in = cond_d + PRED + SUB
    x0 = np.zeros(NB_FEATURES + pe_d, np.float32)
    h_fd1 = np.zeros(fd1, np.float32)
    convin = np.zeros(3 * fd1, np.float32)
    h_fc1 = np.zeros(fc1, np.float32)
    cond = np.zeros(N_SUB * cond_d, np.float32)
    gbuf = np.zeros(1, np.float32)
    fin = np.zeros(2 * fwc_in, np.float32)
    h0 = np.zeros(fwc, np.float32)
    t0 = np.zeros(fwc, np.float32)
    t1 = np.zeros(gru, np.float32)
    t2 = np.zeros(skip, np.float32)
    c = np.zeros(cond_d, np.float32)
    sv1 = np.zeros(gru, np.float32)
    pg = np.zeros(3, np.float32)
    pred = np.zeros(PRED, np.float32)
    prev = np.zeros(SUB, np.float32)
    g1in = np.zeros(fwc + 2 * SUB, np.float32)
    g2in = np.zeros(gru + 2 * SUB, np.float32)
    zrh = np.zeros((1, 3 * gru), np.float32)
    rec = np.zeros((1, 3 * gru), np.float32)
    h1 = np.zeros(gru, np.float32)
    h2 = np.zeros(gru, np.float32)
    skin = np.zeros(2 * gru + fwc + 2 * SUB, np.float32)
    sk = np.zeros(skip, np.float32)
    sig = np.zeros(SUB, np.float32)
    one = np.float32(1.0)
    for t in range(feats.shape[0]):
        period = _period(feats[t, 18])
        if st[_ST_PERIOD] <= 0:
            st[_ST_PERIOD] = period
        # --- conditioning net (specs 08 s1.2) ---
        for i in range(NB_FEATURES):
            x0[i] = feats[t, i]
        row = min(max(period - 32, 0), PEMBED_ROWS - 1)
        for i in range(pe_d):
            x0[NB_FEATURES + i] = pembed[row, i]
        _lin(P[0], x0, h_fd1, XQ, XG)
        K.activation(h_fd1, h_fd1, K.ACT_TANH)
        for i in range(2 * fd1):
            convin[i] = conv_mem[i]
        for i in range(fd1):
            convin[2 * fd1 + i] = h_fd1[i]
        for i in range(2 * fd1):
            conv_mem[i] = convin[fd1 + i]
        _lin(P[1], convin, h_fc1, XQ, XG)
        K.activation(h_fc1, h_fc1, K.ACT_TANH)
        _lin(P[2], h_fc1, cond, XQ, XG)
        K.activation(cond, cond, K.ACT_TANH)
        # --- signal net, four subframes (specs 08 s1.3) ---
        for k in range(N_SUB):
            T = int(st[_ST_PERIOD]) if k < 2 else period
            for i in range(cond_d):
                c[i] = cond[k * cond_d + i]
            _lin(P[3], c, gbuf, XQ, XG)
            gain = np.float32(math.exp(gbuf[0]))
            g1 = one / (np.float32(1e-5) + gain)
            p0 = PITCH_BUF - T - 2
            if p0 < 0:
                p0 = 0
            for i in range(PRED):
                j = p0 + i
                if j >= PITCH_BUF:
                    j -= T
                v = g1 * pbuf[j]
                pred[i] = min(max(v, np.float32(-1.0)), one)
            for i in range(SUB):
                v = g1 * pbuf[PITCH_BUF - SUB + i]
                prev[i] = min(max(v, np.float32(-1.0)), one)
            # frame-wise conv over [previous input, current input]
            for i in range(fwc_in):
                fin[i] = fwc_mem[i]
            for i in range(cond_d):
                fin[fwc_in + i] = c[i]
            for i in range(PRED):
                fin[fwc_in + cond_d + i] = pred[i]
            for i in range(SUB):
                fin[fwc_in + cond_d + PRED + i] = prev[i]
            for i in range(fwc_in):
                fwc_mem[i] = fin[fwc_in + i]
            _lin(P[4], fin, h0, XQ, XG)
            K.activation(h0, h0, K.ACT_TANH)
            _lin(P[5], h0, t0, XQ, XG)
            K.activation(t0, t0, K.ACT_SIGMOID)
            for i in range(fwc):
                h0[i] = h0[i] * t0[i]
            _lin(P[6], h0, pg, XQ, XG)
            K.activation(pg, pg, K.ACT_SIGMOID)
            # GRU 1, GRU 2: input [h, gain x pred, prev], then a GLU on the state
            _sig_input(g1in, h0, pg[0], pred, prev)
            _gru_glu(P[7], P[8], P[9], s1, g1in, sv1, t1, h1, zrh, rec, XQ, XG)
            _sig_input(g2in, h1, pg[1], pred, prev)
            _gru_glu(P[10], P[11], P[12], s2, g2in, sv1, t1, h2, zrh, rec, XQ, XG)
            # skip dense + GLU + output
            for i in range(gru):
                skin[i] = h1[i]
                skin[gru + i] = h2[i]
            _sig_input(skin[2 * gru:], h0, pg[2], pred, prev)
            _lin(P[13], skin, sk, XQ, XG)
            K.activation(sk, sk, K.ACT_TANH)
            _lin(P[14], sk, t2, XQ, XG)
            K.activation(t2, t2, K.ACT_SIGMOID)
            for i in range(skip):
                sk[i] = sk[i] * t2[i]
            _lin(P[15], sk, sig, XQ, XG)
            K.activation(sig, sig, K.ACT_TANH)
            for i in range(PITCH_BUF - SUB):
                pbuf[i] = pbuf[i + SUB]
            mem = st[_ST_DEEMPH]
            base = t * FRAME + k * SUB
            for i in range(SUB):
                v = sig[i] * gain
                pbuf[PITCH_BUF - SUB + i] = v
                mem = np.float64(v) + PREEMPH * mem
                out[base + i] = np.float32(mem * 32768.0)
            st[_ST_DEEMPH] = mem
        st[_ST_PERIOD] = period


class NeuralVocoder:
    """Streaming FARGAN-lite synthesis: feed (k, 20) feature frames, get k*160 samples per call.

    Same interface and alignment as :class:`mlcodec.dsp.synth.ReferenceSynth`; chunking-invariant
    (all state carries over between calls). ``fixed_point=True`` runs the int8 matrices.
    """

    #: Output lag in samples relative to the analysed input (read by mlcodec.codec.vocoders).
    delay = SYNTH_DELAY

    def __init__(self, model: VocoderModel, postfilter=None):
        self.model = model
        #: Optional output stage with ``process(samples, feats)`` and ``reset()``
        #: (``mlcodec.vocoder.postfilter.PitchPostfilter``); None: the network's output as is.
        self.postfilter = postfilter
        c = model.cfg
        self._dims = np.array([c[k] for k in CONFIG_KEYS], dtype=np.int64)
        self._st = np.zeros(2, dtype=np.float64)
        self._conv = np.zeros(2 * c["fdense1"], dtype=np.float32)
        self._pbuf = np.zeros(PITCH_BUF, dtype=np.float32)
        self._fwc = np.zeros(c["cond"] + PRED + SUB, dtype=np.float32)
        self._s1 = np.zeros((1, c["gru"]), dtype=np.float32)
        self._s2 = np.zeros((1, c["gru"]), dtype=np.float32)
        self._xq = np.zeros(max(model.max_in, 3 * c["gru"]), dtype=np.int8)
        self._xg = np.zeros(model.max_gather, dtype=np.int8)

    @property
    def fixed_point(self) -> bool:
        return self.model.fixed_point

    def reset(self) -> None:
        for a in (self._st, self._conv, self._pbuf, self._fwc, self._s1, self._s2):
            a[...] = 0
        if self.postfilter is not None:
            self.postfilter.reset()

    def synthesize(self, features: np.ndarray) -> np.ndarray:
        """(k, >=20) features -> (k*160,) float32 samples in int16 units."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float32))
        if f.ndim != 2 or f.shape[1] < NB_FEATURES:
            raise ValueError(f"expected (k, {NB_FEATURES}) features, got shape {np.shape(features)}")
        f = np.ascontiguousarray(f[:, :NB_FEATURES])
        out = np.zeros(f.shape[0] * FRAME, dtype=np.float32)
        if f.shape[0]:
            _synth(self.model.params, self.model.pembed, self._dims, f, out, self._st, self._conv,
                   self._pbuf, self._fwc, self._s1, self._s2, self._xq, self._xg)
            if self.postfilter is not None:
                out = self.postfilter.process(out, f)
        return out


def load_vocoder(path=None, *, fixed_point: bool = True, postfilter: bool = True) -> NeuralVocoder:
    """A fresh streaming vocoder from a blob (default: the shipped ``mlcodec/models/vocoder_v2.bin``).

    ``postfilter``: follow the network with the pitch postfilter (``mlcodec.vocoder.postfilter``,
    on by default: it measures better, docs/vocoder.md); False gives the network's raw output."""
    from mlcodec.vocoder.postfilter import PitchPostfilter

    p = DEFAULT_MODEL if path is None else path
    ws = read_weights(p)
    return NeuralVocoder(VocoderModel(ws, fixed_point=fixed_point), PitchPostfilter() if postfilter else None)


def synthesize(features: np.ndarray, path=None, *, fixed_point: bool = True, postfilter: bool = True) -> np.ndarray:
    """Whole-signal synthesis: (n, 20) features -> (n*160,) float32 (int16 units)."""
    return load_vocoder(path, fixed_point=fixed_point, postfilter=postfilter).synthesize(features)
