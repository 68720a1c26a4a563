"""Vocoder policy: which synthesizer turns decoded features into audio, and its delay.

``neural`` is the FARGAN-style vocoder (``mlcodec.vocoder``, specs 08 s1), ``reference`` the
NumPy synthesizer (``mlcodec.dsp.synth``), ``libopus`` libopus's own FARGAN from the user's
model cache (``mlcodec.libopus.fargan``, docs/libopus.md); ``auto`` is the one measured better
for a stream's preset (docs/vocoder.md, docs/benchmarks.md).
"""
from __future__ import annotations

import os

from mlcodec.errors import CodecError

#: Vocoder names accepted by ``vocoder=``.
VOCODERS = ("auto", "neural", "reference", "libopus")

#: What ``auto`` means, chosen by measurement (docs/benchmarks.md, docs/vocoder.md;
#: bench/bench_vocoder.py, bench/bench_codec.py): the neural vocoder is the default where it
#: beats the reference synthesizer on PESQ-WB, STOI *and* DNSMOS (issue 6's rule), else the
#: reference synthesizer. ``AUTO_VOCODER`` is the choice for clean (unquantized) features and
#: any stream whose preset is not listed in ``AUTO_VOCODER_BY_PRESET``. Measured for vocoder_v2
#: (sha256 03e3481e..., postfilter on) on the 16-file speaker-disjoint set: clean features, 3k
#: and 6k neural wins all of them; at 1.5k it trails on OVRL (-0.04) and STOI (-0.001).
AUTO_VOCODER = "neural"
AUTO_VOCODER_BY_PRESET: dict[str, str] = {"1.5k": "reference"}


def neural_vocoder_available() -> bool:
    """True when the neural vocoder and its shipped weights are installed."""
    try:
        from mlcodec.vocoder.fargan import DEFAULT_MODEL
    except ImportError:
        return False
    return os.path.isfile(DEFAULT_MODEL)


def auto_vocoder(preset: str | None = None) -> str:
    """The vocoder name ``auto`` resolves to for a stream of bit-rate ``preset`` (None: any)."""
    name = AUTO_VOCODER_BY_PRESET.get(preset, AUTO_VOCODER) if preset else AUTO_VOCODER
    return name if (name != "neural" or neural_vocoder_available()) else "reference"


def default_vocoder(name: str = "auto", *, fixed_point: bool = True, preset: str | None = None):
    """A fresh vocoder by name: ``neural``, ``reference`` or ``auto`` (:func:`auto_vocoder`
    of the stream's ``preset``)."""
    if name not in VOCODERS:
        raise CodecError(f"unknown vocoder {name!r} (choose {', '.join(VOCODERS)})")
    if name == "auto":
        name = auto_vocoder(preset)
    if name == "neural":
        if not neural_vocoder_available():
            raise CodecError("the neural vocoder's weights (mlcodec/models/vocoder_v2.bin) are not installed")
        from mlcodec.vocoder import load_vocoder

        return load_vocoder(fixed_point=fixed_point)
    if name == "libopus":
        return libopus_vocoder()
    from mlcodec.dsp.synth import ReferenceSynth

    return ReferenceSynth()


def libopus_vocoder():
    """libopus's FARGAN (:class:`mlcodec.libopus.fargan.LibopusVocoder`, delay 240) bound from
    the installed ``fargan_arrays.bin`` (else the combined ``weights_blob.bin``); a CodecError
    that says how to install them when no libopus models are installed."""
    from mlcodec.libopus import fargan, store

    try:
        try:
            path = store.blob_path("fargan")
        except store.ModelsNotInstalled:
            path = store.blob_path("all")
    except store.ModelsNotInstalled as exc:
        raise CodecError(f"vocoder 'libopus': {exc.reason}", file=exc.file) from None
    return fargan.load_vocoder(path)


def make_vocoder(vocoder, fixed_point: bool = True, preset: str | None = None):
    """A vocoder from a name (or None = ``auto``), a factory (called once), or an object with
    ``synthesize(features) -> audio`` (used as is)."""
    if vocoder is None or isinstance(vocoder, str):
        return default_vocoder(vocoder or "auto", fixed_point=fixed_point, preset=preset)
    if isinstance(vocoder, type) or (callable(vocoder) and not hasattr(vocoder, "synthesize")):
        return vocoder()  # a factory (e.g. a class): one fresh vocoder per decoder
    return vocoder


def _reference_delay() -> int:
    from mlcodec.dsp.synth import SYNTH_DELAY

    return int(SYNTH_DELAY)


def vocoder_delay(vocoder=None) -> int:
    """16 kHz samples by which a vocoder's output lags the features' audio: its ``delay``
    attribute, else the reference synthesizer's (also used for ``None``)."""
    if vocoder is None or isinstance(vocoder, (str, type)):
        d = getattr(vocoder, "delay", None) if isinstance(vocoder, type) else None
        return _reference_delay() if d is None else int(d)
    d = getattr(vocoder, "delay", None)
    return _reference_delay() if d is None else int(d)


def codec_delay() -> int:
    """The end-to-end delay (16 kHz samples) the encoder declares (pre-skip, MLCODEC_DELAY).

    Feature frame t describes input samples [160 t, 160 t + 160) (specs 07 s6), so the
    analysis adds no offset; the vocoder lags by one frame (reference and neural alike). A
    decoder whose vocoder lags otherwise compensates (:mod:`mlcodec.codec.decoder`).
    """
    return _reference_delay()
