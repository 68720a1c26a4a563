"""``mlcodec encode``, ``mlcodec decode`` and ``mlcodec demo``: thin layers over mlcodec.codec.

Single file: ``encode IN OUT.opus`` / ``decode IN.opus OUT.wav`` (``-`` = stdin/stdout).
Several files: ``encode A.wav B.flac -o DIR [-j N]`` writes DIR/A.opus, DIR/B.opus.
A rich progress bar is shown on a terminal (stderr); the bit-rate summary is printed at the
end (on stdout, or on stderr when stdout carries the audio/stream).
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import click

from cli.common import fail, guarded
from mlcodec.errors import MlcodecError

BITRATES = ("1.5k", "3k", "6k")
FRAME_MS = ("20", "40", "60")
RATES = ("16000", "48000")
VOCODERS = ("auto", "neural", "reference")

_MODELS: dict = {}


def _model(path: str | None):
    """Load a model once per process (the shipped one when ``path`` is None)."""
    if path not in _MODELS:
        from mlcodec.codec.model import load_model

        _MODELS[path] = load_model(path)
    return _MODELS[path]


def _info_echo(msg: str, to_stderr: bool) -> None:
    click.echo(msg, err=to_stderr)


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # pragma: no cover
        return False


def _summary(kind: str, st) -> str:
    speed = f"{st.speed:.0f}x real time" if st.seconds > 0 else ""
    if kind == "encode":
        return (f"{st.input} -> {st.output}: {st.duration:.2f} s, preset {st.bitrate}, "
                f"{st.frame_ms} ms packets: payload {st.payload_kbps:.2f} kb/s, "
                f"whole file {st.file_kbps:.2f} kb/s ({st.file_bytes} bytes), {speed}")
    return (f"{st.input} -> {st.output}: {st.duration:.2f} s decoded; stream preset {st.bitrate or '?'}: "
            f"payload {st.payload_kbps:.2f} kb/s, whole file {st.file_kbps:.2f} kb/s, {speed}")


def _run_one(kind: str, src: str, dst: str, opts: dict, progress=None):
    from mlcodec.codec.pipeline import decode_file, encode_file
    from mlcodec.fileio import check_overwrite

    if kind == "encode":
        check_overwrite(src, dst, (b"OggS",), "an Ogg file")
    else:
        check_overwrite(src, dst, (b"RIFF", b"RF64"), "a WAV file")
    model = _model(opts.get("model"))
    if kind == "encode":
        return encode_file(src, dst, model=model, bitrate=opts["bitrate"], frame_ms=opts["frame_ms"],
                           fixed_point=opts["fixed_point"], serial=opts.get("serial"), progress=progress)
    return decode_file(src, dst, rate=opts["rate"], model=model, fixed_point=opts["fixed_point"],
                       vocoder=opts.get("vocoder", "auto"), progress=progress)


def _worker(kind: str, src: str, dst: str, opts: dict):
    """Process-pool entry: (stats or None, error line or None); never raises for bad input."""
    try:
        return _run_one(kind, src, dst, opts), None
    except MlcodecError as exc:
        return getattr(exc, "stats", None), str(exc)
    except OSError as exc:
        return None, f"{getattr(exc, 'filename', None) or src}: {exc.strerror or exc}"


def _single(kind: str, src: str, dst: str, opts: dict) -> None:
    data_on_stdout = dst == "-"
    if _is_tty() and src != "-":
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"{kind} {os.path.basename(src)}", total=None)

            def progress(done, total):
                bar.update(task, completed=done, total=total)

            st = _run_one(kind, src, dst, opts, progress)
    else:
        st = _run_one(kind, src, dst, opts)
    _info_echo(_summary(kind, st), data_on_stdout)


def _many(kind: str, inputs: tuple[str, ...], outdir: str, jobs: int, opts: dict) -> None:
    suffix = ".opus" if kind == "encode" else ".wav"
    if "-" in inputs:
        fail("'-' (stdin) cannot be used with -o DIR")
    os.makedirs(outdir, exist_ok=True)
    pairs = []
    seen = set()
    for src in inputs:
        dst = os.path.join(outdir, Path(src).stem + suffix)
        if dst in seen:
            fail(f"{src}: two inputs map to the same output {dst}")
        seen.add(dst)
        pairs.append((src, dst))
    errors = 0
    stats = []
    show_bar = _is_tty()

    def report(st, err):
        nonlocal errors
        if err:
            errors += 1
            click.echo(f"mlcodec: error: {err}", err=True)
        if st is not None and not err:
            stats.append(st)
            click.echo(_summary(kind, st))

    bar_ctx = None
    if show_bar:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar_ctx = Progress(TextColumn(f"{kind}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=True)
    try:
        if bar_ctx:
            bar_ctx.start()
            task = bar_ctx.add_task(kind, total=len(pairs))
        if jobs <= 1 or len(pairs) == 1:
            for src, dst in pairs:
                report(*_worker(kind, src, dst, opts))
                if bar_ctx:
                    bar_ctx.advance(task)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futs = [pool.submit(_worker, kind, src, dst, opts) for src, dst in pairs]
                for fut in as_completed(futs):
                    report(*fut.result())
                    if bar_ctx:
                        bar_ctx.advance(task)
    finally:
        if bar_ctx:
            bar_ctx.stop()
    if len(stats) > 1:
        dur = sum(s.duration for s in stats)
        pay = sum(s.payload_bytes for s in stats) * 8 / dur / 1000 if dur else 0
        whole = sum(s.file_bytes for s in stats) * 8 / dur / 1000 if dur else 0
        click.echo(f"total: {len(stats)} files, {dur:.2f} s: payload {pay:.2f} kb/s, whole file {whole:.2f} kb/s")
    if errors:
        raise SystemExit(1)


def _dispatch(kind: str, paths: tuple[str, ...], outdir: str | None, jobs: int, opts: dict) -> None:
    if outdir:
        if not paths:
            fail("no input files")
        _many(kind, paths, outdir, jobs, opts)
        return
    if len(paths) != 2:
        what = "IN OUT.opus" if kind == "encode" else "IN.opus OUT.wav"
        fail(f"{kind} takes {what} (or several inputs with -o DIR); got {len(paths)} path(s)", 2)
    _single(kind, paths[0], paths[1], opts)


_common = [
    click.option("-o", "--output-dir", "outdir", type=click.Path(file_okay=False),
                 help="Write one output per input into DIR (several inputs)."),
    click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Worker processes for several inputs."),
    click.option("--model", "model", type=click.Path(dir_okay=False), default=None,
                 help="Model blob (default: the shipped mlcodec/models/codec_v1.bin)."),
    click.option("--float", "float_path", is_flag=True, help="Run the networks in float instead of int8."),
]


def _with_common(f):
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.command("encode")
@click.argument("paths", nargs=-1, metavar="IN [OUT.opus] | IN... -o DIR")
@click.option("-b", "--bitrate", type=click.Choice(BITRATES), default="3k", show_default=True,
              help="Bit-rate preset (quantizer level of the latent payload).")
@click.option("--frame-ms", type=click.Choice(FRAME_MS), default="20", show_default=True,
              help="Packet duration in ms.")
@click.option("--serial", type=click.IntRange(0, 0xFFFFFFFF), default=None,
              help="Ogg serial number (default: random); fixing it makes the output reproducible.")
@_with_common
@guarded
def encode(paths, bitrate, frame_ms, serial, outdir, jobs, model, float_path):
    """Encode speech (any format/rate soundfile reads; - = stdin) into an mlcodec .opus file."""
    _dispatch("encode", paths, outdir, jobs,
              {"bitrate": bitrate, "frame_ms": int(frame_ms), "model": model, "fixed_point": not float_path,
               "serial": serial})


@click.command("decode")
@click.argument("paths", nargs=-1, metavar="IN.opus [OUT.wav] | IN.opus... -o DIR")
@click.option("-r", "--rate", type=click.Choice(RATES), default="16000", show_default=True,
              help="Output sample rate.")
@click.option("--vocoder", type=click.Choice(VOCODERS), default="auto", show_default=True,
              help="auto: the vocoder that measures better (today: reference; see docs/benchmarks.md).")
@_with_common
@guarded
def decode(paths, rate, vocoder, outdir, jobs, model, float_path):
    """Decode an mlcodec .opus file (- = stdin) to 16-bit WAV (- = stdout, streamed)."""
    _dispatch("decode", paths, outdir, jobs,
              {"rate": int(rate), "model": model, "fixed_point": not float_path, "vocoder": vocoder})


def sample_path() -> Path:
    """The shipped speech sample (generated with espeak-ng)."""
    import mlcodec

    return Path(mlcodec.__file__).resolve().parent / "samples" / "sample.flac"


@click.command("demo")
@click.argument("outdir", required=False, default="mlcodec-demo", metavar="[DIR]")
@click.option("-b", "--bitrate", type=click.Choice(BITRATES), default="3k", show_default=True)
@click.option("--vocoder", type=click.Choice(VOCODERS), default="auto", show_default=True,
              help="auto: the vocoder that measures better (today: reference; see docs/benchmarks.md).")
@guarded
def demo(outdir, bitrate, vocoder):
    """Encode and decode the shipped sample with the shipped model into DIR (./mlcodec-demo)."""
    from mlcodec.codec.pipeline import decode_file, encode_file
    from mlcodec.dsp.audio import read_audio, write_audio

    src = sample_path()
    os.makedirs(outdir, exist_ok=True)
    ref = os.path.join(outdir, "sample-input.wav")
    enc_path = os.path.join(outdir, f"sample-{bitrate}.opus")
    dec_path = os.path.join(outdir, f"sample-{bitrate}-decoded.wav")
    write_audio(ref, read_audio(src))
    from mlcodec.codec.pipeline import AUTO_VOCODER

    model = _model(None)
    es = encode_file(src, enc_path, model=model, bitrate=bitrate)
    decode_file(enc_path, dec_path, model=model, vocoder=vocoder)
    voc = {"neural": "neural vocoder", "reference": "reference synthesizer"}[
        AUTO_VOCODER if vocoder == "auto" else vocoder]
    click.echo(f"model {getattr(model, 'name', '?')} (checksum {model.checksum[:16]}...), preset {bitrate}, {voc}")
    click.echo(f"encoded {es.duration:.2f} s of speech: payload {es.payload_kbps:.2f} kb/s, "
               f"whole file {es.file_kbps:.2f} kb/s ({es.file_bytes} bytes, {es.packets} packets of 20 ms)")
    click.echo(f"input:   {ref}")
    click.echo(f"stream:  {enc_path}   (plays as silence in other Opus players; see docs/format.md)")
    click.echo(f"decoded: {dec_path}")


COMMANDS = [encode, decode, demo]
