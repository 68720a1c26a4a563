"""Speech back out of DRED: parsed DRED state + latents -> features -> audio through FARGAN.

Follows libopus 1.6.1's decoder path for a gap concealed with ``opus_decoder_dred_decode``
(``src/opus_decoder.c`` feature selection, ``dnn/lpcnet_plc.c`` queue and warm start; specs
05 s6, 08 s3):

* :func:`decode_features` runs the RDOVAE decoder (``opus_dred_process``): newest frame first.
* :func:`gap_schedule` reproduces which feature frame libopus feeds FARGAN for every 10 ms of
  a gap filled by a sequence of ``opus_decoder_dred_decode(dec, dred, offset, pcm, frame)``
  calls (``feature_offset = init_frames - i - 2 + floor((offset + dred_offset*F10/4)/F10)``,
  the FEC queue with its skips; None = libopus's PLC model predicts that frame).
* :func:`conceal_gap` warm-starts FARGAN (``fargan_cont``) on the last 320 decoded samples and
  five feature vectors, then synthesises the scheduled frames as ``fargan_synthesize_int``
  (c0 floored at -15 as ``lpcnet_plc_conceal`` does).

What is *not* reproduced (another module's job): the three warm-start features libopus
analyses from the decoded history (``lpcnet_compute_single_frame_features_float`` with
PitchDNN; by default we take DRED's own older frames instead, or pass ``history_features``),
the PLC model for frames DRED does not cover, and SILK's smoothing of the first good frame
after the gap. Arrays in, arrays out: the bitstream parser lives in ``mlcodec.bitstream``.
"""
from __future__ import annotations

import math

import numpy as np

from mlcodec.libopus.fargan import CONT_SAMPLES, FRAME, FarganState, to_int16

F10 = 160  #: 10 ms at 16 kHz


def decode_features(decoder, state, latents) -> np.ndarray:
    """``opus_dred_process``: (4n, 20) features, newest first (``OpusDRED.fec_features``)."""
    return decoder.decode_all(state, latents)


def gap_schedule(nb_latents: int, dred_offset: int, call_offsets, frame_size: int = 320,
                 first_after_good: bool = True) -> tuple[list, list]:
    """Feature frames libopus uses for a DRED-concealed gap, as indices into ``fec_features``.

    ``call_offsets``: the ``dred_offset`` argument (samples) of each
    ``opus_decoder_dred_decode`` call, in call order (e.g. ``[j*320 for j in (L, ..., 1)]``).
    Returns ``(cont, frames)``: the two indices queued into FARGAN's warm start at the first
    lost 10 ms (when ``first_after_good``), and one index per synthesised 10 ms; None where
    libopus's PLC model predicts instead.
    """
    cont: list = []
    frames: list = []
    blend = 0 if first_after_good else 1
    for off in call_offsets:
        init_frames = 2 if blend == 0 else 0
        per_frame = max(1, frame_size // F10)
        queue: list[int] = []
        skip = 0
        for i in range(init_frames + per_frame):
            idx = init_frames - i - 2 + math.floor((float(off) + dred_offset * F10 / 4) / F10)
            if 0 <= idx <= 4 * nb_latents - 1:
                queue.append(idx)
            elif idx >= 0:
                skip += 1

        def take():
            nonlocal skip
            if queue and skip == 0:
                return queue.pop(0)
            if skip > 0:
                skip -= 1
            return None

        for _k in range(per_frame):
            if blend == 0:
                cont += [take(), take()]
            frames.append(take())
            blend = 1
    return cont, frames


def conceal_gap(fargan_model, history, fec_features, schedule, history_features=None, predict=None) -> np.ndarray:
    """Audio (int16) for a gap: FARGAN warm-started on ``history`` (>= 320 decoded samples,
    int16 values) and run on the scheduled DRED feature frames.

    ``schedule`` is :func:`gap_schedule`'s ``(cont, frames)``. ``history_features``: the
    (3, 20) features libopus analyses from the last three decoded 10 ms frames (PitchDNN
    analysis); ``"dred"`` takes the three DRED frames just older than the first warm-start
    frame; ``"analysis"`` analyses ``history`` with our own extractor
    (:func:`mlcodec.dsp.features.compute_features`: same layout, classical pitch); None:
    ``"dred"`` when DRED reaches back far enough, else ``"analysis"``. ``predict``:
    callable returning a (20,) feature for a None entry (libopus's PLC model); without it a
    None entry is an error.
    """
    cont, frames = schedule
    f = np.asarray(fec_features, np.float32).reshape(-1, 20)

    def feat(i):
        if i is None:
            if predict is None:
                raise ValueError("DRED does not cover this frame (libopus would run its PLC model): pass predict=")
            return np.asarray(predict(), np.float32)
        return f[i]

    first = cont[0] if cont and cont[0] is not None else frames[0]
    dred_ok = first is not None and first + 3 <= len(f) - 1
    if history_features is None:
        history_features = "dred" if dred_ok else "analysis"
    if isinstance(history_features, str) and history_features == "dred":
        if not dred_ok:
            raise ValueError("DRED has no frames older than the gap for the warm start")
        history_features = f[first + 3 : first:-1]  # three older frames, oldest first
    elif isinstance(history_features, str) and history_features == "analysis":
        from mlcodec.dsp.features import compute_features

        h = np.asarray(history, np.float64).reshape(-1)
        h = h[len(h) % F10 :][-20 * F10 :]  # whole frames ending at the gap
        if len(h) < 3 * F10:
            raise ValueError("history_features='analysis' needs at least 480 samples of history")
        history_features = compute_features(h)[: len(h) // F10][-3:]
    cf = np.concatenate([np.asarray(history_features, np.float32).reshape(3, 20),
                         np.stack([feat(i) for i in cont])])
    st = FarganState(fargan_model)
    pcm0 = np.asarray(history, np.float32).reshape(-1)[-CONT_SAMPLES:] * np.float32(1.0 / 32768.0)
    st.cont(pcm0, cf)
    seq = np.stack([feat(i) for i in frames]).copy()
    seq[:, 0] = np.maximum(np.float32(-15), seq[:, 0])  # MAX16(-15, c0 + att_table[0])
    return to_int16(st.synthesize(seq)).reshape(-1)


def covered_audio(fargan_model, decoder, state, latents, history=None) -> np.ndarray:
    """All the speech one packet's DRED carries, oldest first, as int16 (4 frames per latent).

    FARGAN starts from ``history`` (the 320 samples before the covered span; silence if None)
    and the first frame; the output is delayed like libopus's analysis-synthesis (about
    1.5 frames, :attr:`mlcodec.libopus.fargan.LibopusVocoder.delay`).
    """
    f = decode_features(decoder, state, latents)[::-1]
    if not len(f):
        return np.zeros(0, np.int16)
    st = FarganState(fargan_model)
    h = np.zeros(CONT_SAMPLES, np.float32) if history is None else np.asarray(history, np.float32)[-CONT_SAMPLES:]
    st.cont(h / np.float32(32768.0), np.repeat(f[:1], 5, axis=0))
    return to_int16(st.synthesize(np.ascontiguousarray(f))).reshape(-1)[: len(f) * FRAME]
