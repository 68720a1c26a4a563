"""Every Opus decoder on the machine plays the format-v2 carrier stream as silence
(issue 10 item 2; docs/format-v2-research.md s1): peak <= -60 dBFS measured on the samples.

The stream is built from mlcodec/bitstream/carrier.py: code-3 packets of zero-length CELT FB
20 ms frames with the payload in the extension area, DTX packets without one, and (stream A)
the RFC 7845 output gain -32768 as a second layer. Stream B has gain 0, so the frames alone
must be silent. Stream C ends in a run of 1-byte SILK DTX packets (with the gain). Each decoder is skipped, with the reason, when it is not installed.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import silence_interop as si  # noqa: E402

from mlcodec.bitstream.carrier import build_carrier, build_silence, dtx_packet  # noqa: E402
from mlcodec.bitstream.packet import build_packet, parse_packet  # noqa: E402

LIMIT_DBFS = -60.0


#: 1-byte DTX packet: SILK WB 60 ms, code 1, two zero-length frames = 120 ms (format v2 s5)
SILK_DTX = build_packet(11, [b"", b""])
ONE_BYTE_DTX = {dtx_packet(20), dtx_packet(40), SILK_DTX}


def _stream(packet_ms: int, seconds: float, seed: int, silk_dtx: bool = False) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for k in range(int(seconds * 1000 / packet_ms)):
        if silk_dtx and k > 3:
            out.append(SILK_DTX)                                          # DTX: no payload
        elif k % 4 == 3:
            # DTX: 2-byte CELT code 3 at 120 ms; 1-byte CELT code 0 (20 ms) / code 1 (40 ms)
            out.append(build_silence(packet_ms) if packet_ms == 120 else
                       dtx_packet(20) if k % 8 == 3 else dtx_packet(40))
        else:
            out.append(build_carrier(packet_ms, [rnd.randbytes(rnd.randrange(8, 80))], si.EXT_ID,
                                     frame="celtlost"))
    return out


STREAMS = {
    "120ms+gain": (_stream(120, 1.2, 1), -32768),
    "20ms,no gain": (_stream(20, 0.6, 2), 0),
    "120ms+1-byte SILK DTX run+gain": (_stream(120, 2.4, 3, silk_dtx=True), -32768),
}


def test_streams_are_what_they_claim():
    assert SILK_DTX == b"\x59" and parse_packet(SILK_DTX).duration_ms == 120
    assert [parse_packet(dtx_packet(ms)).duration_ms for ms in (20, 40, 60, 80, 100, 120)] == \
        [20, 40, 60, 80, 100, 120]
    assert dtx_packet(120) == SILK_DTX and dtx_packet(20) == b"\xb8" and dtx_packet(40) == b"\xb9"
    for packets, _ in STREAMS.values():
        assert parse_packet(packets[0]).toc.mode == "CELT"       # a CELT carrier comes first
        for p in packets:
            pk = parse_packet(p)
            assert set(pk.frame_lengths) == {0}
            assert (pk.toc.mode == "CELT" and pk.code == 3) or p in ONE_BYTE_DTX


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    """Real ``mlcodec encode`` outputs (issue 10 item 6): speech at 3k with the default 120 ms
    packets, and a noise burst between silences at 1.5k with 20 ms packets (DTX packets of
    every kind the encoder makes), as (name, ogg bytes, opus_demo .bit bytes)."""
    import os
    import subprocess

    from mlcodec.containers.ogg import read_packets

    d = tmp_path_factory.mktemp("real")
    out = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name, src, args in (("speech 3k 120ms", "speech_en.flac", []),
                            ("noise+silence 1.5k 20ms", "noise_silence.flac", ["-b", "1.5k", "--frame-ms", "20"])):
        dst = d / (src + ".opus")
        subprocess.run([sys.executable, "-m", "cli.main", "encode", *args, str(ROOT / "test_vectors" / "inputs" / src),
                        str(dst)], check=True, capture_output=True, env=env, cwd=ROOT)
        data = dst.read_bytes()
        import io

        packets = [p.data for p in read_packets(io.BytesIO(data))][2:]  # audio packets
        out.append((name, data, si.bit_bytes(packets)))
    return out


@pytest.mark.parametrize("decoder", list(si.decoders()))
def test_decodes_to_silence(decoder, real_files):
    _, why = si.decoders()[decoder]
    if why:
        pytest.skip(why)
    files = [(si.ogg_bytes(p, g), si.bit_bytes(p)) for p, g in STREAMS.values()]
    files += [(o, b) for _, o, b in real_files]
    names = list(STREAMS) + [f"mlcodec encode output ({n})" for n, _, _ in real_files]
    peaks = si.decode_peaks(decoder, files)
    for name, peak in zip(names, peaks):
        assert peak <= LIMIT_DBFS, f"{decoder} plays {name} at {peak:.1f} dBFS"


def test_real_files_use_the_silent_packets(real_files):
    """The encoder's packets are the measured silent kinds: CELT carriers, 1-2 byte DTX packets."""
    import io

    from mlcodec.containers.ogg import read_packets

    kinds = set()
    for _, data, _ in real_files:
        packets = [p.data for p in read_packets(io.BytesIO(data))][2:]
        assert parse_packet(packets[0]).toc.mode == "CELT"
        for p in packets:
            pk = parse_packet(p)
            assert set(pk.frame_lengths) == {0}
            kinds.add("carrier" if pk.code == 3 and pk.padding else "dtx")
            assert (pk.toc.mode == "CELT" and pk.code == 3) or len(p) <= 2
    assert kinds == {"carrier", "dtx"}


def test_the_measurement_can_fail():
    """The check is real: ffmpeg's native decoder plays v1-style zero-length SILK frames loud."""
    _, why = si.decoders()["ffmpeg native"]
    if why:
        pytest.skip(why)
    packets = si.candidate_packets("lost", 20, 0.4)
    assert si.decode_peak("ffmpeg native", si.ogg_bytes(packets), si.bit_bytes(packets)) > LIMIT_DBFS
