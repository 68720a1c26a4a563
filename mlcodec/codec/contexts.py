"""Previous-symbol context tables of format 3: the entropy model of a latent value given the
previous coded latent's value in the same dimension (docs/format.md s3; research s4).

Each coded dimension ``i`` of level ``L`` has :data:`NB_CTX` parameter triples
``(p0, ppos, decay)`` (Q15), selected by ``c = clip(prev[i], -CTX_CLIP, CTX_CLIP) + CTX_CLIP``
where ``prev`` is the previous coded latent of the packet (zeros for its first). A value
is coded as the Laplace-p0 coder of specs 03 s5.2 codes it, except that the sign symbol's
split between + and - is explicit:

    sign  ec_enc_icdf16(s, [32768 - p0, 32768 - p0 - ppos, 0], 15)   s: 0 zero, 1 +, 2 -
    [mag] ec_enc_icdf16 escapes of |v| - 1 with laplace_p0_mag_icdf(decay)  (specs 03 s5.2 step 2)

The tables live in a small blob beside the model (``codec_ctx_v2.bin`` for ``codec_v2.bin``, DNNw records,
specs 06 s1), fitted by ``train/fit_contexts.py`` and bound to the model's checksum. The
NumPy reference of the coding and of the bit costs is :mod:`mlcodec.codec.contexts_ref`.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mlcodec.bitstream.rangecoder import laplace_p0_mag_icdf
from mlcodec.errors import CodecError, WeightsError

#: Contexts per dimension: previous value clipped to -2..2.
CTX_CLIP = 2
NB_CTX = 2 * CTX_CLIP + 1
#: ``ctx_config[0]`` this code understands.
CTX_BLOB_VERSION = 1
_FT = 32768


def sign_icdf(p0: int, ppos: int) -> tuple[int, int, int]:
    """Zero/positive/negative iCDF (ftb 15) with an explicit positive share (cf. specs 03 s5.2)."""
    return (_FT - p0, _FT - p0 - ppos, 0)


@dataclass(frozen=True)
class LevelContexts:
    """The context model of one level: per coded dimension, :data:`NB_CTX` (sign, mag) iCDFs."""

    dims: tuple  #: ((dim index, ((sign_icdf, mag_icdf) x NB_CTX)), ...) for the coded dims
    dim: int


class ContextTables:
    """Context parameters of every level of one model: arrays (nb_levels, dim, NB_CTX) in Q15."""

    def __init__(self, p0, ppos, decay, *, coded, checksum: str = "", model_checksum: str = ""):
        self.p0 = np.asarray(p0, np.int64)
        self.ppos = np.asarray(ppos, np.int64)
        self.decay = np.asarray(decay, np.int64)
        self.coded = np.asarray(coded, bool)  # (nb_levels, dim): the model's coded dimensions
        self.checksum = checksum
        self.model_checksum = model_checksum
        if not (self.p0.shape == self.ppos.shape == self.decay.shape) or self.p0.ndim != 3 \
                or self.p0.shape[2] != NB_CTX or self.coded.shape != self.p0.shape[:2]:
            raise CodecError(f"context tables of shape {self.p0.shape} do not fit the model")
        pneg = _FT - self.p0 - self.ppos
        if (self.p0 < 1).any() or (self.ppos < 1).any() or (pneg < 1).any() \
                or (self.decay < 0).any() or (self.decay > 32767).any():
            raise CodecError("context tables: probabilities outside 1..32767 (Q15)")
        self._levels: dict[int, LevelContexts] = {}
        self._grids: dict[tuple, np.ndarray] = {}

    @property
    def nb_levels(self) -> int:
        return int(self.p0.shape[0])

    def level(self, level: int) -> LevelContexts:
        """The iCDF tables of ``level`` (built once)."""
        lc = self._levels.get(level)
        if lc is None:
            dims = []
            for i in np.flatnonzero(self.coded[level]):
                dims.append((int(i), tuple((sign_icdf(int(self.p0[level, i, c]), int(self.ppos[level, i, c])),
                                            laplace_p0_mag_icdf(int(self.decay[level, i, c])))
                                           for c in range(NB_CTX))))
            lc = self._levels[level] = LevelContexts(tuple(dims), int(self.coded.shape[1]))
        return lc

    def cost_grid(self, level: int, k: int) -> np.ndarray:
        """(dim, NB_CTX, 2k+1) ideal bits of each value -k..k in each context (uncoded dims 0);
        vectorised, cached per (level, k) (contexts_ref.value_bits is the reference)."""
        key = (int(level), int(k))
        g = self._grids.get(key)
        if g is not None:
            return g
        p0, pp, dec = self.p0[level], self.ppos[level], self.decay[level]
        icdf = np.zeros(dec.shape + (8,), np.int64)  # specs 03 s5.2 step 2, every (dim, ctx) at once
        icdf[..., 0] = np.maximum(7, dec)
        for i in range(1, 7):
            icdf[..., i] = np.maximum(7 - i, (icdf[..., i - 1] * dec) >> 15)
        prev = np.concatenate([np.full(dec.shape + (1,), _FT), icdf[..., :7]], -1)
        c8 = -np.log2((prev - icdf) / _FT)
        sign = -np.log2(np.stack([p0, pp, _FT - p0 - pp], -1) / _FT)
        grid = np.arange(-k, k + 1)
        mag = np.abs(grid) - 1
        esc = np.where(grid != 0, mag // 7, 0)
        rem = np.where(grid != 0, mag - 7 * esc, 0)
        cls = np.where(grid == 0, 0, np.where(grid > 0, 1, 2))
        g = sign[..., cls] + np.where(grid != 0, esc * c8[..., 7:8] + c8[..., rem], 0.0)
        g = np.where(self.coded[level][:, None, None], g, 0.0)
        g.flags.writeable = False
        self._grids[key] = g
        return g


def mag_costs(decay: int) -> np.ndarray:
    """Bits of the 8 magnitude symbols of the Laplace-p0 coder (specs 03 s5.2 step 2)."""
    icdf = laplace_p0_mag_icdf(int(decay))
    prev = (_FT,) + icdf[:-1]
    return np.array([-math.log2((prev[s] - icdf[s]) / _FT) for s in range(8)])


def context_index(prev) -> np.ndarray:
    """Context of each value given the previous latent's values (any shape)."""
    return np.clip(np.asarray(prev, np.int64), -CTX_CLIP, CTX_CLIP) + CTX_CLIP


