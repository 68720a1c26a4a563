"""Every Opus decoder on the machine plays the format-v2 carrier stream as silence
(issue 10 item 2; docs/format-v2-research.md s1): peak <= -60 dBFS measured on the samples.

The stream is built from mlcodec/bitstream/carrier.py: code-3 packets of zero-length CELT FB
20 ms frames with the payload in the extension area, DTX packets without one, and (stream A)
the RFC 7845 output gain -32768 as a second layer. Stream B has gain 0, so the frames alone
must be silent. Each decoder is skipped, with the reason, when it is not installed.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import silence_interop as si  # noqa: E402

from mlcodec.bitstream.carrier import build_carrier, build_silence  # noqa: E402
from mlcodec.bitstream.packet import parse_packet  # noqa: E402

LIMIT_DBFS = -60.0


def _stream(packet_ms: int, seconds: float, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for k in range(int(seconds * 1000 / packet_ms)):
        if k % 4 == 3:
            out.append(build_silence(packet_ms))                 # DTX packet: no payload
        else:
            out.append(build_carrier(packet_ms, [rnd.randbytes(rnd.randrange(8, 80))], si.EXT_ID,
                                     frame="celtlost"))
    return out


STREAMS = {
    "120ms+gain": (_stream(120, 1.2, 1), -32768),
    "20ms,no gain": (_stream(20, 0.6, 2), 0),
}


def test_streams_are_what_they_claim():
    for packets, _ in STREAMS.values():
        for p in packets:
            pk = parse_packet(p)
            assert pk.toc.mode == "CELT" and pk.code == 3 and set(pk.frame_lengths) == {0}


@pytest.mark.parametrize("decoder", list(si.decoders()))
@pytest.mark.parametrize("stream", list(STREAMS))
def test_decodes_to_silence(decoder, stream):
    _, why = si.decoders()[decoder]
    if why:
        pytest.skip(why)
    packets, gain = STREAMS[stream]
    peak = si.decode_peak(decoder, si.ogg_bytes(packets, gain), si.bit_bytes(packets))
    assert peak <= LIMIT_DBFS, f"{decoder} plays {stream} at {peak:.1f} dBFS"


def test_the_measurement_can_fail():
    """The check is real: ffmpeg's native decoder plays v1-style zero-length SILK frames loud."""
    _, why = si.decoders()["ffmpeg native"]
    if why:
        pytest.skip(why)
    packets = si.candidate_packets("lost", 20, 0.4)
    assert si.decode_peak("ffmpeg native", si.ogg_bytes(packets), si.bit_bytes(packets)) > LIMIT_DBFS
