"""The learned latent coder: a small causal RDOVAE over LPCNet features (specs 05, 08 s2).

Contract used by the stream layer (payload, encode/decode pipelines):

* :data:`FRAMES_PER_LATENT` = 2: one latent per two 10 ms feature frames (20 ms).
* :func:`load_model` (default: the shipped ``mlcodec/models/codec_v2.bin``) returns a
  :class:`CodecModel` with ``name``, ``checksum`` (SHA-256 of the blob, for OpusTags),
  ``latent_dim``, ``nb_levels``, ``PRESETS`` (``{"1.5k": level, "3k": level, "6k": level}``)
  and ``level_bits`` (measured mean range-coded bits per latent at each level).
* ``model.new_encoder(fixed_point=True)`` -> :class:`LatentEncoder`: ``step(feats (2, 20))``
  -> latent float32 ``(latent_dim,)``; ``process(feats (2n, 20))`` -> ``(n, latent_dim)``
  gives bit-identical results to n calls of ``step`` (layers are causal, so they can run a
  block at a time).
* ``model.new_decoder(level, fixed_point=True)`` -> :class:`LatentDecoder`:
  ``step(zhat (latent_dim,))`` -> feats ``(2, 20)`` [older, newer]; ``process(zhat (n, D))``
  -> ``(2n, 20)``. The decoder is conditioned on the quantizer **level** (an extra input
  ``level/8 - 1``, as libopus's v12 DRED decoder), so it must be told the stream's level.
* ``model.quant_tables(level)`` -> :class:`QuantTables`: DRED's four u8 tables of that
  level (specs 05 s5) as int arrays ``scale_q8``, ``dead_zone_q8``, ``r_q8``, ``p0_q8``,
  plus ``p0`` and ``decay`` **in Q15** (``q8 << 7``): exactly the ``p0``/``decay``
  arguments of ``RangeEncoder.laplace_p0`` (specs 03 s5.2). ``coded`` says which dims are
  in the bitstream (DRED: not coded when ``r_q8 == 0`` or ``p0_q8 == 255``).
* :func:`quantize` (encoder side, DRED soft dead zone, specs 05 s7 step 5) and
  :func:`dequantize` (``q * 256 / scale_q8``, specs 05 s4). Uncoded dims quantize to 0.
* :func:`value_bits`: ideal code length in bits of quantized values under the tables (for
  rate estimates; the range coder adds its termination and byte rounding).

Rates: the presets were calibrated on the evaluation subset (``bench/eval_subset.py``)
counting, per 20 ms packet, the range-coded latent rounded up to whole bytes
(``8*ceil((bits + 1)/8)``, the "payload kb/s" of docs/format.md s5, which excludes the
format-version byte); see docs/training.md.

Speed: ``process`` on a block of latents runs each layer once over the block (thousands of
times real time on one core); per-latent ``step`` calls are dominated by Python call overhead
(roughly 200-800x real time depending on load), so pipelines should feed whole packets or files
to ``process``.

The fixed-point path binds the ``*_weights_int8`` records (int8 products on the inference
core, specs 06 s5); the float path binds the ``*_weights_float`` copies of the same layers.
``enc_dense1`` and ``dec_dense1`` read unbounded inputs and are float in both paths (as
libopus keeps ``enc_dense1``/``dec_dense1`` float, specs 06 s7). Architecture:
docs/training.md.
"""
from __future__ import annotations

import functools

import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from mlcodec.errors import CodecError, WeightsError
from mlcodec.codec.format import BITRATE_PRESETS, preset_level
from mlcodec.nn.layers import GRU, Conv1d, LinearLayer, Scratch, compute_dense, linear_init
from mlcodec.nn.weights import WeightSet, read_weights, weights_checksum

