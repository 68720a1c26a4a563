"""Where libopus model weights come from: a WeightSet, a blob path, or blob bytes."""
from __future__ import annotations

from collections.abc import Mapping

from mlcodec.nn.weights import read_weights


def weight_set(source) -> Mapping:
    """A name -> record mapping from a :class:`~mlcodec.nn.weights.WeightSet` (returned as is),
    a path to a DNNw blob, or the blob's bytes. Raises WeightsError with the file named."""
    if isinstance(source, Mapping):
        return source
    return read_weights(source)
