"""Stream format constants, packet shape and the OpusTags model binding (docs/format.md)."""
from __future__ import annotations

import pytest

from mlcodec.bitstream.extensions import ID_DRED, ID_QEXT, extension_name
from mlcodec.bitstream.packet import packet_extensions, parse_packet
from mlcodec.codec import format as fmt
from mlcodec.codec.format import build_codec_packet, build_v1_packet, carrier_payload, split_codec_packet
from mlcodec.errors import CodecError, MlcodecError


def test_extension_id_is_ours():
    assert 32 <= fmt.EXTENSION_ID <= 127  # long extension: any payload length
    assert fmt.EXTENSION_ID not in (ID_QEXT, ID_DRED, 32, 127)
    assert extension_name(fmt.EXTENSION_ID) == fmt.EXTENSION_NAME


@pytest.mark.parametrize("frame_ms,config,toc", [(20, 9, 0x4B), (40, 10, 0x53), (60, 11, 0x5B)])
def test_v1_packet_shape(frame_ms, config, toc):
    payload = bytes([fmt.FORMAT_V1]) + b"\x12\x34\x56"
    pkt = build_v1_packet(payload, frame_ms)
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


@pytest.mark.parametrize("frame_ms", [20, 40, 60, 80, 100, 120])
def test_v2_carrier_shape(frame_ms):
    """Format 2 (research s2): BB | 40+M | P+1 | F4 | payload: M zero-length CELT WB 20 ms frames."""
    payload = b"\x12\x34\x56"
    pkt = build_codec_packet(payload, frame_ms)
    m = frame_ms // 20
    assert pkt == bytes([0xBB, 0x40 + m, len(payload) + 1, 0xF4]) + payload
    p = parse_packet(pkt)
    assert p.toc.mode == "CELT" and p.toc.frame_ms == 20 and set(p.frame_lengths) == {0}
    assert len(p.frames) * 20 == frame_ms
    assert carrier_payload(pkt) == (m, payload)
    dtx = fmt.build_dtx_packet(frame_ms)
    assert len(dtx) <= 2 and parse_packet(dtx).duration_ms == frame_ms
    assert carrier_payload(dtx) == (m, None)           # no extension: every latent is DTX
    cbr = build_codec_packet(payload, frame_ms, pad_to=40)
    assert len(cbr) == 40 and carrier_payload(cbr) == (m, payload)


@pytest.mark.parametrize("frame_ms", [10, 30, 90, 140, "x", None])
def test_bad_frame_ms(frame_ms):
    with pytest.raises(CodecError):
        fmt.toc_config(frame_ms)


def test_latents_and_samples():
    assert [fmt.latents_per_packet(m) for m in (20, 40, 60, 120)] == [1, 2, 3, 6]
    assert [fmt.packet_samples(m) for m in (20, 40, 60)] == [320, 640, 960]
    assert fmt.packets_per_page(120) == 20 and fmt.packets_per_page(20) == 120


@pytest.mark.parametrize("text,bps", [("3k", 3000), ("1.5k", 1500), ("6K", 6000), ("2500", 2500), ("8k", 8000)])
def test_parse_bitrate(text, bps):
    assert fmt.parse_bitrate(text) == bps
    assert fmt.parse_bitrate(fmt.bitrate_name(bps)) == bps


@pytest.mark.parametrize("text", ["0.5k", "9k", "fast", ""])
def test_bad_bitrate(text):
    with pytest.raises(CodecError):
        fmt.parse_bitrate(text)


def test_ogg_input_is_refused():
    with pytest.raises(CodecError, match="mlcodec decode"):
        fmt.refuse_ogg_input(b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead")
    fmt.refuse_ogg_input(b"RIFF....WAVE")


@pytest.mark.parametrize("pkt", [
    bytes([0x48, 1, 2, 3]),                    # a real SILK packet without extensions
    bytes([0xFC, 0xFF, 0xFE]),                 # CELT FB stereo
    build_v1_packet(b"\x01", 20)[:1],          # TOC only (code 3 without count byte)
    b"",
])
def test_split_rejects_foreign_packets(pkt):
    with pytest.raises(CodecError):
        split_codec_packet(pkt)


def test_v2_tags_round_trip():
    info = fmt.StreamInfo("codec_v1", "0123456789abcdef", level=-1, frame_ms=120, bitrate="2.5k", delay=160,
                          format_version=2)
    tags = info.tags("mlcodec 0.1.0")
    assert tags[0] == "MLCODEC=2 codec_v1 0123456789abcdef 120 160 2.5k"
    assert tags[1].startswith("DESCRIPTION=") and "mlcodec decode" in tags[1]
    assert fmt.parse_stream_tags(tags) == info
    full = fmt.StreamInfo("codec_v1", "0123456789abcdef" * 4, level=-1, frame_ms=120, format_version=2)
    assert fmt.parse_stream_tags(full.tags()).model_checksum \
        == "0123456789abcdef"
    for bad in ("MLCODEC=3 m 00 120 160", "MLCODEC=4 m 00 120 160 3k 0011aabb", "MLCODEC=2 m zz 120 160", "MLCODEC=2 m 00 30 160", "MLCODEC=2"):
        with pytest.raises(CodecError):
            fmt.parse_stream_tags([bad])


def test_tags_round_trip():
    info = fmt.StreamInfo("codec_v1", "abc123", level=5, frame_ms=40, bitrate="3k", delay=123, format_version=1)
    tags = info.tags("mlcodec 0.1.0")
    assert "ENCODER=mlcodec 0.1.0" in tags
    assert fmt.parse_stream_tags(tags) == info
    # names are case-insensitive (Vorbis comments)
    assert fmt.parse_stream_tags([t.lower().split("=")[0] + "=" + t.split("=", 1)[1] for t in tags]) == info


@pytest.mark.parametrize("tags,msg", [
    ([], "not an mlcodec stream"),
    (["ENCODER=opusenc"], "not an mlcodec stream"),
    (["MLCODEC_FORMAT=3", "MLCODEC_MODEL_CHECKSUM=x", "MLCODEC_LEVEL=1"], "format version 3"),
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
    ok = fmt.StreamInfo("m", "abc", level=1, frame_ms=20, format_version=1)
    fmt.check_model(ok, _Model())
    with pytest.raises(CodecError, match="checksum"):
        fmt.check_model(fmt.StreamInfo("m", "zzz", level=1, frame_ms=20, format_version=1), _Model())
    with pytest.raises(CodecError, match="level"):
        fmt.check_model(fmt.StreamInfo("m", "abc", level=9, frame_ms=20, format_version=1), _Model())
    fmt.check_model(fmt.StreamInfo("m", "ab", level=-1, frame_ms=120, format_version=2), _Model())  # a prefix
    with pytest.raises(CodecError, match="checksum"):
        fmt.check_model(fmt.StreamInfo("m", "ac", level=-1, frame_ms=120, format_version=2), _Model())
    # format 3 also names the context tables: a model without them is refused
    with pytest.raises(CodecError, match="context tables"):
        fmt.check_model(fmt.StreamInfo("m", "ab", level=-1, frame_ms=120, format_version=3,
                                       ctx_checksum="0011aabb"), _Model())


def test_errors_are_mlcodec_errors():
    assert issubclass(CodecError, MlcodecError)