#: Feature frames per latent (2 x 10 ms = one latent per 20 ms).
FRAMES_PER_LATENT = 2
#: LPCNet features coded (specs 07 s1).
NB_FEATURES = 20
#: ``codec_config[0]`` this code understands.
CODEC_BLOB_VERSION = 1
#: The shipped model (package resource).
DEFAULT_MODEL = "codec_v2.bin"
#: Every codec blob in the package: the default encodes, the decoder reads streams of any of them.
SHIPPED_MODELS = ("codec_v2.bin", "codec_v1.bin")
#: At targets up to LOW_RATE_BPS the encoder's default is LOW_RATE_MODEL (issue 11, measured on
#: the 16 evaluation files at 1.5k, reference vocoder: codec_v1 PESQ-WB 1.24 / STOI 0.732 /
#: DNSMOS OVRL 2.79 / P.808 2.71 against codec_v2's 1.22 / 0.741 / 2.50 / 2.77: the 1.5k rate
#: tools' raised rounding thresholds cost codec_v2 0.3 OVRL; docs/training.md s4b).
LOW_RATE_BPS = 1500
LOW_RATE_MODEL = "codec_v1.bin"
#: Preset names in ``codec_presets`` order (owned by mlcodec.codec.format).
PRESET_NAMES = BITRATE_PRESETS


# --- quantizer tables (specs 05 s5) -----------------------------------------------------------


@dataclass(frozen=True)
class QuantTables:
    """DRED-style tables of one level; arrays have ``latent_dim`` int32 entries (Q8, 0..255)."""

    level: int
    scale_q8: np.ndarray
    dead_zone_q8: np.ndarray
    r_q8: np.ndarray
    p0_q8: np.ndarray

    @property
    def p0(self) -> np.ndarray:
        """P(0) in Q15 (``p0_q8 << 7``), the ``p0`` argument of ``laplace_p0``."""
        return self.p0_q8.astype(np.int64) << 7

    @property
    def decay(self) -> np.ndarray:
        """Laplace decay in Q15 (``r_q8 << 7``), the ``decay`` argument of ``laplace_p0``."""
        return self.r_q8.astype(np.int64) << 7

    @property
    def coded(self) -> np.ndarray:
        """Dimensions present in the bitstream (DRED: not when r_q8 == 0 or p0_q8 == 255)."""
        return (self.r_q8 != 0) & (self.p0_q8 != 255)

    @property
    def dim(self) -> int:
        return int(self.scale_q8.size)


def quantize(z, tables: QuantTables, threshold: float = 0.5) -> np.ndarray:
    """DRED encoder quantizer (specs 05 s7 step 5): ``y = z*scale/256``, soft dead zone
    ``y - d*tanh(y/(d + 0.1))`` with ``d = dead_zone/256``, ``q = floor(0.5 + y)``; uncoded
    dimensions give 0. ``z`` is (..., dim); returns int32 of the same shape.
    ``threshold`` > 0.5 rounds magnitudes down unless their fraction reaches it (an encoder-only
    rate-distortion choice: the decoder's reconstruction points are unchanged)."""
    z = np.asarray(z, dtype=np.float64)
    if z.shape[-1:] != (tables.dim,):
        raise CodecError(f"quantize: latent has {z.shape[-1:] or 'no'} values, tables have {tables.dim}")
    y = z * (tables.scale_q8 / 256.0)
    d = tables.dead_zone_q8 / 256.0
    y = y - d * np.tanh(y / (d + 0.1))
    y = np.nan_to_num(y, nan=0.0, posinf=1e6, neginf=-1e6)
    y = np.clip(y, -1e6, 1e6)
    if threshold == 0.5:
        q = np.floor(0.5 + y).astype(np.int32)
    else:
        q = (np.sign(y) * np.maximum(np.floor(np.abs(y) + 1.0 - threshold), 0.0)).astype(np.int32)
    return np.where(tables.coded, q, 0).astype(np.int32)


