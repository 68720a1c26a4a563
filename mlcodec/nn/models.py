"""Model descriptions: which records a model needs, with what shapes, and binding them.

A :class:`ModelSpec` lists layers the way libopus's generated ``init_<model>`` calls
``linear_init`` / ``conv2d_init`` (specs 06 s2-s3): a layer name, a kind, sizes and how its
weights are stored. ``dump-weights`` uses it to print layer shapes (:func:`describe_records`)
and to answer ``--verify MODEL`` (:func:`verify`); the codec uses :func:`bind`.

The library ships no model yet; a model registers itself with :func:`register_model`.
Specs round-trip through JSON (``ModelSpec.from_json`` / ``to_json``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from mlcodec.errors import WeightsError
from mlcodec.nn import layers as LY

#: Layer kinds (specs 06 s4): a plain linear product, dense (+ activation), GLU, causal
#: conv1d, GRU (``_input`` + ``_recurrent`` linear layers), float conv2d, embedding table.
KINDS = ("linear", "dense", "glu", "conv1d", "gru", "conv2d", "embedding")


@dataclass(frozen=True)
class LinearStorage:
    """How one libopus ``LinearLayer`` is stored (which records exist; specs 06 s2)."""

    bias: bool = True
    quantized: bool = False  #: int8 weights + subias + scale (float weights optional)
    sparse: bool = False  #: 8x4 block-sparse with ``_weights_idx``
    diag: bool = False  #: GRU recurrent diagonal ``_weights_diag``

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "LinearStorage":
        d = dict(d or {})
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise WeightsError(f"unknown storage flags {sorted(unknown)}")
        return cls(**{k: bool(v) for k, v in d.items()})


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a model.

    Sizes by kind: linear/dense/glu: ``nb_inputs -> nb_outputs``; conv1d: ``nb_inputs`` per
    frame (input_size), ``nb_outputs`` channels, ``kernel_size`` frames, ``dilation``; gru:
    ``nb_inputs`` -> ``nb_outputs`` units (``recurrent`` gives the recurrent layer's
    storage); conv2d: ``nb_inputs``/``nb_outputs`` channels, ``ktime`` x ``kheight``;
    embedding: ``nb_inputs`` entries of ``nb_outputs`` values.
    """

    name: str
    kind: str
    nb_inputs: int
    nb_outputs: int
    storage: LinearStorage = LinearStorage()
    recurrent: LinearStorage | None = None
    activation: str = "LINEAR"
    kernel_size: int = 1
    dilation: int = 1
    ktime: int = 1
    kheight: int = 1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise WeightsError(f"layer {self.name}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        LY.activation_id(self.activation)

    def linear_parts(self) -> list[tuple[str, int, int, LinearStorage]]:
        """(record prefix, nb_inputs, nb_outputs, storage) of each libopus LinearLayer it binds."""
        k = self.kind
        if k in ("linear", "dense", "glu"):
            return [(self.name, self.nb_inputs, self.nb_outputs, self.storage)]
        if k == "conv1d":
            return [(self.name, self.kernel_size * self.nb_inputs, self.nb_outputs, self.storage)]
        if k == "gru":
            n = self.nb_outputs
            return [(f"{self.name}_input", self.nb_inputs, 3 * n, self.storage),
                    (f"{self.name}_recurrent", n, 3 * n, self.recurrent or LinearStorage())]
        return []

    def records(self) -> dict[str, str]:
        """Record name -> shape text, for every record this layer may use."""
        out: dict[str, str] = {}
        for prefix, nin, nout, st in self.linear_parts():
            names = LY.linear_names(prefix, bias=st.bias, quantized=st.quantized, sparse=st.sparse, diag=st.diag)
            where = f"{self.name} ({self.kind})"
            blocks = "8x4-sparse " if st.sparse else ""
            for role, rec in names.items():
                if rec is None:
                    continue
                shape = {
                    "bias": f"bias [{nout}]",
                    "subias": f"subias [{nout}]",
                    "weights": f"{blocks}int8 weights {nin}x{nout} (8x4 blocks)",
                    "float_weights": f"{blocks}float weights {nin}x{nout}"
                    + (" (optional)" if st.quantized else ""),
                    "weights_idx": f"block index, {nout // 8} rows of 8 outputs",
                    "diag": f"GRU diagonal [3x{nin}]",
                    "scale": f"scale [{nout}]",
                }[role]
                out[rec] = f"{where}: {shape}"
        if self.kind == "conv2d":
            where = f"{self.name} (conv2d)"
            if self.storage.bias:
                out[f"{self.name}_bias"] = f"{where}: bias [{self.nb_outputs}]"
            out[f"{self.name}_weight_float"] = (f"{where}: weights {self.nb_outputs}x{self.nb_inputs}x"
                                                f"{self.ktime}x{self.kheight}")
        if self.kind == "embedding":
            out[f"{self.name}_weights_float"] = f"{self.name} (embedding): table {self.nb_inputs}x{self.nb_outputs}"
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.recurrent is None:
            d.pop("recurrent")
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "LayerSpec":
        d = dict(d)
        allowed = {f.name for f in fields(cls)}
        unknown = set(d) - allowed
        if unknown:
            raise WeightsError(f"layer {d.get('name', '?')}: unknown keys {sorted(unknown)}")
        try:
            for k in ("storage", "recurrent"):
                if d.get(k) is not None and not isinstance(d[k], Mapping):
                    raise ValueError(f"{k!r} must be an object")
            d["storage"] = LinearStorage.from_dict(d.get("storage"))
            if d.get("recurrent") is not None:
                d["recurrent"] = LinearStorage.from_dict(d["recurrent"])
            for k in ("nb_inputs", "nb_outputs", "kernel_size", "dilation", "ktime", "kheight"):
                if k in d:
                    d[k] = int(d[k])
            if not isinstance(d.get("name"), str) or not isinstance(d.get("kind"), str):
                raise ValueError("name and kind must be strings")
            if not isinstance(d.get("activation", ""), (str, int)):
                raise ValueError("activation must be a name")
            return cls(**d)
        except (TypeError, ValueError, OverflowError) as e:
            raise WeightsError(f"layer {d.get('name', '?')}: {e}") from None


@dataclass(frozen=True)
class ModelSpec:
    """A named list of layers; ``bind`` turns a weights set into runnable layers."""

    name: str
    layers: tuple[LayerSpec, ...] = field(default_factory=tuple)
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        seen = set()
        for lay in self.layers:
            if lay.name in seen:
                raise WeightsError(f"model {self.name}: duplicate layer {lay.name!r}")
            seen.add(lay.name)

    def records(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for lay in self.layers:
            out.update(lay.records())
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "layers": [x.to_dict() for x in self.layers]}

    def to_json(self, path=None) -> str:
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, d: Mapping) -> "ModelSpec":
        if not isinstance(d, Mapping) or "name" not in d:
            raise WeightsError("model spec must be an object with a name")
        layers = d.get("layers", [])
        if not isinstance(layers, list) or not all(isinstance(x, Mapping) for x in layers):
            raise WeightsError(f"model {d['name']}: 'layers' must be a list of objects")
        return cls(str(d["name"]), tuple(LayerSpec.from_dict(x) for x in layers), str(d.get("description", "")))

    @classmethod
    def from_json(cls, path_or_text) -> "ModelSpec":
        """Load a spec from a JSON file path or a JSON string."""
        src = str(path_or_text)
        try:
            text = Path(src).read_text() if not src.lstrip().startswith("{") else src
            return cls.from_dict(json.loads(text))
        except (OSError, json.JSONDecodeError) as e:
            raise WeightsError(f"cannot read model spec: {e}", file=src if len(src) < 200 else None) from None


