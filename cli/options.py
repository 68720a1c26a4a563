"""What ``mlcodec encode`` and ``mlcodec decode`` were asked to do, as picklable dataclasses
(batch workers receive them), each knowing how to run one input through the library."""
from __future__ import annotations

from dataclasses import dataclass

_MODELS: dict = {}


def load_model(path: str | None):
    """Load a model once per process (the shipped one when ``path`` is None)."""
    if path not in _MODELS:
        from mlcodec.codec.model import load_model as _load

        _MODELS[path] = _load(path)
    return _MODELS[path]


@dataclass(frozen=True)
class EncodeOptions:
    bitrate: str = "3k"
    frame_ms: int = 120
    model: str | None = None
    fixed_point: bool = True
    serial: int | None = None
    cbr: bool = False
    redundancy_ms: int = 0

    kind = "encode"
    suffix = ".opus"
    #: Existing outputs that may be overwritten start with one of these (else refused).
    magic = (b"OggS",)
    output_kind = "an Ogg file"
    #: Files a directory given with -o DIR contributes (cli/inputs.py).
    input_suffixes = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64",
                      ".rf64")
    #: Source stems of the numba kernels this command compiles (mlcodec.kernels_cached).
    kernels = ("features", "kernels")
    stdout_what = "an Ogg Opus stream"

    def warm(self) -> None:
        """Load the model and the kernels in this process (before a pool forks its workers,
        which then share them instead of each loading them): a 0.2 s silent encode."""
        import mlcodec
        import numpy as np

        mlcodec.encode(np.zeros(3200, np.float32), 16000, self.bitrate, frame_ms=self.frame_ms,
                       model=load_model(self.model), fixed_point=self.fixed_point, serial=0)

    def run(self, src, dst, progress=None):
        from mlcodec.io.transcode import encode_file

        extra = {"mode": "cbr"} if self.cbr else {}
        if self.redundancy_ms:
            extra["redundancy_ms"] = self.redundancy_ms
        return encode_file(src, dst, model=load_model(self.model), bitrate=self.bitrate, frame_ms=self.frame_ms,
                           fixed_point=self.fixed_point, serial=self.serial, progress=progress, **extra)


@dataclass(frozen=True)
class DecodeOptions:
    rate: int = 16000
    model: str | None = None
    fixed_point: bool = True
    vocoder: str = "auto"
    #: a mlcodec.codec.loss model (simulated packet loss; reset at every file) or None
    loss: object = None
    concealment: str = "neural"

    kind = "decode"
    suffix = ".wav"
    magic = (b"RIFF", b"RF64")
    output_kind = "a WAV file"
    input_suffixes = (".opus",)
    kernels = ("kernels",)
    stdout_what = "WAV audio"

    def warm(self) -> None:
        """As :meth:`EncodeOptions.warm`, for decoding (a 0.2 s stream decoded at ``rate``)."""
        import mlcodec
        import numpy as np

        model = load_model(self.model)
        data = mlcodec.encode(np.zeros(3200, np.float32), 16000, model=model, serial=0)
        mlcodec.decode(data, self.rate, self.vocoder, model=model, fixed_point=self.fixed_point)

    def run(self, src, dst, progress=None):
        from mlcodec.io.transcode import decode_file

        return decode_file(src, dst, rate=self.rate, model=load_model(self.model), fixed_point=self.fixed_point,
                           vocoder=self.vocoder, progress=progress, loss=self.loss, concealment=self.concealment)
