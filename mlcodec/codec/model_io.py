"""Model loading shared by the encoders and the decoder (a model object, a path, or the shipped one)."""
from __future__ import annotations


def load_model(model=None):
    """The given model, a model loaded from a path, or the shipped one."""
    import os

    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    from mlcodec.codec.model import load_model as _load

    return _load(model)
