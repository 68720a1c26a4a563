"""The mlcodec stream format: constants, presets, rates, packet shape and the OpusTags binding.

The sole owner of the bit-rate presets, quantizer-level lookup, packet durations and output
rates: the CLI's choices, the encoder and the model all read them from here.

A stream is an Ogg Opus file (RFC 7845, specs 04) whose audio packets are valid RFC 6716
packets (specs 01) of zero-length CELT wide-band frames (format 2; format 1: one zero-length
SILK WB frame); the codec's data rides in the packet's extension area (specs 02) under
:data:`EXTENSION_ID`. See ``docs/format.md`` (v2 layout: docs/format-v2-research.md s6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from mlcodec.bitstream.extensions import EXTENSION_REGISTRY, ID_MLCODEC
from mlcodec.bitstream.featred import ID_FEATRED
from mlcodec.errors import CodecError

#: Version of the stream format written (format 3: format 2 with previous-symbol contexts in
#: the entropy model, docs/format.md). Format 2 (no contexts) and format 1 (a version byte
#: first in every payload, level in OpusTags) are still read, and written on request.
FORMAT_VERSION = 3
FORMAT_V1 = 1
FORMAT_V2 = 2
#: Format versions this build reads.
READABLE_VERSIONS = (1, 2, 3)

#: Extension ID of the codec payload. Long IDs (32..127) may carry any number of bytes; libopus
#: uses 124 (QEXT) and 126 (DRED), the 2023 DRED drafts used 32 and 127 (specs 02 §7). 122 sits
#: in the top block where the experimental IDs live, away from every ID known to be in use.
EXTENSION_ID = ID_MLCODEC  # 122
#: Display name (built into :data:`mlcodec.bitstream.extensions.EXTENSION_REGISTRY`).
EXTENSION_NAME = EXTENSION_REGISTRY[ID_MLCODEC]
#: Extension ID of the feature redundancy (``encode --redundancy MS``, docs/loss.md s5): its own
#: ID beside the primary's, before it in frame 0 (the primary keeps the implicit length).
REDUNDANCY_ID = ID_FEATRED  # 123

#: Rate of the codec's audio (features are 10 ms frames of 160 samples at this rate).
SAMPLE_RATE = 16000
#: Ogg Opus granule positions and pre-skip always count 48 kHz samples (RFC 7845 §4).
GRANULE_RATE = 48000
GRANULE_PER_SAMPLE = GRANULE_RATE // SAMPLE_RATE

#: Duration of one latent vector (two 10 ms feature frames).
LATENT_MS = 20
#: Packet durations offered by ``--frame-ms`` and the default. Latency = packet + 30 ms
#: (20 ms feature look-ahead, 10 ms vocoder); framing costs 2.1 kb/s at 20 ms, 0.42 at 120 ms
#: (docs/format-v2-research.md s3). 120 ms is the default: it is what makes 3k a 3 kb/s file.
FRAME_MS_CHOICES = (20, 40, 60, 80, 100, 120)
DEFAULT_FRAME_MS = 120
#: Algorithmic latency of a packet duration (ms), as stated in --help and docs/codec.md.
LATENCY_EXTRA_MS = 30

#: Format 2: TOC configuration of the carrier's frames, CELT WB 20 ms (config 23), M = ms/20
#: zero-length frames in a code-3 packet; these decode to digital zero in every decoder
#: measured (docs/format-v2-research.md s1). WB states the codec's true bandwidth.
CARRIER_FRAME = "celtlost"
#: Format 1: SILK wide-band 20/40/60 ms, one zero-length frame (RFC 6716 §3.1, specs 01 §2.1).
TOC_CONFIG = {20: 9, 40: 10, 60: 11}
_CONFIG_MS = {v: k for k, v in TOC_CONFIG.items()}
#: Format 2 audio pages: about 2.4 s (a damaged page loses at most that; research s3).
PAGE_MS = 2400
#: ... except pages of DTX packets only, which grow to 10 s (they hold only silence).
DTX_PAGE_MS = 10000
#: DTX (research s5.2): a latent whose 20 ms of input is below this level (dBFS) and outside
#: the hangover is not coded; the decoder repeats the last coded (SID) latent.
DTX_THRESHOLD_DB = -55.0
DTX_HANGOVER = 2         #: latents coded after an active one
SID_REFRESH_DB = 6.0     #: re-send the SID when the level moves more than this
SID_REFRESH_LATENTS = 25  #: ... or every 0.5 s while the input is not digital silence
SID_SILENCE_DB = -90.0

#: Bit-rate presets, in the order of the model blob's ``codec_presets`` record (each model maps
#: them to its quantizer levels; :func:`preset_level`).
BITRATE_PRESETS = ("1.5k", "3k", "6k")
DEFAULT_BITRATE = "3k"
#: ``--bitrate`` accepts any whole-file target in this range (bits per second).
BITRATE_MIN, BITRATE_MAX = 1000, 8000
#: Output sample rates the decoder offers (the codec's own rate, and 48 kHz through soxr).
OUTPUT_RATES = (16000, 48000)

#: OpusTags entries (RFC 7845 §5.2, specs 04 §4) that bind a stream to its model and settings.
TAG_ENCODER = "ENCODER"
TAG_FORMAT = "MLCODEC_FORMAT"
TAG_MODEL = "MLCODEC_MODEL"
TAG_CHECKSUM = "MLCODEC_MODEL_CHECKSUM"
TAG_LEVEL = "MLCODEC_LEVEL"
TAG_BITRATE = "MLCODEC_BITRATE"
TAG_FRAME_MS = "MLCODEC_FRAME_MS"
TAG_DELAY = "MLCODEC_DELAY"
#: Format 2's one compact comment: ``MLCODEC=2 <model> <checksum16> <frame_ms> <delay> <bitrate>``;
#: format 3 adds ``<ctx_checksum8>``, the context tables' checksum (contexts.py).
TAG_V2 = "MLCODEC"
TAG_DESCRIPTION = "DESCRIPTION"
DESCRIPTION = "mlcodec speech; other players play silence; decode: mlcodec decode"
#: Format 3's shorter DESCRIPTION (28 bytes less: 0.1 kb/s of a 2.3 s file).
DESCRIPTION_V3 = "mlcodec speech; decode: mlcodec decode"
#: Hex digits of the model checksum a format-2 stream carries (64 bits identify a model).
CHECKSUM_DIGITS = 16
#: Hex digits of the context tables' checksum a format-3 stream carries (32 bits tell apart
#: the table files of one model, which the model checksum already names).
CTX_CHECKSUM_DIGITS = 8


def refuse_ogg_input(head: bytes, *, file: str | None = None) -> None:
    """CodecError when the first bytes (64 suffice) of an encoder input are an Ogg Opus stream
    (an mlcodec or any Opus file): encoding it would code its decoded audio, for an mlcodec file
    silence. Ogg Vorbis/FLAC are audio and pass."""
    if head[:4] == b"OggS" and b"OpusHead" in head[:64]:
        raise CodecError("input is an Ogg Opus stream (an mlcodec or Opus file), not audio to encode; "
                         "to turn it into audio use 'mlcodec decode IN.opus OUT.wav'", file=file, offset=0)


def parse_bitrate(bitrate) -> int:
    """Bits per second of a ``--bitrate`` value: ``3k``, ``1.5k``, ``2500``; CodecError unless
    it lies in [:data:`BITRATE_MIN`, :data:`BITRATE_MAX`]."""
    s = str(bitrate).strip().lower()
    try:
        v = float(s[:-1]) * 1000 if s.endswith("k") else float(s)
    except ValueError:
        raise CodecError(f"bad bit rate {bitrate!r} (e.g. 1.5k, 3k, 6k, or 1000..8000)") from None
    if not BITRATE_MIN <= v <= BITRATE_MAX:
        raise CodecError(f"bit rate {bitrate} outside {BITRATE_MIN // 1000}k..{BITRATE_MAX // 1000}k")
    return int(round(v))


def bitrate_name(bps: int) -> str:
    """``3000`` -> ``3k``, ``1500`` -> ``1.5k``, ``2250`` -> ``2.25k``."""
    return f"{bps / 1000:g}k"


def nearest_preset(bitrate) -> str:
    """The preset a target rate is closest to (the vocoder policy is per preset)."""
    try:
        bps = parse_bitrate(bitrate)
    except CodecError:
        return str(bitrate)
    return min(BITRATE_PRESETS, key=lambda p: abs(parse_bitrate(p) - bps))


def preset_level(presets: Mapping[str, int], preset: str) -> int:
    """The quantizer level a model's ``presets`` map gives bit-rate ``preset``; CodecError
    naming the known presets otherwise (the one preset->level lookup)."""
    try:
        return int(presets[preset])
    except (KeyError, TypeError):
        raise CodecError(f"unknown bit-rate preset {preset!r} (choose {', '.join(presets) or 'none'})") from None


def check_output_rate(rate: int) -> int:
    """``rate`` as an int when the decoder offers it (:data:`OUTPUT_RATES`); CodecError otherwise."""
    try:
        r = int(rate)
    except (TypeError, ValueError):
        r = None
    if r not in OUTPUT_RATES:
        raise CodecError(f"unsupported output rate {rate} (choose {' or '.join(map(str, OUTPUT_RATES))})")
    return r


def toc_config(frame_ms: int) -> int:
    """The RFC 6716 TOC configuration of a format-2 packet of ``frame_ms`` ms (CELT WB 20 ms
    frames); CodecError unless ``frame_ms`` is one of :data:`FRAME_MS_CHOICES`."""
    try:
        ok = int(frame_ms) in FRAME_MS_CHOICES
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise CodecError(f"unsupported packet duration {frame_ms!r} ms (choose "
                         f"{', '.join(map(str, FRAME_MS_CHOICES))})") from None
    return 23


def frame_ms_of_config(config: int) -> int:
    """Packet duration for a TOC configuration this format uses; CodecError otherwise."""
    try:
        return _CONFIG_MS[config]
    except KeyError:
        raise CodecError(f"TOC configuration {config} is not an mlcodec packet (expected 9, 10 or 11)") from None


def latents_per_packet(frame_ms: int) -> int:
    """How many latent vectors one packet of ``frame_ms`` carries."""
    toc_config(frame_ms)
    return int(frame_ms) // LATENT_MS


def packets_per_page(frame_ms: int) -> int:
    """Packets per format-2 audio page (about :data:`PAGE_MS`)."""
    return -(-PAGE_MS // int(frame_ms))


#: Format 3 re-sends the quantizer level at least this often (ms of packets), so a receiver
#: that lost the packet carrying it (or the stream's first) decodes again within that time.
LEVEL_REFRESH_MS = 480


def level_refresh_packets(frame_ms: int) -> int:
    """Packets between format-3 level symbols at most (:data:`LEVEL_REFRESH_MS`)."""
    return max(1, LEVEL_REFRESH_MS // int(frame_ms))


def packet_samples(frame_ms: int) -> int:
    """16 kHz samples covered by one packet."""
    return int(frame_ms) * SAMPLE_RATE // 1000


@dataclass(frozen=True)
class StreamInfo:
    """What the OpusTags say about a stream: model binding and encoder settings."""

    model_name: str
    model_checksum: str
    level: int
    frame_ms: int
    bitrate: str = ""
    format_version: int = FORMAT_VERSION
    delay: int = 0  #: codec delay in 16 kHz samples (already counted in the pre-skip)
    ctx_checksum: str = ""  #: format 3: the context tables' SHA-256 (a stream names 8 hex digits)
    #: ms of feature redundancy the encoder sent (0: none); the decoder looks this far ahead.
    redundancy_ms: int = 0

    def tags(self, encoder: str = "") -> list[str]:
        """``NAME=value`` comments for the OpusTags header (format 2: one compact comment and
        a DESCRIPTION for people with other players, docs/format.md s3)."""
        if self.format_version >= 2:
            cs = self.model_checksum[:CHECKSUM_DIGITS]
            v = (f"{TAG_V2}={self.format_version} {self.model_name or '_'} {cs} {self.frame_ms} "
                 f"{self.delay} {self.bitrate or '_'}")
            if self.format_version >= 3:
                v += f" {self.ctx_checksum[:CTX_CHECKSUM_DIGITS]}"
            if self.redundancy_ms:
                v += f" r{self.redundancy_ms}"
            return [v, f"{TAG_DESCRIPTION}={DESCRIPTION if self.format_version == 2 else DESCRIPTION_V3}"]
        out = [f"{TAG_ENCODER}={encoder}"] if encoder else []
        out += [
            f"{TAG_FORMAT}={self.format_version}",
            f"{TAG_MODEL}={self.model_name}",
            f"{TAG_CHECKSUM}={self.model_checksum}",
            f"{TAG_LEVEL}={self.level}",
            f"{TAG_FRAME_MS}={self.frame_ms}",
            f"{TAG_DELAY}={self.delay}",
        ]
        if self.bitrate:
            out.append(f"{TAG_BITRATE}={self.bitrate}")
        return out


def _comment_map(comments: Mapping[str, str] | Iterable) -> dict[str, str]:
    if isinstance(comments, Mapping):
        items = comments.items()
    else:
        items = []
        for c in comments:
            if isinstance(c, bytes):
                c = c.decode("utf-8", "replace")
            if isinstance(c, str):
                name, sep, value = c.partition("=")
                if sep:
                    items.append((name, value))
            else:  # (name, value) pairs
                items.append(tuple(c))
    out: dict[str, str] = {}
    for name, value in items:
        out.setdefault(str(name).upper(), str(value))  # Vorbis comment names are case-insensitive
    return out


def _int_tag(tags: dict[str, str], name: str, default: int | None = None) -> int:
    if name not in tags:
        if default is not None:
            return default
        raise CodecError(f"not an mlcodec stream: OpusTags has no {name} entry")
    try:
        return int(tags[name])
    except ValueError:
        raise CodecError(f"bad OpusTags entry {name}={tags[name]!r}") from None


def parse_stream_tags(comments: Mapping[str, str] | Iterable) -> StreamInfo:
    """Read :class:`StreamInfo` from OpusTags comments (a list of ``NAME=value`` or a dict).

    Raises CodecError when the stream is not an mlcodec stream or uses a newer format.
    """
    tags = _comment_map(comments)
    if TAG_V2 in tags:
        return _parse_v2(tags[TAG_V2])
    if TAG_CHECKSUM not in tags and TAG_FORMAT not in tags:
        raise CodecError("not an mlcodec stream (an Ogg Opus file without MLCODEC_* tags; "
                         "decode it with opusdec instead)")
    version = _int_tag(tags, TAG_FORMAT)
    if version != FORMAT_V1:
        raise CodecError(f"unsupported mlcodec format version {version} (this build reads "
                         f"{', '.join(map(str, READABLE_VERSIONS))})")
    checksum = tags.get(TAG_CHECKSUM, "")
    if not checksum:
        raise CodecError(f"not an mlcodec stream: OpusTags has no {TAG_CHECKSUM} entry")
    frame_ms = _int_tag(tags, TAG_FRAME_MS, 20)
    if frame_ms not in TOC_CONFIG:
        raise CodecError(f"bad OpusTags entry {TAG_FRAME_MS}={frame_ms} (format 1 packet duration: 20, 40 or 60 ms)")
    level = _int_tag(tags, TAG_LEVEL)
    delay = _int_tag(tags, TAG_DELAY, 0)
    if level < 0 or delay < 0:
        raise CodecError("bad OpusTags entry: negative MLCODEC_LEVEL or MLCODEC_DELAY")
    return StreamInfo(
        model_name=tags.get(TAG_MODEL, ""),
        model_checksum=checksum,
        level=level,
        frame_ms=frame_ms,
        bitrate=tags.get(TAG_BITRATE, ""),
        format_version=version,
        delay=delay,
    )


def _parse_v2(value: str) -> StreamInfo:
    """StreamInfo of format 2's ``MLCODEC=2 model checksum16 frame_ms delay bitrate`` (format 3:
    ``... bitrate ctx_checksum8``)."""
    parts = value.split()
    try:
        version = int(parts[0])
    except (IndexError, ValueError):
        raise CodecError(f"bad OpusTags entry {TAG_V2}={value!r}") from None
    if version not in READABLE_VERSIONS or version < 2:
        raise CodecError(f"unsupported mlcodec format version {version} (this build reads "
                         f"{', '.join(map(str, READABLE_VERSIONS))})")
    try:
        name, cs, frame_ms, delay = parts[1], parts[2], int(parts[3]), int(parts[4])
        bitrate = parts[5] if len(parts) > 5 else ""
        int(cs, 16)
        ctx = ""
        if version >= 3:
            ctx = parts[6].lower()
            int(ctx, 16)
            if len(ctx) < CTX_CHECKSUM_DIGITS:
                raise ValueError(ctx)
        # optional fields after these; unknown ones are ignored (later versions' additions)
        red = [int(x[1:]) for x in parts[6:] if x.startswith("r") and x[1:].isdigit()]
    except (IndexError, ValueError):
        raise CodecError(f"bad OpusTags entry {TAG_V2}={value!r}") from None
    if red and not 0 <= red[0] <= 1040:
        raise CodecError(f"bad OpusTags entry {TAG_V2}={value!r} (redundancy above 1040 ms)")
    if frame_ms not in FRAME_MS_CHOICES or delay < 0:
        raise CodecError(f"bad OpusTags entry {TAG_V2}={value!r} (frame ms or delay)")
    return StreamInfo(model_name="" if name == "_" else name, model_checksum=cs.lower(), level=-1,
                      frame_ms=frame_ms, bitrate="" if bitrate == "_" else bitrate,
                      format_version=version, delay=delay, ctx_checksum=ctx,
                      redundancy_ms=red[0] if red else 0)


def check_model(info: StreamInfo, model) -> None:
    """Refuse to decode a stream made by another model (the checksums must agree; format 2
    names the first :data:`CHECKSUM_DIGITS` hex digits)."""
    if info.format_version >= 2:
        if not str(model.checksum).lower().startswith(str(info.model_checksum)) or not info.model_checksum:
            raise CodecError(
                f"stream was encoded with model {info.model_name or '?'} (checksum {info.model_checksum}...), "
                f"but the loaded model is {getattr(model, 'name', '?')} (checksum "
                f"{str(model.checksum)[:CHECKSUM_DIGITS]}...); decode it with the matching model")
        if info.format_version >= 3:
            from mlcodec.codec.contexts import model_contexts

            ctx = model_contexts(model)
            if ctx is None or not ctx.checksum.startswith(info.ctx_checksum) or not info.ctx_checksum:
                have = f"tables {ctx.checksum[:CTX_CHECKSUM_DIGITS]}..." if ctx is not None else "no context tables"
                raise CodecError(f"stream was encoded with context tables {info.ctx_checksum}... of model "
                                 f"{info.model_name or '?'}, but the loaded model has {have}; decode it with "
                                 "the matching model and tables")
        return
    if str(info.model_checksum) != str(model.checksum):
        raise CodecError(
            f"stream was encoded with model {info.model_name or '?'} (checksum {info.model_checksum}), "
            f"but the loaded model is {getattr(model, 'name', '?')} (checksum {model.checksum}); "
            "decode it with the matching model"
        )
    if info.level >= int(getattr(model, "nb_levels", info.level + 1)):
        raise CodecError(f"stream uses quantizer level {info.level}, the model has only {model.nb_levels}")


# --- packets (docs/format.md s3) --------------------------------------------------------------


def build_codec_packet(payload: bytes, frame_ms: int, *, pad_to: int | None = None) -> bytes:
    """A format-2 carrier: a code-3 packet of ``frame_ms/20`` zero-length CELT WB frames with
    ``payload`` in extension :data:`EXTENSION_ID` of frame 0 (research s2); ``pad_to`` makes it
    exactly that many bytes (CBR: libopus-style filler before the extension)."""
    from mlcodec.bitstream.carrier import build_carrier, carrier_config
    from mlcodec.bitstream.extensions import Extension
    from mlcodec.bitstream.packet import build_packet

    toc_config(frame_ms)
    if pad_to is None:
        return build_carrier(int(frame_ms), [bytes(payload)], EXTENSION_ID, frame=CARRIER_FRAME)
    config, m = carrier_config(int(frame_ms), CARRIER_FRAME)
    return build_packet(config, [b""] * m, extensions=[Extension(0, EXTENSION_ID, bytes(payload))],
                        force_code3=True, pad_to=pad_to)


def add_redundancy(packet: bytes, redundancy: bytes, frame_ms: int) -> bytes:
    """A format-2 packet (carrier or DTX) with ``redundancy`` added in extension
    :data:`REDUNDANCY_ID` of frame 0, before the primary payload, whose bytes are unchanged.
    A DTX packet becomes a carrier without ID 122 (its latents stay DTX)."""
    from mlcodec.bitstream.carrier import carrier_config
    from mlcodec.bitstream.extensions import Extension
    from mlcodec.bitstream.packet import build_packet

    _, primary = carrier_payload(packet)
    config, m = carrier_config(int(frame_ms), CARRIER_FRAME)
    exts = [Extension(0, REDUNDANCY_ID, bytes(redundancy))]
    if primary is not None:
        exts.append(Extension(0, EXTENSION_ID, primary))
    return build_packet(config, [b""] * m, extensions=exts, force_code3=True)


def redundancy_payload(data: bytes, *, offset: int | None = None) -> bytes | None:
    """The feature-redundancy payload of a format-2 packet (the first ID-123 extension of
    frame 0), or None."""
    from mlcodec.bitstream.packet import packet_extensions, parse_packet
    from mlcodec.errors import MlcodecError

    try:
        exts = packet_extensions(parse_packet(bytes(data)))
    except MlcodecError as exc:
        raise CodecError(f"bad Opus packet: {exc.reason}", offset=offset) from None
    return next((bytes(e.data) for e in exts if e.id == REDUNDANCY_ID and e.frame == 0), None)


def build_v1_packet(payload: bytes, frame_ms: int) -> bytes:
    """Format 1: a code-3 packet of one zero-length SILK WB frame carrying ``payload``."""
    from mlcodec.bitstream.extensions import Extension
    from mlcodec.bitstream.packet import build_packet

    if int(frame_ms) not in TOC_CONFIG:
        raise CodecError(f"format 1 has 20, 40 or 60 ms packets, not {frame_ms}")
    return build_packet(TOC_CONFIG[int(frame_ms)], [b""], extensions=[Extension(0, EXTENSION_ID, bytes(payload))],
                        force_code3=True)


def build_dtx_packet(frame_ms: int) -> bytes:
    """The packet of ``frame_ms`` whose latents are all DTX: no extension, 1-2 bytes (research s2)."""
    from mlcodec.bitstream.carrier import dtx_packet

    toc_config(frame_ms)
    return dtx_packet(int(frame_ms))


def carrier_payload(data: bytes, *, offset: int | None = None) -> tuple[int, bytes | None]:
    """(latents, payload or None) of a format-2 packet: the latent count comes from the TOC
    duration (CELT or SILK frames alike); no ID-122 extension means all latents are DTX."""
    from mlcodec.bitstream.packet import packet_extensions, parse_packet
    from mlcodec.errors import MlcodecError

    try:
        pkt = parse_packet(bytes(data))
        exts = packet_extensions(pkt)
    except MlcodecError as exc:
        raise CodecError(f"bad Opus packet: {exc.reason}", offset=offset) from None
    ms = pkt_duration_ms(data)
    if ms % LATENT_MS or not LATENT_MS <= ms <= 120:
        raise CodecError(f"Opus packet of {ms:g} ms is not an mlcodec packet (20..120 ms)", offset=offset)
    for e in exts:
        if e.id == EXTENSION_ID and e.frame == 0:
            return int(ms) // LATENT_MS, bytes(e.data)
    if any(getattr(pkt, "frame_lengths", ())):
        raise CodecError("Opus packet with audio frames and no mlcodec payload (not an mlcodec packet)",
                         offset=offset)
    return int(ms) // LATENT_MS, None


def pkt_duration_ms(data: bytes) -> float:
    """Duration (ms) of an Opus packet from its TOC and frame count (RFC 6716 s3.1)."""
    from mlcodec.containers.oggopus import packet_samples

    return packet_samples(bytes(data)) / 48.0


def split_codec_packet(data: bytes, *, offset: int | None = None) -> tuple[int, bytes]:
    """(frame_ms, payload) of an mlcodec packet; CodecError if it is not one."""
    from mlcodec.bitstream.packet import packet_extensions, parse_packet
    from mlcodec.errors import MlcodecError

    try:
        pkt = parse_packet(bytes(data))
        exts = packet_extensions(pkt)
    except MlcodecError as exc:
        raise CodecError(f"bad Opus packet: {exc.reason}", offset=offset) from None
    toc = data[0]
    config = toc >> 3
    frame_ms = _CONFIG_MS.get(config)
    nframes = len(getattr(pkt, "frames", [b""]))
    if frame_ms is None or nframes != 1:
        raise CodecError(f"Opus packet with TOC 0x{toc:02x} ({nframes} frames) is not an mlcodec packet",
                         offset=offset)
    for e in exts:
        if e.id == EXTENSION_ID and e.frame == 0:
            return frame_ms, bytes(e.data)
    raise CodecError(f"packet carries no mlcodec payload (extension {EXTENSION_ID})", offset=offset)
