"""The mlcodec stream format: constants, presets, rates, packet shape and the OpusTags binding.

The sole owner of the bit-rate presets, quantizer-level lookup, packet durations and output
rates: the CLI's choices, the encoder and the model all read them from here.

A stream is an Ogg Opus file (RFC 7845, specs 04) whose audio packets are valid RFC 6716
packets (specs 01) made of one zero-length SILK wide-band frame; the codec's data rides in
the packet's extension area (specs 02) under :data:`EXTENSION_ID`. See ``docs/format.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from mlcodec.bitstream.extensions import EXTENSION_REGISTRY, ID_MLCODEC
from mlcodec.errors import CodecError

#: Version of the payload syntax; the first byte of every extension payload.
FORMAT_VERSION = 1

#: Extension ID of the codec payload. Long IDs (32..127) may carry any number of bytes; libopus
#: uses 124 (QEXT) and 126 (DRED), the 2023 DRED drafts used 32 and 127 (specs 02 §7). 122 sits
#: in the top block where the experimental IDs live, away from every ID known to be in use.
EXTENSION_ID = ID_MLCODEC  # 122
#: Display name (built into :data:`mlcodec.bitstream.extensions.EXTENSION_REGISTRY`).
EXTENSION_NAME = EXTENSION_REGISTRY[ID_MLCODEC]

#: Rate of the codec's audio (features are 10 ms frames of 160 samples at this rate).
SAMPLE_RATE = 16000
#: Ogg Opus granule positions and pre-skip always count 48 kHz samples (RFC 7845 §4).
GRANULE_RATE = 48000
GRANULE_PER_SAMPLE = GRANULE_RATE // SAMPLE_RATE

#: Duration of one latent vector (two 10 ms feature frames).
LATENT_MS = 20
#: Packet durations offered by ``--frame-ms`` and the default.
FRAME_MS_CHOICES = (20, 40, 60)
DEFAULT_FRAME_MS = 20

#: TOC configuration per packet duration: SILK wide-band, which has 20, 40 and 60 ms frames
#: (RFC 6716 §3.1, specs 01 §2.1), so one frame covers the whole packet and the TOC duration
#: always equals the packet duration. WB also states the true audio bandwidth (8 kHz).
TOC_CONFIG = {20: 9, 40: 10, 60: 11}
_CONFIG_MS = {v: k for k, v in TOC_CONFIG.items()}

#: Bit-rate presets, in the order of the model blob's ``codec_presets`` record (each model maps
#: them to its quantizer levels; :func:`preset_level`).
BITRATE_PRESETS = ("1.5k", "3k", "6k")
DEFAULT_BITRATE = "3k"
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
    """The RFC 6716 TOC configuration number used for packets of ``frame_ms`` milliseconds."""
    try:
        return TOC_CONFIG[int(frame_ms)]
    except (KeyError, ValueError, TypeError):
        raise CodecError(f"unsupported packet duration {frame_ms!r} ms (choose 20, 40 or 60)") from None


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

    def tags(self, encoder: str = "") -> list[str]:
        """``NAME=value`` comments for the OpusTags header."""
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
    if TAG_CHECKSUM not in tags and TAG_FORMAT not in tags:
        raise CodecError("not an mlcodec stream (an Ogg Opus file without MLCODEC_* tags; "
                         "decode it with opusdec instead)")
    version = _int_tag(tags, TAG_FORMAT)
    if version != FORMAT_VERSION:
        raise CodecError(f"unsupported mlcodec format version {version} (this build reads {FORMAT_VERSION})")
    checksum = tags.get(TAG_CHECKSUM, "")
    if not checksum:
        raise CodecError(f"not an mlcodec stream: OpusTags has no {TAG_CHECKSUM} entry")
    frame_ms = _int_tag(tags, TAG_FRAME_MS, DEFAULT_FRAME_MS)
    toc_config(frame_ms)
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


def check_model(info: StreamInfo, model) -> None:
    """Refuse to decode a stream made by another model (the checksums must agree)."""
    if str(info.model_checksum) != str(model.checksum):
        raise CodecError(
            f"stream was encoded with model {info.model_name or '?'} (checksum {info.model_checksum}), "
            f"but the loaded model is {getattr(model, 'name', '?')} (checksum {model.checksum}); "
            "decode it with the matching model"
        )
    if info.level >= int(getattr(model, "nb_levels", info.level + 1)):
        raise CodecError(f"stream uses quantizer level {info.level}, the model has only {model.nb_levels}")


# --- packets (docs/format.md s3) --------------------------------------------------------------


def build_codec_packet(payload: bytes, frame_ms: int) -> bytes:
    """An RFC 6716 code-3 packet of one zero-length SILK WB frame carrying ``payload`` in
    extension :data:`EXTENSION_ID` of frame 0 (docs/format.md s3)."""
    from mlcodec.bitstream.extensions import Extension
    from mlcodec.bitstream.packet import build_packet

    return build_packet(toc_config(frame_ms), [b""], extensions=[Extension(0, EXTENSION_ID, bytes(payload))],
                        force_code3=True)


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
