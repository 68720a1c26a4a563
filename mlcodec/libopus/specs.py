"""ModelSpecs of libopus's models, derived from their ``init_<model>()`` functions.

The importer (:mod:`.sources`) records every ``linear_init`` / ``conv2d_init`` call of each
generated ``*_data.c`` (record names and sizes) in the installed ``layers.json``; this module
turns those calls into :class:`mlcodec.nn.models.ModelSpec`s, one layer per libopus struct
field, named as libopus names them. Nothing here is written by hand per model.
"""
from __future__ import annotations

from mlcodec.errors import WeightsError
from mlcodec.nn.models import LayerSpec, LinearStorage, ModelSpec

#: init_<name> -> the short name users type (``dump-weights libopus:lace``).
SHORT_NAMES = {"lacelayers": "lace", "nolacelayers": "nolace", "bbwenetlayers": "bbwenet"}
DESCRIPTIONS = {
    "pitchdnn": "libopus PitchDNN: pitch estimator of the LPCNet feature analysis",
    "fargan": "libopus FARGAN: vocoder synthesising audio from features (deep PLC, DRED)",
    "plcmodel": "libopus PLC model: predicts features of lost frames",
    "rdovaeenc": "libopus DRED RDOVAE encoder: features -> latents and state",
    "rdovaedec": "libopus DRED RDOVAE decoder: latents and state -> features",
    "lace": "libopus LACE: OSCE speech enhancer (decoder complexity 6)",
    "nolace": "libopus NoLACE: OSCE speech enhancer (decoder complexity >= 7)",
    "bbwenet": "libopus BBWENet: OSCE bandwidth extension to 48 kHz",
    "lossgen": "libopus lossgen: generative packet-loss model",
}
PREFIX = "libopus:"


def short_name(init_name: str) -> str:
    return SHORT_NAMES.get(init_name, init_name)


def _prefix(rec: str, suffix: str, layer: str) -> str:
    if not rec.endswith(suffix):
        raise WeightsError(f"layer {layer}: record {rec!r} does not end with {suffix!r}")
    return rec[: -len(suffix)]


def layer_spec(d: dict) -> LayerSpec:
    """One ``linear_init``/``conv2d_init`` call (as :mod:`.sources` records it) as a LayerSpec."""
    name = d["name"]
    if d["kind"] == "conv2d":
        prefix = _prefix(d["weights_float"], "_weight_float", name)
        return LayerSpec(prefix, "conv2d", d["in_channels"], d["out_channels"],
                         storage=LinearStorage(bias=d.get("bias") is not None), ktime=d["ktime"],
                         kheight=d["kheight"])
    if d.get("weights_int8"):
        prefix = _prefix(d["weights_int8"], "_weights_int8", name)
    elif d.get("weights_float"):
        prefix = _prefix(d["weights_float"], "_weights_float", name)
    else:
        raise WeightsError(f"layer {name}: neither int8 nor float weights")
    st = LinearStorage(bias=d.get("bias") is not None, quantized=d.get("weights_int8") is not None,
                       sparse=d.get("weights_idx") is not None, diag=d.get("diag") is not None)
    return LayerSpec(prefix, "linear", d["nb_inputs"], d["nb_outputs"], storage=st)


def model_specs(layers: dict) -> list[ModelSpec]:
    """``{init name: [layer dicts]}`` -> ModelSpecs named ``libopus:<short name>``."""
    out = []
    for init_name, calls in layers.items():
        short = short_name(init_name)
        out.append(ModelSpec(PREFIX + short, tuple(layer_spec(c) for c in calls), DESCRIPTIONS.get(short, "")))
    return out


def register_installed(version: str | None = None) -> list[str]:
    """Register the ModelSpecs of the installed libopus models; [] when none is installed."""
    from mlcodec.libopus import store
    from mlcodec.nn.models import KNOWN_MODELS, register_model

    try:
        layers = store.model_layers(version)
    except WeightsError:
        return []
    names = []
    for spec in model_specs(layers):
        if spec.name not in KNOWN_MODELS:
            register_model(spec)
        names.append(spec.name)
    return names
