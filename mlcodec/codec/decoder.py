"""Streaming decoder: Ogg Opus packets -> payloads -> latents -> features -> audio blocks.

Units: :class:`Decoder` and :class:`StreamDecoder` produce **16 kHz mono float32 samples in
int16 units** (full scale +-32768); the public :func:`mlcodec.decode` returns float [-1, 1].
:class:`StreamDecoder` is a generator of trimmed audio blocks (RFC 7845 s4 timing), not a
sink: callers write, resample or collect the blocks as they like.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np

from mlcodec.codec import format as fmt
from mlcodec.codec.encoder import load_model
from mlcodec.codec.payload import CodingTables, read_payload
from mlcodec.codec.vocoders import make_vocoder, vocoder_delay
from mlcodec.errors import CodecError, ContainerError


class Decoder:
    """Streaming decoder of one stream's packets: features and audio (16 kHz, int16 units).

    ``info`` comes from the stream's OpusTags; the model must have the checksum it names
    (CodecError otherwise). ``vocoder`` is an object with ``synthesize(features) -> audio``
    (streaming, stateful), a factory returning one, or a name from
    :data:`mlcodec.codec.vocoders.VOCODERS`; by default ``auto``.
    """

    def __init__(self, info: fmt.StreamInfo, model=None, *, vocoder=None, fixed_point: bool = True):
        from mlcodec.codec.model import dequantize

        self.model = load_model(model)
        fmt.check_model(info, self.model)
        self.info = info
        self.tables = self.model.quant_tables(info.level)
        self.coding = CodingTables.from_quant_tables(self.tables)
        self._dequantize = dequantize
        self._net = self.model.new_decoder(info.level, fixed_point=fixed_point)
        self.vocoder = make_vocoder(vocoder, fixed_point, info.bitrate) if vocoder is not False else None
        self.packets_in = 0
        self.payload_bytes = 0

    def read_codes(self, packet: bytes, *, offset: int | None = None) -> np.ndarray:
        """The quantized latents (latents x dims, int) of one packet."""
        frame_ms, payload = fmt.split_codec_packet(packet, offset=offset)
        q = read_payload(payload, fmt.latents_per_packet(frame_ms), self.coding, offset=offset)
        self.packets_in += 1
        self.payload_bytes += len(payload)
        return np.asarray(q)

    def features_of_codes(self, q: np.ndarray) -> np.ndarray:
        """Features (2 per latent, 20 values each) of quantized latents, through the decoder
        network (causal and stateful: one block call equals one step() per latent)."""
        feats = np.asarray(self._net.process(self._dequantize(q, self.tables)), dtype=np.float32)
        return feats.reshape(-1, 20)

    def decode_features(self, packet: bytes, *, offset: int | None = None) -> np.ndarray:
        """Features (2 per latent, 20 values each) of one packet."""
        return self.features_of_codes(self.read_codes(packet, offset=offset))

    def synthesize(self, feats: np.ndarray) -> np.ndarray:
        """Audio for features, through the (stateful) vocoder."""
        return np.asarray(self.vocoder.synthesize(feats), dtype=np.float32).reshape(-1)

    def decode_packet(self, packet: bytes, *, offset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features, audio) of one packet; audio is 16 kHz int16-unit float32."""
        feats = self.decode_features(packet, offset=offset)
        return feats, self.synthesize(feats)


def read_stream_head(src: BinaryIO, *, file: str | None = None):
    """(OggOpusReader, StreamInfo) of an mlcodec stream; CodecError/ContainerError when the
    headers are not those of an mlcodec Ogg Opus stream."""
    from mlcodec.containers.detect import PrefixedReader
    from mlcodec.containers.oggopus import read_ogg_opus

    head = read_exact(src, 4)
    if not head:
        raise CodecError("empty input", file=file)
    if head != b"OggS":
        raise CodecError("not an Ogg Opus file (mlcodec decode reads streams made by mlcodec encode)",
                         file=file, offset=0)
    reader = read_ogg_opus(PrefixedReader(head, src), file=file)
    info = fmt.parse_stream_tags(reader.tags.comments)
    if reader.head.channels != 1:
        raise CodecError(f"mlcodec streams are mono, this one has {reader.head.channels} channels", file=file)
    return reader, info


def read_exact(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of ``f``)."""
    out = b""
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            break
        out += b
    return out


class StreamDecoder:
    """Iterate over the trimmed 16 kHz audio blocks (int16 units) of an mlcodec Ogg Opus stream.

    The headers are read on construction (CodecError/ContainerError when the stream is not
    one of ours, or the model does not match). A stream that ends early or is damaged after
    its headers is decoded as far as it is readable; :attr:`truncated` then names the reason
    once the iteration ends (the caller decides to report it). ``features`` collects each
    packet's features when ``keep_features`` is set.
    """

    def __init__(self, src: BinaryIO, *, model=None, vocoder=None, fixed_point: bool = True,
                 file: str | None = None, keep_features: bool = False):
        self.reader, self.info = read_stream_head(src, file=file)
        self.decoder = Decoder(self.info, model, vocoder=vocoder, fixed_point=fixed_point)
        self.samples = 0
        self.packets = 0
        self.truncated: str | None = None
        self.features: list[np.ndarray] | None = [] if keep_features else None
        self._done = False

    @property
    def payload_bytes(self) -> int:
        return self.decoder.payload_bytes

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._blocks():
            if block.shape[0]:
                self.samples += block.shape[0]
                yield block

    def _blocks(self) -> Iterator[np.ndarray]:
        if self._done:
            return
        self._done = True
        reader, info, dec = self.reader, self.info, self.decoder
        # The pre-skip removes the delay the encoder assumed (MLCODEC_DELAY); a vocoder with
        # another delay shifts its output by the difference, keeping the length exact.
        shift = vocoder_delay(dec.vocoder) - info.delay
        skip = max(shift, 0)
        if shift < 0:
            yield np.zeros(-shift, np.float32)
        last = None
        g = fmt.GRANULE_PER_SAMPLE
        try:
            for p in reader.packets():
                last = p
                feats, audio = dec.decode_packet(p.data, offset=p.offset)
                if self.features is not None:
                    self.features.append(feats)
                # The packet's audio covers output positions [granule - samples - pre_skip, ...).
                start48 = p.granule - p.samples - reader.head.pre_skip
                a = max(p.pcm_start - start48, 0) // g
                b = max(p.pcm_end - start48, 0) // g
                piece = audio[a:b]
                if skip:
                    cut = min(skip, piece.shape[0])
                    piece, skip = piece[cut:], skip - cut
                if shift < 0 and p.eos:
                    piece = piece[:max(piece.shape[0] + shift, 0)]
                self.packets += 1
                yield piece
        except (ContainerError, CodecError) as exc:
            # Damage after the headers: keep what was decoded, report where it stopped.
            self.truncated = exc.reason if exc.offset is None else f"offset {exc.offset}: {exc.reason}"
        else:
            if last is None:
                self.truncated = "stream has no audio packets"
            elif not last.eos:
                self.truncated = "stream ends without its last (EOS) page"
            elif reader.other_streams:
                o = reader.other_streams[0]
                where = "" if o.head_offset is None else f"offset {o.head_offset}: "
                self.truncated = (f"{where}another Opus logical stream (serial {o.serial}) follows; chained "
                                  "Ogg files are not supported, only the first stream was decoded")
        if shift > 0 and self.truncated is None:
            yield np.zeros(shift, np.float32)  # the vocoder's extra lag: pad the end back to length
