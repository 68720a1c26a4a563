"""Model loading shared by the encoders and the decoder (a model object, a path, or the shipped one)."""
from __future__ import annotations


def load_model(model=None):
    """The given model, a model loaded from a path, or the shipped one."""
    import os

    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    from mlcodec.codec.model import load_model as _load

    return _load(model)


def stream_model(model, name: str, checksum: str):
    """The model to decode a stream with: ``model``, unless it is the shipped default and the
    stream names another shipped model (e.g. a codec_v1 file after codec v2 became the
    default), which is then loaded instead. A user's own model is never swapped."""
    if not getattr(model, "shipped", False) or str(model.checksum).lower().startswith(str(checksum).lower() or "?"):
        return model
    from mlcodec.codec.model import shipped_model_for

    return shipped_model_for(name, checksum) or model


def encoder_model(model, target_bps: int):
    """The model to encode at ``target_bps`` with: ``model``, unless it is the shipped default
    and :data:`mlcodec.codec.model.LOW_RATE_MODEL` measures better at that rate (the stream names
    the model it was made with, so any decoder picks it). A user's own model is never swapped."""
    from mlcodec.codec.model import DEFAULT_MODEL, LOW_RATE_BPS, LOW_RATE_MODEL, shared_shipped_model

    if not getattr(model, "shipped", False) or model.name != DEFAULT_MODEL.rsplit(".", 1)[0] \
            or target_bps > LOW_RATE_BPS:
        return model
    return shared_shipped_model(LOW_RATE_MODEL)