#: Models known to the library, by name (none shipped yet; codec models register themselves).
KNOWN_MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make ``spec`` known to ``describe_records``, ``dump-weights --verify`` and friends."""
    KNOWN_MODELS[spec.name] = spec
    return spec


def unregister_model(name: str) -> None:
    KNOWN_MODELS.pop(name, None)


def get_model(model) -> ModelSpec:
    """A ModelSpec from a spec, a parsed JSON object, a registered name, or a JSON file path."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, Mapping):
        return ModelSpec.from_dict(model)
    if not isinstance(model, (str, Path)):
        raise WeightsError(f"not a model: {type(model).__name__}")
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    p = Path(str(model))
    if p.suffix == ".json" or p.is_file():
        return ModelSpec.from_json(p)
    raise WeightsError(f"unknown model {model!r} (known: {', '.join(sorted(KNOWN_MODELS)) or 'none'})")


def describe_records(ws: Mapping, models=None) -> dict[str, str]:
    """Shape text for each record of ``ws`` that a known model (or one of ``models``) describes."""
    specs = [get_model(m) for m in models] if models is not None else list(KNOWN_MODELS.values())
    found = [(spec, {r: t for r, t in spec.records().items() if r in ws}) for spec in specs]
    found = [(spec, d) for spec, d in found if d]
    out: dict[str, str] = {}
    for spec, d in found:  # name the model only when several describe this blob
        for rec, text in d.items():
            if rec not in out:
                out[rec] = f"{spec.name}/{text}" if len(found) > 1 else text
    return out


