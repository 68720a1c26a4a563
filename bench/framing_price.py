"""Framing price of format v2 by packet duration, measured on real Ogg Opus files
(issue 10 item 1; docs/format-v2-research.md s3).

    PYTHONPATH=$PWD /work/venv/bin/python bench/framing_price.py [--seconds 60]

For each packet duration (20..120 ms) and Ogg page policy (a page per ~1 s, a page per
packet) it muxes carrier packets (mlcodec/bitstream/carrier.py, zero-length CELT frames, one
payload in frame 0's ID-122 extension) with our Ogg writer and reports the whole-file
overhead beyond the payload bytes, in kb/s, next to the model
``(4 B carrier + lacing) per packet + (27 B + segments) per page``. Also: v1's layout for
comparison, the v2 headers, and a 10 s digital-silence file (DTX packets only).
"""
from __future__ import annotations

import argparse
import io
import random

from mlcodec.bitstream.carrier import build_carrier, build_silence
from mlcodec.containers.oggopus import OggOpusWriter

EXT_ID = 122
#: The recommended v2 comment header (docs/format-v2-research.md s4.1).
V2_TAGS = {
    "MLCODEC_FORMAT": "2",
    "MLCODEC_MODEL": "codec_v1",
    "MLCODEC_MODEL_CHECKSUM": "0123456789abcdef",
    "MLCODEC_FRAME_MS": "120",
    "MLCODEC_DELAY": "160",
    "MLCODEC_BITRATE": "3k",
    "DESCRIPTION": "mlcodec neural speech; other players play silence; decode: mlcodec decode",
}
V2_VENDOR = "mlcodec 2"


def mux(packets, *, page_ms: int, tags=V2_TAGS, gain: int = -32768) -> tuple[int, int]:
    """(file bytes, header bytes) of the packets in an Ogg Opus file."""
    buf = io.BytesIO()
    w = OggOpusWriter(buf, channels=1, input_sample_rate=16000, pre_skip=480, serial=1,
                      output_gain=gain, tags=tags, vendor=V2_VENDOR,
                      max_page_samples=page_ms * 48, page_bytes=1 << 20)
    head = buf.tell()
    for p in packets:
        w.write_packet(p)
    w.close()
    return buf.tell(), head


def payload_sizes(seconds: float, packet_ms: int, kbps: float, seed: int = 3) -> list[int]:
    """Payload bytes per packet for a payload rate (+-30 % jitter, like VBR speech)."""
    rnd = random.Random(seed)
    n = int(round(seconds * 1000 / packet_ms))
    mean = kbps * packet_ms / 8
    return [max(1, int(round(mean * rnd.uniform(0.7, 1.3)))) for _ in range(n)]


def v1_packet(payload: bytes, packet_ms: int) -> bytes:
    """v1 layout: one zero-length SILK frame (20/40/60 ms), version byte + payload in ID 122."""
    from mlcodec.bitstream.carrier import build_carrier as bc
    return bc(packet_ms, [b"\x01" + payload], EXT_ID, frame="lost")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--payload-kbps", type=float, default=2.5)
    args = ap.parse_args(argv)
    T = args.seconds
    print(f"# {T:g} s files, payload {args.payload_kbps} kb/s (range-coder bytes only); "
          "overhead = (file - headers - payload) * 8 / T\n")
    print("| packet ms | latency ms | carrier+lacing B/packet | pages ~1 s: kb/s (model) | "
          "pages ~2.4 s: kb/s | page per packet: kb/s | v1 layout, pages ~1 s: kb/s |")
    print("|---|---|---|---|---|---|---|")
    heads = None
    for ms in (20, 40, 60, 80, 100, 120):
        sizes = payload_sizes(T, ms, args.payload_kbps)
        pay = sum(sizes)
        pk = [build_carrier(ms, [bytes([0x5A]) * s], EXT_ID, frame="celtlost") for s in sizes]
        per_pk = sum(len(p) - s + (len(p) // 255 + 1) for p, s in zip(pk, sizes)) / len(pk)
        tot, heads = mux(pk, page_ms=1000)
        over = (tot - heads - pay) * 8 / T / 1000
        npages = -(-len(pk) * ms // 1000)
        model = (len(pk) * per_pk + npages * 27) * 8 / T / 1000
        tot24, _ = mux(pk, page_ms=2400)
        over24 = (tot24 - heads - pay) * 8 / T / 1000
        tot2, _ = mux(pk, page_ms=1)
        over2 = (tot2 - heads - pay) * 8 / T / 1000
        v1 = ""
        if ms in (20, 40, 60):
            pk1 = [v1_packet(bytes([0x5A]) * s, ms) for s in sizes]
            t1, h1 = mux(pk1, page_ms=1000)
            v1 = f"{(t1 - h1 - pay) * 8 / T / 1000:.3f}"
        print(f"| {ms} | {ms + 30} | {per_pk:.2f} | {over:.3f} ({model:.3f}) | {over24:.3f} | {over2:.3f} | {v1} |")
    print(f"\nv2 headers (OpusHead + OpusTags pages, tags {list(V2_TAGS)}): **{heads} bytes**\n")
    from mlcodec.bitstream.packet import build_packet
    first = build_carrier(120, [b"\x5a" * 10], EXT_ID, frame="celtlost")
    for name, dtx in (("CELT code 3 `FB 06`", build_silence(120)),
                      ("SILK 60 ms code 1 `59`", build_packet(11, [b"", b""]))):
        sil = [first] + [dtx] * 83
        for page_ms in (2400, 10000):
            tot, h = mux(sil, page_ms=page_ms)
            print(f"10 s digital silence, 120 ms DTX packets {name} ({len(dtx)} B), pages of {page_ms} ms: "
                  f"file {tot} B = **{tot * 8 / 10 / 1000:.3f} kb/s** whole file; "
                  f"without headers {(tot - h) * 8 / 10 / 1000:.3f} kb/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
