"""Speech back out of the DRED of a whole libopus stream: packets -> DRED -> features -> audio.

The stream side of :mod:`mlcodec.libopus.dred_audio` (specs 05 s6, 08 s2-s3): read the Opus
packets of an Ogg Opus, opus_demo ``.bit`` or raw-framed file, parse each packet's DRED
(:func:`mlcodec.bitstream.dred.packet_dred`), and turn it into features (RDOVAE decoder) and
16 kHz audio (libopus's FARGAN) three ways:

* :meth:`DredSpeech.packet_speech`: everything one packet's DRED carries, oldest first;
* :meth:`DredSpeech.gap_speech`: packets K-L..K-1 lost and concealed from packet K's DRED,
  as libopus's ``opus_decoder_dred_decode`` calls would (:func:`dred_audio.gap_schedule`);
* :meth:`DredSpeech.stream_speech`: the whole stream from redundancy alone: every 10 ms slot
  from the first later packet whose DRED covers it, as if that slot's packet alone were lost.

Times are 16 kHz samples from the start of the first packet (pre-skip not removed: the
timeline of libopus's decoder output). Slot t = samples [160 t, 160 t + 160); packet K's
feature frame f (newest first) fills slot ``floor((start_K + 40 offset) / 160) - 2 - f``,
the frame ``opus_decode_native`` feeds FARGAN for that slot after a good packet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from mlcodec.bitstream.dred import DredError, DredPayload, packet_dred
from mlcodec.errors import MlcodecError
from mlcodec.libopus import dred_audio as DA
from mlcodec.libopus.fargan import FRAME, LibopusVocoder, to_int16

F10 = FRAME  #: one 10 ms slot at 16 kHz
#: Slots a packet's DRED can reach back from the packet start: the most negative offset
#: (16 - 31 - 32*255 units of 2.5 ms) plus 26 latents of 4 frames; later slots are final.
REACH = (32 * 255 + 15) * 40 // F10 + 4 * 26 + 3


@dataclass(frozen=True)
class StreamPacket:
    """One Opus packet of the stream: where it lies (16 kHz samples) and its DRED."""

    index: int
    start: int
    samples: int
    offset: int | None  #: byte offset of the packet in the file
    dred: DredPayload | None
    error: str | None = None  #: why the packet or its DRED could not be read (dred is None)
    file: str | None = None  #: the input's name, for error lines

    def to_json(self) -> dict:
        return {"packet": self.index, "start": self.start, "samples": self.samples, "offset": self.offset,
                "dred": None if self.dred is None else self.dred.to_json(), "error": self.error}


def read_packets(inp, tables, *, strict: bool = True) -> Iterator[StreamPacket]:
    """Every packet of an opened input (:func:`mlcodec.containers.detect.open_input`) with its
    DRED parsed with ``tables``. A bad packet or payload is reported in ``error``; a broken
    container raises its ContainerError after the readable packets."""
    from mlcodec.containers.oggopus import packet_samples

    start = 0
    for index, data, offset in _raw_packets(inp):
        n = packet_samples(data) // 3  # 48 kHz -> 16 kHz
        try:
            d = packet_dred(data, tables, file=inp.name, offset=offset, strict=strict)
            err = None
        except MlcodecError as exc:
            d, err = None, exc.reason if exc.offset is None else f"{exc.reason} (byte {exc.offset})"
        yield StreamPacket(index, start, n, offset, d, err, inp.name)
        start += n


def _raw_packets(inp) -> Iterator[tuple[int, bytes, int | None]]:
    if inp.format == "bit":
        from mlcodec.containers.opusdemo import iter_bit

        for r in iter_bit(inp.stream, file=inp.name):
            yield r.index, r.data, r.offset
    elif inp.format == "raw":
        from mlcodec.containers.rawframe import iter_raw

        for r in iter_raw(inp.stream, file=inp.name):
            yield r.index, r.data, r.offset
    elif inp.format == "packet":
        yield 0, inp.stream.read(), 0
    else:
        from mlcodec.containers.oggopus import OggOpusPacket, iter_ogg_opus

        serial = None
        for ev in iter_ogg_opus(inp.stream, file=inp.name):
            if type(ev) is not OggOpusPacket:
                if ev.head.stream_count != 1:
                    raise DredError(f"Ogg Opus stream {ev.serial} has {ev.head.stream_count} coded streams; "
                                    "DRED is read from single-stream files", file=inp.name, offset=ev.head_offset)
                serial = ev.serial if serial is None else serial
                continue
            if ev.serial == serial:  # the first logical stream
                yield ev.index, ev.data, ev.offset


@dataclass(frozen=True)
class Speech:
    """Features (n, 20) float32 in time order and int16 audio starting at sample ``start``."""

    start: int
    features: np.ndarray
    audio: np.ndarray
    latents: int = 0
    offset: int = 0  #: the DRED offset used (2.5 ms units)

    def to_json(self) -> dict:
        return {"start": self.start, "start_ms": self.start / 16.0, "samples": int(len(self.audio)),
                "frames": int(len(self.features)), "latents": self.latents, "offset": self.offset}


class DredSpeech:
    """libopus's DRED tables, RDOVAE decoder and FARGAN, bound together.

    :meth:`installed` loads them from the user's model cache (``mlcodec.libopus.store``).
    """

    def __init__(self, tables, rdovae, fargan):
        self.tables, self.rdovae, self.fargan = tables, rdovae, fargan

    @classmethod
    def installed(cls, version: str | None = None, arch: str | None = None) -> "DredSpeech":
        from mlcodec.libopus import fargan, rdovae, store

        return cls(store.dred_tables(version), rdovae.load_decoder(store.blob_path("rdovaedec", version), arch),
                   fargan.load_model(store.blob_path("fargan", version), arch))

    def read(self, inp, *, strict: bool = True) -> Iterator[StreamPacket]:
        return read_packets(inp, self.tables, strict=strict)

    def features(self, d: DredPayload) -> np.ndarray:
        """(4 latents, 20) features of one payload, newest first (``fec_features``)."""
        if not d.latents:
            return np.zeros((0, 20), np.float32)
        return DA.decode_features(self.rdovae, d.state, d.decoder_input())

    # --- one packet --------------------------------------------------------------------

    def packet_speech(self, p: StreamPacket) -> Speech:
        """All the speech packet ``p``'s DRED carries, oldest first (FARGAN from silence)."""
        d = _need_latents(p)
        f = self.features(d)
        audio = DA.covered_audio(self.fargan, self.rdovae, d.state, d.decoder_input())
        first = _base_slot(p) - (len(f) - 1)
        return Speech(first * F10, np.ascontiguousarray(f[::-1]), audio, d.latents, d.offset)

    # --- a simulated gap --------------------------------------------------------------

    def gap_speech(self, lost: list[StreamPacket], k: StreamPacket, history=None) -> Speech:
        """Audio for the ``lost`` packets (in order, just before ``k``) from ``k``'s DRED.

        ``history``: the stream decoded without loss (16 kHz, int16 units) at least up to the
        gap, for FARGAN's warm start as libopus does; None: silence, and DRED's own older
        frames (or the first one repeated) as the warm-start features.
        """
        d = _need_latents(k)
        fec = self.features(d)
        cont, frames = [], []
        for i, p in enumerate(lost):
            c, fr = DA.gap_schedule(d.latents, d.offset, [k.start - p.start], frame_size=p.samples,
                                    first_after_good=i == 0)
            cont += c
            frames += fr
        if not frames or any(x is None for x in cont + frames):
            raise DredError(f"packet {k.index}'s DRED ({d.latents} latents, {d.available_ms:g} ms before the packet) "
                            f"does not cover packets {lost[0].index}-{lost[-1].index}: libopus would predict the "
                            "rest with its PLC model", file=k.file)
        g0 = lost[0].start
        if history is None:
            hist = np.zeros(DA.CONT_SAMPLES, np.float32)
            first = cont[0]
            hf = "dred" if first + 3 <= len(fec) - 1 else np.repeat(fec[first][None], 3, axis=0)
        else:
            h = np.asarray(history, np.float32).reshape(-1)[:g0]
            hist = np.concatenate([np.zeros(max(0, DA.CONT_SAMPLES - len(h)), np.float32), h])
            first = cont[0]
            hf = None if (first + 3 <= len(fec) - 1 or len(h) >= 3 * F10) else np.repeat(fec[first][None], 3, axis=0)
        audio = DA.conceal_gap(self.fargan, hist, fec, (cont, frames), history_features=hf)
        return Speech(g0, np.ascontiguousarray(fec[frames]), audio[: sum(p.samples for p in lost)],
                      d.latents, d.offset)

    # --- the whole stream -------------------------------------------------------------

    def stream_speech(self, packets: Iterable[StreamPacket]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream from DRED alone, as blocks of (features (n, 20), int16 audio (160 n)).

        Slots no later packet's DRED covers are NaN features and silence (FARGAN restarts
        after them). Memory is bounded by :data:`REACH` slots, whatever the stream's length.
        """
        pending: dict[int, np.ndarray] = {}
        state = {"voc": None, "next": 0}
        total = 0
        for p in packets:
            total = p.start + p.samples
            d = p.dred
            if d is not None and d.latents:
                fec = self.features(d)
                base = _base_slot(p)
                for f in range(len(fec)):
                    t = base - f
                    if t < state["next"]:
                        break
                    if (t + 1) * F10 <= p.start and t not in pending:
                        pending[t] = fec[f]
            final = p.start // F10 - REACH
            if final > state["next"]:
                yield self._emit(pending, state, final)
        end = -(-total // F10)
        if end > state["next"]:
            feats, audio = self._emit(pending, state, end)
            cut = len(audio) - (end * F10 - total)
            yield feats, audio[:cut]

    def _emit(self, pending, state, upto):
        t0 = state["next"]
        rows = np.full((upto - t0, 20), np.nan, np.float32)
        for t in range(t0, upto):
            r = pending.pop(t, None)
            if r is not None:
                rows[t - t0] = r
        state["next"] = upto
        audio = np.zeros(len(rows) * F10, np.int16)
        covered = ~np.isnan(rows[:, 0])
        i = 0
        while i < len(rows):
            j = i
            while j < len(rows) and covered[j] == covered[i]:
                j += 1
            if covered[i]:
                if state["voc"] is None:
                    state["voc"] = LibopusVocoder(self.fargan)
                seq = rows[i:j].copy()
                seq[:, 0] = np.maximum(np.float32(-15), seq[:, 0])  # lpcnet_plc_conceal's c0 floor
                audio[i * F10 : j * F10] = to_int16(state["voc"].synthesize(seq) / np.float32(32768.0))
            else:
                state["voc"] = None
            i = j
        return rows, audio


def _base_slot(p: StreamPacket) -> int:
    """Slot filled by feature frame 0 (newest) of ``p``'s DRED (``opus_decode_native``)."""
    return (p.start + 40 * p.dred.offset) // F10 - 2


def _need_latents(p: StreamPacket) -> DredPayload:
    if p.error is not None:
        raise DredError(f"packet {p.index}: {p.error}", file=p.file, offset=p.offset)
    if p.dred is None:
        raise DredError(f"packet {p.index} carries no DRED", file=p.file, offset=p.offset)
    if not p.dred.latents:
        raise DredError(f"packet {p.index}'s DRED has no latents (only its initial state)", file=p.file, offset=p.offset)
    return p.dred


def collect(packets: Iterable[StreamPacket], upto: int, keep: int | None = None) -> list[StreamPacket]:
    """The packets up to index ``upto`` (reading stops there; only the last ``keep`` are kept);
    DredError when the stream ends before it."""
    from collections import deque

    out: deque = deque(maxlen=keep)
    n, file = 0, None
    for p in packets:
        out.append(p)
        n, file = n + 1, p.file
        if p.index >= upto:
            return list(out)
    raise DredError(f"the stream has {n} packets; there is no packet {upto}", file=file)


__all__ = ["StreamPacket", "Speech", "DredSpeech", "read_packets", "collect", "REACH"]
