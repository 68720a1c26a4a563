#!/usr/bin/env python3
"""Make ``mlcodec/samples/sample.opus``: the shipped demo stream for ``inspect-extensions``.

1. Encode ``mlcodec/samples/sample.flac`` (espeak-ng speech, 8 s) with Debian's ``opusenc``
   (SILK WB, 12 kbit/s, 20 ms packets, stream serial 1).
2. Re-packetize every audio packet with mlcodec's own packet builder so that some carry
   extensions in their padding: ID 33 (a long extension: a UTF-8 text label) on every 4th
   packet, ID 3 (a short extension: a one-byte counter) on frame 0 of every 10th packet, and
   plain zero padding added to every 25th packet.
3. Re-write the Ogg Opus file with mlcodec's writer, keeping every packet's granule position,
   the pre-skip, the end trimming and the OpusTags (plus one comment saying what was done).

Usage: python scripts/make_sample_opus.py [--flac IN] [--out OUT]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcodec.bitstream.extensions import Extension  # noqa: E402
from mlcodec.bitstream.packet import build_packet, packet_extensions, parse_packet  # noqa: E402
from mlcodec.containers.oggopus import OggOpusWriter, OpusTags, read_ogg_opus  # noqa: E402

#: A long extension ID (32..127) with no registered meaning: the demo label.
DEMO_LONG_ID = 33
#: A short extension ID (3..31): a 0/1-byte payload.
DEMO_SHORT_ID = 3


def repacketize(data: bytes, index: int) -> bytes:
    """Same frames, with the demo extensions / padding for packet ``index``."""
    pkt = parse_packet(data)
    exts = list(packet_extensions(pkt))
    if index % 4 == 0:
        exts.append(Extension(0, DEMO_LONG_ID, f"mlcodec demo packet {index}".encode()))
    if index % 10 == 0:
        exts.append(Extension(0, DEMO_SHORT_ID, bytes([index // 10 & 0xFF])))
    pad_to = None
    if index % 25 == 0:
        pad_to = len(build_packet(pkt.toc.config, pkt.frames, stereo=pkt.toc.stereo, extensions=exts,
                                  force_code3=True)) + 8
    if not exts and pad_to is None:
        return data
    return build_packet(pkt.toc.config, list(pkt.frames), stereo=pkt.toc.stereo, extensions=exts,
                        pad_to=pad_to, force_code3=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flac", default=str(ROOT / "mlcodec" / "samples" / "sample.flac"))
    ap.add_argument("--out", default=str(ROOT / "mlcodec" / "samples" / "sample.opus"))
    args = ap.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        enc = Path(tmp) / "opusenc.opus"
        subprocess.run(["opusenc", "--quiet", "--speech", "--bitrate", "12", "--serial", "1",
                        args.flac, str(enc)], check=True)
        reader = read_ogg_opus(enc)
        packets = list(reader.packets())
        tags = OpusTags(reader.tags.vendor, reader.tags.comments + (
            "COMMENT=re-packetized by mlcodec scripts/make_sample_opus.py: demo extensions "
            f"ID {DEMO_LONG_ID} (every 4th packet) and ID {DEMO_SHORT_ID} (every 10th), "
            "zero padding (every 25th)",), reader.tags.extra)
        fd, tmp_out = tempfile.mkstemp(dir=out.parent, prefix=".sample-", suffix=".opus")
        try:
            with os.fdopen(fd, "wb") as f:
                w = OggOpusWriter(f, head=reader.head, tags=tags, serial=reader.serial)
                for p in packets:
                    w.write_packet(repacketize(p.data, p.index), p.granule)
                # The last page's granule is the trimmed end (RFC 7845 §4 end trimming).
                w.close(final_granule=packets[-1].pcm_end + reader.head.pre_skip)
            os.replace(tmp_out, out)
        except BaseException:
            os.unlink(tmp_out)
            raise
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(packets)} packets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