def dequantize(q, tables: QuantTables) -> np.ndarray:
    """``q * 256 / scale_q8`` (scale 0 read as 1), float32, as libopus's DRED decoder (specs 05 s4)."""
    q = np.asarray(q)
    if q.shape[-1:] != (tables.dim,):
        raise CodecError(f"dequantize: {q.shape[-1:] or 'no'} values, tables have {tables.dim}")
    s = np.where(tables.scale_q8 != 0, tables.scale_q8, 1).astype(np.float32)
    return (q.astype(np.float32) * np.float32(256.0) / s).astype(np.float32)


def _mag_icdf(decay: int) -> list[int]:
    """Magnitude iCDF of the Laplace-p0 coder (specs 03 s5.2)."""
    icdf = [max(7, decay)]
    for i in range(1, 7):
        icdf.append(max(7 - i, (icdf[-1] * decay) >> 15))
    icdf.append(0)
    return icdf


def value_bits(q, tables: QuantTables) -> np.ndarray:
    """Ideal code length (bits) of each row of quantized values ``q`` (..., dim) under the
    Laplace-p0 model (specs 03 s5.2); uncoded dims cost nothing. Returns (...) float64."""
    q = np.asarray(q, dtype=np.int64)
    lead = q.shape[:-1]
    q2 = q.reshape(-1, tables.dim)
    bits = np.zeros(q2.shape[0])
    for i in range(tables.dim):
        if not tables.coded[i]:
            continue
        p0 = int(tables.p0[i])
        dec = int(tables.decay[i])
        col = q2[:, i]
        rest = 32768 - p0
        pz, pneg = p0, rest // 2
        ppos = rest - pneg
        b = np.where(col == 0, -math.log2(max(pz, 1) / 32768), 0.0)
        b = b + np.where(col > 0, -math.log2(max(ppos, 1) / 32768), 0.0)
        b = b + np.where(col < 0, -math.log2(max(pneg, 1) / 32768), 0.0)
        icdf = _mag_icdf(dec)
        prev = [32768] + icdf[:-1]
        cost = np.array([-math.log2(max(prev[s] - icdf[s], 1) / 32768) for s in range(8)])
        m = np.abs(col) - 1
        nz = col != 0
        mm = np.where(nz, m, 0)
        esc = mm // 7
        b = b + np.where(nz, esc * cost[7] + cost[mm - 7 * esc], 0.0)
        bits += b
    return bits.reshape(lead)


def packet_payload_bits(latent_bits) -> np.ndarray:
    """Calibration model of one packet's range-coder payload: whole bytes holding the
    latent bits plus about one bit of range-coder termination (excludes the version byte)."""
    return 8 * np.ceil((np.asarray(latent_bits, dtype=np.float64) + 1.0) / 8.0)


# --- the networks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arch:
    frames_per_latent: int
    latent_dim: int
    nb_levels: int
    enc_dense: int
    enc_gru: int
    enc_conv: int
    dec_dense: int
    dec_gru: int
    nb_features: int

    @property
    def enc_in(self):
        return self.nb_features * self.frames_per_latent


def _layer(ws, name: str, nb_in: int, nb_out: int, fixed: bool, always_float: bool = False) -> LinearLayer:
    if always_float or not fixed:
        return linear_init(ws, bias=f"{name}_bias", float_weights=f"{name}_weights_float",
                           nb_inputs=nb_in, nb_outputs=nb_out, name=name)
    return linear_init(ws, bias=f"{name}_bias", subias=f"{name}_subias", weights=f"{name}_weights_int8",
                       scale=f"{name}_scale", nb_inputs=nb_in, nb_outputs=nb_out, name=name)


def _float_required(ws, name: str) -> None:
    if f"{name}_weights_float" not in ws:
        raise WeightsError(f"no float weights for {name!r}: this blob only supports the fixed-point path",
                           file=ws.file)