def _bind_layer(ws: Mapping, lay: LayerSpec):
    k = lay.kind
    if k == "conv2d":
        return LY.bind_conv2d(ws, lay.name, lay.nb_inputs, lay.nb_outputs, lay.ktime, lay.kheight,
                              bias=lay.storage.bias)
    if k == "embedding":
        return LY.bind_embedding(ws, lay.name, lay.nb_inputs, lay.nb_outputs)
    parts = []
    problems = []
    for prefix, nin, nout, st in lay.linear_parts():
        try:
            parts.append(LY.bind_linear(ws, prefix, nin, nout, bias=st.bias, quantized=st.quantized,
                                        sparse=st.sparse, diag=st.diag))
        except WeightsError as e:
            problems.extend(_problems(e))
    if problems:
        raise LY.binding_error(problems, getattr(ws, "file", None))
    if k == "gru":
        return LY.GRU(parts[0], parts[1], name=lay.name)
    if k == "conv1d":
        return LY.Conv1d(parts[0], lay.nb_inputs, lay.dilation, lay.activation)
    if k == "glu" and lay.nb_inputs != lay.nb_outputs:
        raise WeightsError(f"{lay.name}: GLU needs nb_inputs == nb_outputs")
    return parts[0]


def _problems(e: WeightsError) -> list[str]:
    return list(getattr(e, "problems", None) or [e.reason])


def verify(ws: Mapping, model) -> list[str]:
    """Every problem binding ``model`` to ``ws`` (empty list: it binds)."""
    spec = get_model(model)
    problems: list[str] = []
    for lay in spec.layers:
        try:
            _bind_layer(ws, lay)
        except WeightsError as e:
            problems.extend(_problems(e) if "binding problem" in e.reason else [f"{lay.name}: {e.reason}"])
    return problems


def bind(ws: Mapping, model) -> dict:
    """Bind every layer of ``model``: name -> LinearLayer / GRU / Conv1d / Conv2dLayer / Embedding.

    Raises one WeightsError listing every problem of every layer.
    """
    spec = get_model(model)
    out, problems = {}, []
    for lay in spec.layers:
        try:
            out[lay.name] = _bind_layer(ws, lay)
        except WeightsError as e:
            problems.extend(_problems(e) if "binding problem" in e.reason else [f"{lay.name}: {e.reason}"])
    if problems:
        raise LY.binding_error(problems, getattr(ws, "file", None),
                               prefix=f"weights do not bind to model {spec.name}: ")
    return out
