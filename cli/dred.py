"""``mlcodec dred``: speech back out of the DRED redundancy of a libopus stream.

A thin skin over :mod:`mlcodec.libopus.dred_decode` (docs/libopus.md, "Speech out of DRED"):
``--packet N`` (what packet N's DRED carries), ``--gap K:L`` (packets K-L..K-1 concealed from
packet K's DRED) or ``--all`` (the default: the whole stream from redundancy alone). Audio is
16 kHz 16-bit WAV; ``--features`` writes the features as raw float32 (frames x 20).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .common import check_std_streams, display_name, guarded


def _parse_gap(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split(":"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not K:L (two integers)", param_hint="--gap") from None
    if n < 1 or k - n < 0:
        raise click.BadParameter(f"{text!r}: need L >= 1 and K - L >= 0", param_hint="--gap")
    return k, n


@click.command("dred")
@click.argument("src", metavar="IN")
@click.option("-o", "--output", "out", required=True, metavar="OUT.wav", help="16 kHz WAV (- = stdout).")
@click.option("--packet", type=click.IntRange(0), default=None, metavar="N",
              help="All the speech packet N's DRED carries, oldest first.")
@click.option("--gap", default=None, metavar="K:L",
              help="Lose packets K-L..K-1 and conceal them from packet K's DRED, as libopus does.")
@click.option("--all", "all_", is_flag=True,
              help="The whole stream from DRED alone: each 10 ms from the first later packet that covers it (default).")
@click.option("--features", default=None, metavar="OUT.f32", help="Also write the features (float32, frames x 20).")
@click.option("--history", default=None, metavar="DECODED",
              help="--gap: the stream decoded without loss (any audio file), for FARGAN's warm start.")
@click.option("--splice", is_flag=True, help="--gap: write the history with the gap replaced (needs --history).")
@click.option("--json", "as_json", is_flag=True, help="Print what was decoded as one JSON object.")
@guarded
def dred(src, out, packet, gap, all_, features, history, splice, as_json):
    """Decode the DRED of a libopus stream (.bit, Ogg Opus, raw; - = stdin) to speech and features."""
    if sum([packet is not None, gap is not None, all_]) > 1:
        raise click.UsageError("choose one of --packet, --gap and --all")
    if (history or splice) and gap is None:
        raise click.UsageError("--history and --splice go with --gap")
    if splice and not history:
        raise click.UsageError("--splice needs --history")
    gap = _parse_gap(gap) if gap is not None else None
    check_std_streams(src, out, "audio")
    if features == "-" and out == "-":
        raise click.UsageError("--features and -o cannot both be stdout")

    import numpy as np

    from mlcodec.containers.detect import open_input
    from mlcodec.dsp.audio import read_audio
    from mlcodec.io.atomic import AtomicOutput
    from mlcodec.io.wav import WavWriter
    from mlcodec.libopus.dred_decode import DredSpeech, collect

    hist = read_audio(history, file=display_name(history)) if history else None
    ds = DredSpeech.installed()
    name = display_name(src)
    stream = sys.stdin.buffer if src == "-" else src
    with open_input(stream, name=name) as inp, AtomicOutput(out, suffix=".wav") as a, \
            AtomicOutput(features if features else os.devnull, suffix=".f32") as fo:
        w = WavWriter(a.f, 16000)
        if packet is not None:
            sp = ds.packet_speech(collect(ds.read(inp), packet, keep=1)[-1])
            info = {"mode": "packet", "packet": packet, **sp.to_json()}
            text = (f"packet {packet}: {sp.latents} latents, {len(sp.audio) / 16:g} ms of speech "
                    f"from {sp.start / 16000:.3f} s")
        elif gap is not None:
            k, n = gap
            pk = collect(ds.read(inp), k, keep=n + 1)
            sp = ds.gap_speech(pk[:-1], pk[-1], hist)
            info = {"mode": "gap", "packet": k, "lost": [k - n, k - 1], **sp.to_json()}
            text = (f"packets {k - n}-{k - 1} ({len(sp.audio) / 16:g} ms from {sp.start / 16000:.3f} s) "
                    f"concealed from packet {k}'s DRED ({sp.latents} latents)")
        else:
            sp, slots, covered = None, 0, 0
            for f, y in ds.stream_speech(ds.read(inp)):
                fo.f.write(f.astype("<f4").tobytes())
                w.write(y)
                slots += len(f)
                covered += int((f[:, 0] == f[:, 0]).sum())
            info = {"mode": "all", "samples": w.frames, "slots": slots, "covered_slots": covered}
            text = (f"{w.frames / 16000:.3f} s: {covered} of {slots} 10 ms slots from DRED "
                    f"({100 * covered / max(1, slots):.1f} %)")
        if sp is not None:
            audio = sp.audio
            if splice:
                h = hist.copy()
                if len(h) < sp.start + len(audio):
                    h = np.pad(h, (0, sp.start + len(audio) - len(h)))
                h[sp.start:sp.start + len(audio)] = audio
                audio = h
            fo.f.write(sp.features.astype("<f4").tobytes())
            w.write(audio)
        w.close()
    stream_out = sys.stderr if out == "-" or features == "-" else sys.stdout
    if as_json:
        click.echo(json.dumps({"file": name, **info}), file=stream_out)
    else:
        click.echo(f"{name}: {text} -> {display_name(out, '<stdout>')}", file=stream_out)


COMMANDS = [dred]
