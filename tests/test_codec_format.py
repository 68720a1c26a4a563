"""Stream format constants, packet shape and the OpusTags model binding (docs/format.md)."""
from __future__ import annotations

import pytest

from mlcodec.bitstream.extensions import ID_DRED, ID_QEXT, extension_name
from mlcodec.bitstream.packet import packet_extensions, parse_packet
from mlcodec.codec import format as fmt
from mlcodec.codec.format import build_codec_packet, split_codec_packet
from mlcodec.errors import CodecError, MlcodecError


def test_extension_id_is_ours():
    assert 32 <= fmt.EXTENSION_ID <= 127  # long extension: any payload length
    assert fmt.EXTENSION_ID not in (ID_QEXT, ID_DRED, 32, 127)
    assert extension_name(fmt.EXTENSION_ID) == fmt.EXTENSION_NAME


@pytest.mark.parametrize("frame_ms,config,toc", [(20, 9, 0x4B), (40, 10, 0x53), (60, 11, 0x5B)])
def test_packet_shape(frame_ms, config, toc):
    payload = bytes([fmt.FORMAT_VERSION]) + b"\x12\x34\x56"
    pkt = build_codec_packet(payload, frame_ms)
    assert pkt[0] == toc  # SILK WB, mono, code 3
    p = parse_packet(pkt)
    assert p.toc.config == config
    assert p.frames == (b"",)  # one zero-length frame: real decoders play PLC silence
    assert p.toc.frame_ms * len(p.frames) == frame_ms  # TOC duration = packet duration
    exts = packet_extensions(p)
    assert [(e.frame, e.id, e.data) for e in exts] == [(0, fmt.EXTENSION_ID, payload)]
    # TOC + count byte + padding length + extension header + payload (L=0: no length field)
    assert len(pkt) == 4 + len(payload)
    assert split_codec_packet(pkt) == (frame_ms, payload)


@pytest.mark.parametrize("frame_ms", [10, 30, 80, "x", None])
def test_bad_frame_ms(frame_ms):
    with pytest.raises(CodecError):
        fmt.toc_config(frame_ms)


def test_latents_and_samples():
    assert [fmt.latents_per_packet(m) for m in (20, 40, 60)] == [1, 2, 3]
    assert [fmt.packet_samples(m) for m in (20, 40, 60)] == [320, 640, 960]


@pytest.mark.parametrize("pkt", [
    bytes([0x48, 1, 2, 3]),                    # a real SILK packet without extensions
    bytes([0xFC, 0xFF, 0xFE]),                 # CELT FB stereo
    build_codec_packet(b"\x01", 20)[:1],       # TOC only (code 3 without count byte)
    b"",
])
def test_split_rejects_foreign_packets(pkt):
    with pytest.raises(CodecError):
        split_codec_packet(pkt)


def test_tags_round_trip():
    info = fmt.StreamInfo("codec_v1", "abc123", level=5, frame_ms=40, bitrate="3k", delay=123)
    tags = info.tags("mlcodec 0.1.0")
    assert "ENCODER=mlcodec 0.1.0" in tags
    assert fmt.parse_stream_tags(tags) == info
    # names are case-insensitive (Vorbis comments)
    assert fmt.parse_stream_tags([t.lower().split("=")[0] + "=" + t.split("=", 1)[1] for t in tags]) == info


@pytest.mark.parametrize("tags,msg", [
    ([], "not an mlcodec stream"),
    (["ENCODER=opusenc"], "not an mlcodec stream"),
    (["MLCODEC_FORMAT=2", "MLCODEC_MODEL_CHECKSUM=x", "MLCODEC_LEVEL=1"], "format version 2"),
    (["MLCODEC_FORMAT=1", "MLCODEC_LEVEL=1"], "MLCODEC_MODEL_CHECKSUM"),
    (["MLCODEC_FORMAT=1", "MLCODEC_MODEL_CHECKSUM=x"], "MLCODEC_LEVEL"),
    (["MLCODEC_FORMAT=1", "MLCODEC_MODEL_CHECKSUM=x", "MLCODEC_LEVEL=q"], "bad OpusTags"),
    (["MLCODEC_FORMAT=1", "MLCODEC_MODEL_CHECKSUM=x", "MLCODEC_LEVEL=1", "MLCODEC_FRAME_MS=30"], "duration"),
])
def test_bad_tags(tags, msg):
    with pytest.raises(CodecError, match=msg):
        fmt.parse_stream_tags(tags)


class _Model:
    name, checksum, nb_levels = "m", "abc", 4


def test_check_model():
    ok = fmt.StreamInfo("m", "abc", level=1, frame_ms=20)
    fmt.check_model(ok, _Model())
    with pytest.raises(CodecError, match="checksum"):
        fmt.check_model(fmt.StreamInfo("m", "zzz", level=1, frame_ms=20), _Model())
    with pytest.raises(CodecError, match="level"):
        fmt.check_model(fmt.StreamInfo("m", "abc", level=9, frame_ms=20), _Model())


def test_errors_are_mlcodec_errors():
    assert issubclass(CodecError, MlcodecError)
