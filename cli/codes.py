"""``mlcodec codes IN.opus -o OUT.npy|OUT.npz|-``: the quantized latents of a stream, for
machine learning (``mlcodec.read_codes``). ``-`` writes JSON Lines, one 20 ms frame a line."""
from __future__ import annotations

import json

import click

from .common import check_std_streams, display_name, guarded


def json_lines(codes):
    """One JSON object per frame: index, time (s), quantizer level and the integer codes."""
    for i, (row, lv) in enumerate(zip(codes.codes.tolist(), codes.level.tolist())):
        yield json.dumps({"frame": i, "t": round(i / codes.frame_rate, 6), "level": lv, "codes": row},
                         separators=(",", ":"))


@click.command("codes")
@click.argument("src", metavar="IN.opus")
@click.option("-o", "--output", "dst", required=True, metavar="OUT.npy|OUT.npz|-",
              help="OUT.npy: the int32 frames x dims array; OUT.npz: codes, level, frame_rate, samples "
                   "and the stream's model and preset; -: JSON Lines on stdout.")
@guarded
def codes(src, dst):
    """Write the quantized latents of an mlcodec stream (- = stdin) for machine learning."""
    import numpy as np

    from mlcodec import read_codes
    from mlcodec.io.atomic import atomic_write
    from mlcodec.io.stdio import stdin

    check_std_streams(src, None)
    c = read_codes(stdin() if src == "-" else src)
    if dst == "-":
        for line in json_lines(c):
            click.echo(line)
        return
    if dst.endswith(".npy"):
        with atomic_write(dst, suffix=".npy") as f:
            np.save(f, c.codes)
    elif dst.endswith(".npz"):
        with atomic_write(dst, suffix=".npz") as f:
            np.savez(f, codes=c.codes, level=c.level, frame_rate=c.frame_rate, samples=c.samples,
                     model_checksum=c.model_checksum, model_name=c.model_name, preset=c.preset,
                     frame_ms=c.frame_ms, delay=c.delay)
    else:
        raise click.UsageError(f"{dst}: give an output ending in .npy or .npz, or - for JSON Lines")
    click.echo(f"{display_name(src)}: {c.codes.shape[0]} frames x {c.codes.shape[1]} codes ({c.frame_rate:g} frames/s, "
               f"preset {c.preset or '?'}) -> {dst}", err=True)