class _Layers:
    """The bound layers of one path (fixed point or float); immutable, shared by all streams."""

    def __init__(self, ws: WeightSet, a: _Arch, fixed: bool):
        if not fixed:
            _float_required(ws, "enc_zdense")
        ed, eg, ec, dd, dg = a.enc_dense, a.enc_gru, a.enc_conv, a.dec_dense, a.dec_gru
        L = lambda n, i, o, **k: _layer(ws, n, i, o, fixed, **k)  # noqa: E731
        self.enc_dense1 = L("enc_dense1", a.enc_in, ed, always_float=True)
        self.enc_gru1 = (L("enc_gru1_input", ed, 3 * eg), L("enc_gru1_recurrent", eg, 3 * eg))
        self.enc_conv1 = L("enc_conv1", 2 * (ed + eg), ec)
        self.enc_gru2 = (L("enc_gru2_input", ed + eg + ec, 3 * eg), L("enc_gru2_recurrent", eg, 3 * eg))
        self.enc_zdense = L("enc_zdense", ed + 2 * eg + ec, a.latent_dim)
        self.dec_dense1 = L("dec_dense1", a.latent_dim + 1, dd, always_float=True)
        self.dec_gru1 = (L("dec_gru1_input", dd, 3 * dg), L("dec_gru1_recurrent", dg, 3 * dg))
        self.dec_gru2 = (L("dec_gru2_input", dd + dg, 3 * dg), L("dec_gru2_recurrent", dg, 3 * dg))
        self.dec_output = L("dec_output", dd + 2 * dg, a.enc_in)


class LatentEncoder:
    """Streaming encoder: 2 feature frames in, one latent out, state kept between calls."""

    def __init__(self, layers: _Layers, arch: _Arch):
        self._l = layers
        self._a = arch
        self._s = Scratch()
        self._gru1 = GRU(*layers.enc_gru1, name="enc_gru1")
        self._gru2 = GRU(*layers.enc_gru2, name="enc_gru2")
        self._conv = Conv1d(layers.enc_conv1, arch.enc_dense + arch.enc_gru, 1, "TANH")

    def process(self, feats) -> np.ndarray:
        """Features (2n, 20) -> latents (n, latent_dim) float32."""
        a = self._a
        f = np.asarray(feats, dtype=np.float32)
        if f.ndim != 2 or f.shape[1] != a.nb_features or f.shape[0] % a.frames_per_latent:
            raise CodecError(f"encoder input must be (k*{a.frames_per_latent}, {a.nb_features}) features, "
                             f"got shape {f.shape}")
        n = f.shape[0] // a.frames_per_latent
        if n == 0:
            return np.zeros((0, a.latent_dim), np.float32)
        x = np.ascontiguousarray(f.reshape(n, a.enc_in))
        d1 = compute_dense(self._l.enc_dense1, x, "TANH", scratch=self._s)
        g1 = self._gru1.run(d1)
        buf = np.concatenate([d1, g1], 1)
        c1 = self._conv.run(buf)
        buf = np.concatenate([buf, c1], 1)
        g2 = self._gru2.run(buf)
        buf = np.concatenate([buf, g2], 1)
        return compute_dense(self._l.enc_zdense, buf, "LINEAR", scratch=self._s)

    def step(self, feats) -> np.ndarray:
        """Features (2, 20) -> latent (latent_dim,) float32."""
        f = np.asarray(feats, dtype=np.float32)
        if f.shape != (self._a.frames_per_latent, self._a.nb_features):
            raise CodecError(f"encoder step needs ({self._a.frames_per_latent}, {self._a.nb_features}) "
                             f"features, got shape {f.shape}")
        return self.process(f)[0]