# --- blob (DNNw records, specs 06 s1) ---------------------------------------------------------

def ctx_records(p0, ppos, decay, model_checksum: str) -> dict:
    """The records of a context-table blob (what train/fit_contexts.py writes)."""
    p0 = np.asarray(p0)
    return {
        "ctx_config": np.array([CTX_BLOB_VERSION, p0.shape[0], p0.shape[1], NB_CTX, CTX_CLIP], np.int32),
        "ctx_model_sha256": np.frombuffer(bytes.fromhex(model_checksum), np.uint8).astype(np.int32),
        "ctx_p0_q15": p0.astype(np.int32).ravel(),
        "ctx_ppos_q15": np.asarray(ppos).astype(np.int32).ravel(),
        "ctx_decay_q15": np.asarray(decay).astype(np.int32).ravel(),
    }


def _rec(ws, name: str, n: int) -> np.ndarray:
    r = ws.get(name)
    if r is None or r.type != 1 or r.data.size != n:
        raise WeightsError(f"context tables: record {name!r} missing or not {n} int32 values", file=ws.file)
    return np.array(r.data, np.int64)


def tables_from_blob(data: bytes, model, *, file: str | None = None) -> ContextTables:
    """ContextTables of a blob for ``model``; WeightsError when it is malformed or belongs to
    another model."""
    from mlcodec.nn.weights import read_weights

    ws = read_weights(bytes(data), file=file or "<context tables>")
    cfg = _rec(ws, "ctx_config", 5)
    L, D = int(model.nb_levels), int(model.latent_dim)
    if cfg.tolist() != [CTX_BLOB_VERSION, L, D, NB_CTX, CTX_CLIP]:
        raise WeightsError(f"context tables {cfg.tolist()} do not fit model {model.name} "
                           f"({L} levels x {D} dims, {NB_CTX} contexts)", file=ws.file)
    sha = bytes(int(v) & 0xFF for v in _rec(ws, "ctx_model_sha256", 32)).hex()
    if sha != str(model.checksum):
        raise WeightsError(f"context tables belong to model {sha[:12]}..., not {str(model.checksum)[:12]}...",
                           file=ws.file)
    n = L * D * NB_CTX
    arr = [_rec(ws, f"ctx_{k}_q15", n).reshape(L, D, NB_CTX) for k in ("p0", "ppos", "decay")]
    coded = np.stack([np.asarray(model.quant_tables(lv).coded, bool) for lv in range(L)])
    try:
        return ContextTables(*arr, coded=coded, checksum=hashlib.sha256(bytes(data)).hexdigest(),
                             model_checksum=sha)
    except CodecError as exc:
        raise WeightsError(exc.reason, file=ws.file) from None


def load_context_tables(model, source=None) -> ContextTables | None:
    """The context tables of ``model``: ``source`` (path or bytes), else the shipped
    ``codec_ctx_vN.bin`` for a shipped ``codec_vN.bin``, else the file beside a model loaded from a path
    named by :func:`sibling_name`; None when there are none (the model then writes format 2)."""
    if source is not None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return tables_from_blob(bytes(source), model)
        return tables_from_blob(Path(source).read_bytes(), model, file=str(source))
    origin = getattr(model, "ws", None) and model.ws.file
    if origin and str(origin).startswith("mlcodec/models/"):   # a shipped model: its shipped tables
        ctx_file = sibling_name(str(origin).rsplit("/", 1)[-1])
        try:
            data = resources.files("mlcodec.models").joinpath(ctx_file).read_bytes()
        except (FileNotFoundError, OSError):
            return None
        return tables_from_blob(data, model, file=f"mlcodec/models/{ctx_file}")
    if origin:
        side = Path(str(origin)).with_name(sibling_name(Path(str(origin)).name))
        if side.is_file():
            return tables_from_blob(side.read_bytes(), model, file=str(side))
    return None


def sibling_name(model_file: str) -> str:
    """The context-table file name of a model blob: ``codec_v1.bin`` -> ``codec_ctx_v1.bin``
    (the ``NAME_vN.bin`` convention of the shipped blobs), ``m.bin`` -> ``m_ctx.bin``."""
    stem = model_file[:-4] if model_file.endswith(".bin") else model_file
    m = re.fullmatch(r"(.*)_v(\d+)", stem)
    return f"{m.group(1)}_ctx_v{m.group(2)}.bin" if m else f"{stem}_ctx.bin"


def model_contexts(model) -> ContextTables | None:
    """The (cached) context tables of a loaded model (see :func:`load_context_tables`)."""
    ctx = getattr(model, "_ctx_tables", False)
    if ctx is False:
        ctx = load_context_tables(model)
        try:
            model._ctx_tables = ctx
        except AttributeError:  # pragma: no cover - a frozen stand-in model
            pass
    return ctx