class LatentDecoder:
    """Streaming decoder: one dequantized latent in, 2 feature frames [older, newer] out."""

    def __init__(self, layers: _Layers, arch: _Arch, level: int):
        self._l = layers
        self._a = arch
        self._s = Scratch()
        self.level = int(level)
        self._gru1 = GRU(*layers.dec_gru1, name="dec_gru1")
        self._gru2 = GRU(*layers.dec_gru2, name="dec_gru2")

    def process(self, zhat) -> np.ndarray:
        """Dequantized latents (n, latent_dim) -> features (2n, 20) float32."""
        a = self._a
        z = np.asarray(zhat, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != a.latent_dim:
            raise CodecError(f"decoder input must be (n, {a.latent_dim}) latents, got shape {z.shape}")
        n = z.shape[0]
        if n == 0:
            return np.zeros((0, a.nb_features), np.float32)
        x = np.empty((n, a.latent_dim + 1), np.float32)
        x[:, : a.latent_dim] = z
        x[:, a.latent_dim] = np.float32(self.level * 0.125 - 1.0)
        e1 = compute_dense(self._l.dec_dense1, x, "TANH", scratch=self._s)
        h1 = self._gru1.run(e1)
        buf = np.concatenate([e1, h1], 1)
        h2 = self._gru2.run(buf)
        buf = np.concatenate([buf, h2], 1)
        out = compute_dense(self._l.dec_output, buf, "LINEAR", scratch=self._s)
        return out.reshape(n * a.frames_per_latent, a.nb_features)

    def step(self, zhat) -> np.ndarray:
        """Dequantized latent (latent_dim,) -> features (2, 20) [older, newer]."""
        z = np.asarray(zhat, dtype=np.float32)
        if z.shape != (self._a.latent_dim,):
            raise CodecError(f"decoder step needs ({self._a.latent_dim},) latent, got shape {z.shape}")
        return self.process(z[None, :])


class CodecModel:
    """A loaded latent-coder blob: tables, presets and lazily bound fixed-point/float layers."""

    def __init__(self, ws: WeightSet, name: str):
        self.ws = ws
        self.name = name
        self.checksum = weights_checksum(ws)
        file = ws.file
        cfg = _int_array(ws, "codec_config", None)
        if cfg.size < 10:
            raise WeightsError(f"codec_config has {cfg.size} values, expected 10", file=file)
        if int(cfg[0]) != CODEC_BLOB_VERSION:
            raise WeightsError(f"codec blob version {int(cfg[0])} is not supported (expected "
                               f"{CODEC_BLOB_VERSION})", file=file)
        vals = [int(v) for v in cfg[1:10]]
        if any(v <= 0 or v > 4096 for v in vals):
            raise WeightsError(f"codec_config has out-of-range sizes {vals}", file=file)
        self.arch = _Arch(*vals)
        a = self.arch
        if a.frames_per_latent != FRAMES_PER_LATENT or a.nb_features != NB_FEATURES:
            raise WeightsError(f"model codes {a.frames_per_latent} frames of {a.nb_features} features per "
                               f"latent; this code expects {FRAMES_PER_LATENT} x {NB_FEATURES}", file=file)
        if a.nb_levels > 16:
            raise WeightsError(f"{a.nb_levels} quantizer levels (at most 16)", file=file)
        self.latent_dim = a.latent_dim
        self.nb_levels = a.nb_levels
        n = a.nb_levels * a.latent_dim
        self._tables = {}
        for k in ("scale_q8", "dead_zone_q8", "r_q8", "p0_q8"):
            t = _int_array(ws, f"codec_quant_{k}", n)
            if t.min() < 0 or t.max() > 255:
                raise WeightsError(f"codec_quant_{k} has values outside 0..255", file=file)
            self._tables[k] = t.reshape(a.nb_levels, a.latent_dim)
        pre = _int_array(ws, "codec_presets", len(PRESET_NAMES))
        if pre.min() < 0 or pre.max() >= a.nb_levels:
            raise WeightsError(f"codec_presets {pre.tolist()} outside 0..{a.nb_levels - 1}", file=file)
        self.PRESETS = {k: int(v) for k, v in zip(PRESET_NAMES, pre)}
        lb = ws.get("codec_level_bits")
        self.level_bits = (np.array(lb.data, np.float64) if lb is not None and lb.data.size == a.nb_levels
                           else np.zeros(a.nb_levels))
        fp = ws.get("codec_feature_pitch")  # which pitch estimator the model was trained on
        code = int(np.asarray(fp.data).reshape(-1)[0]) if fp is not None and fp.data.size else 0
        if code not in (0, 1):
            raise WeightsError(f"codec_feature_pitch {code} is not 0 (classic) or 1 (net)", file=file)
        #: The encoder's pitch estimator (mlcodec.dsp.features): the one the model was trained on.
        self.feature_pitch = ("classic", "net")[code]
        #: True for a blob loaded from the package (the decoder may swap it for the stream's model).
        self.shipped = False
        self._layers: dict[bool, _Layers] = {}
        self._layers[True] = _Layers(ws, a, True)  # bind now: a broken blob fails at load time

    def _path(self, fixed_point: bool) -> _Layers:
        fixed_point = bool(fixed_point)
        if fixed_point not in self._layers:
            self._layers[fixed_point] = _Layers(self.ws, self.arch, fixed_point)
        return self._layers[fixed_point]

    def new_encoder(self, *, fixed_point: bool = True) -> LatentEncoder:
        return LatentEncoder(self._path(fixed_point), self.arch)

    def new_decoder(self, level: int | None = None, *, fixed_point: bool = True) -> LatentDecoder:
        """A fresh decoder for a stream coded at ``level`` (default: the "3k" preset level)."""
        lv = self.PRESETS["3k"] if level is None else self._check_level(level)
        return LatentDecoder(self._path(fixed_point), self.arch, lv)

    def code_features(self, feats, level: int, *, fixed_point: bool = True) -> np.ndarray:
        """Features as a decoder sees them after coding at ``level``: encoder -> dead-zone
        quantizer -> decoder (specs 05 s4-s5; the range coder is lossless, so it is skipped).
        Takes (2n, 20) whole latents' worth of frames; returns (2n, 20) float32."""
        t = self.quant_tables(level)
        z = self.new_encoder(fixed_point=fixed_point).process(np.ascontiguousarray(feats, dtype=np.float32))
        out = self.new_decoder(level, fixed_point=fixed_point).process(dequantize(quantize(z, t), t))
        return np.asarray(out, dtype=np.float32).reshape(-1, 20)

    def _check_level(self, level) -> int:
        try:
            lv = int(level)
        except (TypeError, ValueError):
            raise CodecError(f"quantizer level {level!r} is not an integer") from None
        if not 0 <= lv < self.nb_levels:
            raise CodecError(f"quantizer level {lv} outside 0..{self.nb_levels - 1}")
        return lv

    def quant_tables(self, level: int) -> QuantTables:
        lv = self._check_level(level)
        t = {k: v[lv].copy() for k, v in self._tables.items()}
        for v in t.values():
            v.flags.writeable = False
        return QuantTables(lv, **t)

    def level_for_bitrate(self, preset: str) -> int:
        return preset_level(self.PRESETS, preset)

    def __repr__(self) -> str:
        return f"CodecModel({self.name!r}, latent_dim={self.latent_dim}, levels={self.nb_levels}, " \
               f"presets={self.PRESETS}, checksum={self.checksum[:12]}...)"


def _int_array(ws: WeightSet, name: str, count: int | None) -> np.ndarray:
    rec = ws.get(name)
    if rec is None:
        raise WeightsError(f"not a codec model: no record {name!r}", file=ws.file)
    if rec.type != 1:
        raise WeightsError(f"record {name!r} must be int32", file=ws.file, offset=rec.offset)
    if count is not None and rec.data.size != count:
        raise WeightsError(f"record {name!r} has {rec.data.size} values, expected {count}", file=ws.file,
                           offset=rec.offset)
    return np.array(rec.data, dtype=np.int64)


def shipped_model(file: str = DEFAULT_MODEL) -> CodecModel:
    """A codec blob of the package (:data:`SHIPPED_MODELS`), flagged ``shipped``."""
    try:
        data = resources.files("mlcodec.models").joinpath(file).read_bytes()
    except (FileNotFoundError, OSError, ModuleNotFoundError) as exc:
        raise CodecError(f"shipped model {file} is missing: {exc}") from None
    m = CodecModel(read_weights(data, file=f"mlcodec/models/{file}"), file.rsplit(".", 1)[0])
    m.shipped = True
    return m


@functools.lru_cache(maxsize=None)
def shared_shipped_model(file: str) -> CodecModel:
    """One :func:`shipped_model` per blob and process, for the model swaps of the encoder and
    decoder (a batch of 1.5k files reads and binds codec_v1 once, not once per file). Models
    are read-only; encoders and decoders keep their state in their own objects."""
    return shipped_model(file)


def shipped_model_for(name: str, checksum: str) -> CodecModel | None:
    """The shipped model a stream names (its name first, then every shipped blob), by checksum
    prefix; None when no shipped model has that checksum."""
    files = sorted(SHIPPED_MODELS, key=lambda f: f.rsplit(".", 1)[0] != name)
    for f in files:
        m = shared_shipped_model(f)
        if checksum and m.checksum.lower().startswith(checksum.lower()):
            return m
    return None


def load_model(path=None) -> CodecModel:
    """Load a codec blob (default: the shipped ``DEFAULT_MODEL``); WeightsError on a bad blob."""
    if path is None:
        return shipped_model(DEFAULT_MODEL)
    elif isinstance(path, (bytes, bytearray, memoryview)):
        ws = read_weights(bytes(path), file="<bytes>")
        name = "model"
    else:
        ws = read_weights(path)
        name = str(path).rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return CodecModel(ws, name)


__all__ = [
    "FRAMES_PER_LATENT", "NB_FEATURES", "PRESET_NAMES", "QuantTables", "CodecModel", "LatentEncoder",
    "LatentDecoder", "load_model", "quantize", "dequantize", "value_bits", "packet_payload_bits",
]


# --- model description for dump-weights (--verify codec, the layer-shape column) --------------

#: Sizes of the shipped codec_v1 and codec_v2 (each blob's own ``codec_config`` record says the same).
SHIPPED_ARCH = _Arch(frames_per_latent=2, latent_dim=32, nb_levels=16, enc_dense=64, enc_gru=64,
                     enc_conv=64, dec_dense=96, dec_gru=96, nb_features=20)


def model_spec(arch: _Arch = SHIPPED_ARCH, name: str = "codec"):
    """The codec's layers as an :class:`mlcodec.nn.models.ModelSpec` (what ``_Layers`` binds):
    the two input dense layers are float, every other layer int8 with float copies optional."""
    from mlcodec.nn.models import LayerSpec, LinearStorage, ModelSpec

    a = arch
    q = LinearStorage(bias=True, quantized=True)
    f = LinearStorage(bias=True)
    ed, eg, ec, dd, dg = a.enc_dense, a.enc_gru, a.enc_conv, a.dec_dense, a.dec_gru
    layers = [
        LayerSpec("enc_dense1", "dense", a.enc_in, ed, f, activation="TANH"),
        LayerSpec("enc_gru1", "gru", ed, eg, q, recurrent=q),
        LayerSpec("enc_conv1", "conv1d", ed + eg, ec, q, activation="TANH", kernel_size=2),
        LayerSpec("enc_gru2", "gru", ed + eg + ec, eg, q, recurrent=q),
        LayerSpec("enc_zdense", "dense", ed + 2 * eg + ec, a.latent_dim, q),
        LayerSpec("dec_dense1", "dense", a.latent_dim + 1, dd, f, activation="TANH"),
        LayerSpec("dec_gru1", "gru", dd, dg, q, recurrent=q),
        LayerSpec("dec_gru2", "gru", dd + dg, dg, q, recurrent=q),
        LayerSpec("dec_output", "dense", dd + 2 * dg, a.enc_in, q),
    ]
    return ModelSpec(name, layers)


def register_codec_model() -> None:
    """Make ``codec`` a known model for ``mlcodec dump-weights`` (shapes, ``--verify codec``)."""
    from mlcodec.nn.models import KNOWN_MODELS, register_model

    if "codec" not in KNOWN_MODELS:
        register_model(model_spec())
