"""``mlcodec encode``, ``mlcodec decode`` and ``mlcodec demo``: a thin skin over the library.

Single file: ``encode IN OUT.opus`` / ``decode IN.opus OUT.wav`` (``-`` = stdin/stdout).
Several files: ``encode A.wav B.flac -o DIR [-j N]`` writes DIR/A.opus, DIR/B.opus
(``cli/batch.py`` runs them). A rich progress bar is shown on a terminal (stderr); the
bit-rate summary (``cli/report.py``) is printed at the end (on stdout, or on stderr when stdout
carries the audio/stream). What to do is an options dataclass (``cli/options.py``).
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from . import report
from .common import EXIT_USAGE, STDOUT_NAME, WRITE_ERRNOS, check_std_streams, display_name, error_line, fail, guarded
from .options import DecodeOptions, EncodeOptions, load_model
from mlcodec.errors import MlcodecError

from mlcodec.codec import format as fmt  # noqa: E402  (the sole owner of presets and rates)
from mlcodec.codec.vocoders import VOCODERS  # noqa: E402
from mlcodec.codec.conceal import CONCEALERS  # noqa: E402

BITRATES = fmt.BITRATE_PRESETS
FRAME_MS = tuple(map(str, fmt.FRAME_MS_CHOICES))
RATES = tuple(map(str, fmt.OUTPUT_RATES))


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # pragma: no cover
        return False


def _name_os_error(exc: OSError, src: str, dst: str) -> OSError:
    """Give a nameless OSError (a write to an open file, a read from one) the file it is
    about: the output for disk-full style errors, else the input."""
    if exc.filename is None:
        exc.filename = display_name(dst, STDOUT_NAME) if exc.errno in WRITE_ERRNOS else display_name(src)
    return exc


def _run_one(opts, src: str, dst: str, progress=None):
    from mlcodec.io.atomic import check_overwrite

    if src != "-":
        # Name an unreadable input plainly (libsndfile would say only "System error").
        try:
            open(src, "rb").close()
        except (FileNotFoundError, IsADirectoryError):
            pass  # the library's own words ("no such file", "is a directory")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, src) from None
    check_overwrite(src, dst, opts.magic, opts.output_kind, "several inputs? use -o DIR")
    return opts.run(src, dst, progress)


def code_one(opts, src: str, dst: str, progress=None):
    """One input of a batch: (stats or None, error line or None); never raises for bad input."""
    try:
        return _run_one(opts, src, dst, progress), None
    except MlcodecError as exc:
        return getattr(exc, "stats", None), error_line(exc)
    except OSError as exc:
        return None, error_line(_name_os_error(exc, src, dst))


def _compiling_notice(opts) -> bool:
    """Say on stderr that this first run compiles the kernels (so its time is not a speed)."""
    from mlcodec import kernels_cached

    if kernels_cached(opts.kernels):
        return False
    click.echo("mlcodec: compiling kernels (first run only)\u2026", err=True)
    return True


def _single(opts, src: str, dst: str) -> None:
    from .batch import remove_temp_outputs

    try:
        compiled = _compiling_notice(opts)
        if _is_tty() and src != "-":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(f"{opts.kind} {os.path.basename(src)}", total=None)

                def progress(done, total):
                    bar.update(task, completed=done, total=total)

                st = _run_one_named(opts, src, dst, progress)
        else:
            st = _run_one_named(opts, src, dst)
        if dst == "-":
            sys.stdout.buffer.flush()
    except KeyboardInterrupt:
        remove_temp_outputs([dst])
        raise
    click.echo(report.summary(opts.kind, st, compiled), err=dst == "-")


def _run_one_named(opts, src: str, dst: str, progress=None):
    try:
        return _run_one(opts, src, dst, progress)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _name_os_error(exc, src, dst)


def _skip_check(opts):
    """For ``--skip-existing``: ``done(dst) -> stats or None`` (None: encode it), proving an
    existing output complete and made with these settings and this model (mlcodec.io.resume)."""
    from mlcodec.io.resume import output_status, settings_digest
    import mlcodec

    digest = settings_digest(load_model(opts.model), opts.bitrate, opts.frame_ms, opts.fixed_point,
                             "cbr" if opts.cbr else "vbr", opts.redundancy_ms)

    def done(src: str, dst: str):
        if output_status(dst, digest) is not None:
            return None
        from mlcodec.codec.files import CodingStats

        fi = mlcodec.info(dst)
        return CodingStats(src, dst, fi.duration, fi.packets, fi.payload_bytes, fi.file_bytes, 0.0,
                           fi.preset, fi.frame_ms)
    return done


def _many(opts, inputs: tuple[str, ...], outdir: str, jobs: int, *, skip_existing: bool = False,
          report_path: str | None = None, scheduler: str | None = None) -> None:
    from .batch import remove_temp_outputs, run_batch
    from .inputs import expand

    if "-" in inputs:
        fail("'-' (stdin) cannot be used with -o DIR; give file names", EXIT_USAGE)
    pairs = batch_outputs(expand(inputs, opts.input_suffixes), outdir, opts.suffix)
    for d in sorted({os.path.dirname(dst) for _, dst in pairs}):
        os.makedirs(d, exist_ok=True)
    errors = 0
    stats = []
    jsonl = report.JsonlReport(report_path)
    out_err = report_path == "-"  # the report owns stdout: summaries go to stderr
    todo = pairs
    if skip_existing:
        # Temp files of a killed run (mlcodec.io.atomic) are never outputs: clear them first.
        remove_temp_outputs(dst for _, dst in pairs)
        done = _skip_check(opts)
        todo = []
        for src, dst in pairs:
            st = done(src, dst)
            if st is None:
                todo.append((src, dst))
            else:
                jsonl.write(report.report_record(src, dst, "skipped", st))
        if len(todo) < len(pairs):
            click.echo(f"mlcodec: {len(pairs) - len(todo)} of {len(pairs)} outputs already complete "
                       "with these settings; skipped", err=True)
    srcs = {dst: src for src, dst in todo}
    compiled = _compiling_notice(opts) if todo else False

    def on_result(st, err, dst):
        nonlocal errors
        src = srcs.get(dst, "?")
        if err:
            errors += 1
            click.echo(f"mlcodec: error: {err}", err=True)
            jsonl.write(report.report_record(src, dst, "error", st, err))
        if st is not None and not err:
            stats.append(st)
            click.echo(report.summary(opts.kind, st, compiled), err=out_err)
            jsonl.write(report.report_record(src, dst, "ok", st))

    bar = None
    if _is_tty() and todo:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn(opts.kind), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True)
    try:
        advance = None
        if bar:
            bar.start()
            task = bar.add_task(opts.kind, total=len(todo))
            advance = functools.partial(bar.advance, task)
        if scheduler and todo:
            from .cluster import run_dask

            run_dask(scheduler, functools.partial(code_one, opts), todo, on_result, advance)
        elif todo:
            if jobs > 1 and len(todo) > 1:
                opts.warm()  # model and kernels loaded once here: the forked workers share them
            run_batch(functools.partial(code_one, opts), todo, jobs, on_result, advance)
    finally:
        if bar:
            bar.stop()
        jsonl.close()
    line = report.total(stats)
    if line:
        click.echo(line, err=out_err)
    if errors:
        raise SystemExit(1)


def batch_outputs(inputs, outdir: str, suffix: str) -> list[tuple[str, str]]:
    """(input, output) pairs for ``-o DIR``: ``inputs`` are paths (written as DIR/stem+suffix)
    or (path, relative stem) pairs from :func:`cli.inputs.expand` (DIR/stem+suffix, mirroring
    a directory or manifest tree). Two inputs that would be written to the
    same output (``a/x.wav b/x.wav``, ``x.wav x.flac``, one file given twice) are refused up
    front, naming both, before anything is written: silently renaming one of the outputs would
    break scripts that expect DIR/NAME.opus, and overwriting would lose one of them."""
    owner: dict[str, str] = {}
    pairs = []
    for item in inputs:
        src, rel = (item, Path(item).stem) if isinstance(item, str) else item
        dst = os.path.join(outdir, rel + suffix)
        key = os.path.normcase(os.path.abspath(dst))
        first = owner.get(key)
        owner.setdefault(key, src)
        if first is not None:
            same = os.path.exists(src) and os.path.exists(first) and os.path.samefile(src, first)
            if same or first == src:
                fail(f"{src}: given twice; nothing was done (give each input once)", EXIT_USAGE)
            fail(f"{first} and {src} would both be written to {dst}; nothing was done "
                 "(rename one, or run them with different -o DIRs)", EXIT_USAGE)
        pairs.append((src, dst))
    return pairs


def _dispatch(opts, paths: tuple[str, ...], outdir: str | None, jobs: int, **batch) -> None:
    if outdir:
        if not paths:
            fail("no input files")
        _many(opts, paths, outdir, jobs, **batch)
        return
    # A single file always runs here (a scheduler, e.g. from MLCODEC_SCHEDULER, is for batches).
    for flag, key in (("--skip-existing", "skip_existing"), ("--report", "report_path")):
        if batch.get(key):
            fail(f"{flag} is for batches: give the inputs with -o DIR", EXIT_USAGE)
    if len(paths) != 2:
        what = "IN OUT.opus" if opts.kind == "encode" else "IN.opus OUT.wav"
        fail(f"{opts.kind} takes {what} (or several inputs with -o DIR); got {len(paths)} path(s)", EXIT_USAGE)
    if paths[1] != "-" and os.path.isdir(paths[1]):
        example = os.path.join(paths[1], "NAME" + opts.suffix)
        fail(f"{paths[1]}: is a directory; to write {example} use -o {paths[1]}", EXIT_USAGE)
    check_std_streams(paths[0], paths[1], opts.stdout_what)
    _single(opts, paths[0], paths[1])


_common = [
    click.option("-o", "--output-dir", "outdir", type=click.Path(file_okay=False),
                 help="Write one output per input into DIR (several inputs)."),
    click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Worker processes for several inputs."),
    click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
                 help="With -o DIR: write a JSON Lines report, one line per input (docs/batch.md; - = stdout)."),
    click.option("--scheduler", envvar="MLCODEC_SCHEDULER", default=None, metavar="ADDRESS",
                 help="With -o DIR: run the batch on a dask.distributed scheduler (e.g. tcp://host:8786; "
                      "env MLCODEC_SCHEDULER; needs mlcodec[dask] and shared storage)."),
    click.option("--model", "model", type=click.Path(dir_okay=False), default=None,
                 help="Model blob (default: the shipped mlcodec/models/codec_v2.bin; decoding picks the shipped model a stream names)."),
    click.option("--float", "float_path", is_flag=True, help="Run the networks in float instead of int8."),
]


def _with_common(f):
    for opt in reversed(_common):
        f = opt(f)
    return f


def _bitrate(ctx, param, value):
    try:
        fmt.parse_bitrate(value)
    except MlcodecError as exc:
        raise click.BadParameter(exc.reason) from None
    return value


_LATENCY = ", ".join(f"{ms}: {ms + fmt.LATENCY_EXTRA_MS}" for ms in fmt.FRAME_MS_CHOICES)


@click.command("encode")
@click.argument("paths", nargs=-1, metavar="IN [OUT.opus] | IN... -o DIR")
@click.option("-b", "--bitrate", default=fmt.DEFAULT_BITRATE, show_default=True, callback=_bitrate,
              metavar="RATE",
              help="Whole-file bit rate (bytes x 8 / duration, headers included): 1.5k, 3k, 6k or any "
                   "value 1k..8k. Files meet it (two-pass); stdin input steers towards it (one pass). "
                   "At 1.5k short files (< ~5 s) meet it by coarser rounding and repeated latents, "
                   "at a cost in quality (the headers alone are ~0.7 kb/s over 2 s).")
@click.option("--vbr/--cbr", "vbr", default=True, show_default=True,
              help="VBR with DTX (pauses cost ~0.13 kb/s), or every packet the same size (no DTX).")
@click.option("--frame-ms", type=click.Choice(FRAME_MS), default=str(fmt.DEFAULT_FRAME_MS), show_default=True,
              help=f"Packet duration in ms. Latency in ms (packet + 30): {_LATENCY}. Framing costs "
                   "2.1 kb/s at 20, 0.9 at 60, 0.42 at 120 (out of the --bitrate budget).")
@click.option("--redundancy", "redundancy_ms", type=click.IntRange(0, 1040), default=0, show_default=True,
              metavar="MS",
              help="Send copies of the last MS ms of speech (0..1040) in every packet's extension 123 so the "
                   "decoder can rebuild lost packets (docs/loss.md); on top of --bitrate: 500 ms costs ~0.9 kb/s. "
                   "VBR only.")
@click.option("--serial", type=click.IntRange(0, 0xFFFFFFFF), default=None,
              help="Ogg serial number (default: derived from the settings and the audio, so the same input "
                   "gives the same bytes).")
@click.option("--skip-existing", "--resume", "skip_existing", is_flag=True,
              help="With -o DIR: skip outputs that are complete and were made with the same settings and model.")
@_with_common
@guarded
def encode(paths, bitrate, vbr, frame_ms, redundancy_ms, serial, skip_existing, outdir, jobs, report_path, scheduler,
           model, float_path):
    """Encode speech (any format/rate soundfile reads; - = stdin) into an mlcodec .opus file.

    The file is Ogg Opus: other players play silence; decode it with `mlcodec decode`. With -o
    DIR, the inputs may be files, directories (searched recursively; the tree is mirrored under
    DIR) and manifests (.txt: one path per line; .csv: an 'input' column)."""
    _dispatch(EncodeOptions(bitrate, int(frame_ms), model, not float_path, serial, not vbr, redundancy_ms), paths,
              outdir, jobs,
              skip_existing=skip_existing, report_path=report_path, scheduler=scheduler)


def _loss_percent(ctx, param, value):
    """``--loss P``: a percentage, ``10`` or ``10%`` (as opus_demo -loss); returns 0..1."""
    if value is None:
        return None
    text = value.strip()
    num = text[:-1].strip() if text.endswith("%") else text
    try:
        p = float(num)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a percentage (e.g. 10 or 10%)") from None
    if not 0.0 <= p <= 100.0:  # NaN fails too
        raise click.BadParameter(f"{value!r} is outside 0..100 %")
    return p / 100.0


def _loss_model(loss, loss_model, burst, loss_seed, loss_trace):
    """The loss model the --loss* options ask for (None: no simulated loss)."""
    from mlcodec.codec.loss import Trace, make_model

    if loss_trace is not None:
        if loss is not None or loss_model is not None or burst is not None:
            raise click.UsageError("--loss-trace replaces --loss/--loss-model/--burst: give one or the other")
        with open(loss_trace, "rb") as f:
            return Trace.read(f, file=loss_trace)
    if loss is None:
        for flag, v in (("--loss-model", loss_model), ("--burst", burst), ("--loss-seed", loss_seed)):
            if v is not None:
                raise click.UsageError(f"{flag} needs --loss P (or use --loss-trace FILE)")
        return None
    kind = loss_model or "bernoulli"
    if burst is not None and kind != "gilbert":
        raise click.UsageError("--burst is for --loss-model gilbert")
    try:
        return make_model(kind, p=loss, burst=2.0 if burst is None else burst, seed=loss_seed or 0)
    except MlcodecError as exc:
        raise click.UsageError(f"--loss {loss * 100:g}%: {exc.reason}") from None


@click.command("decode")
@click.argument("paths", nargs=-1, metavar="IN.opus [OUT.wav] | IN.opus... -o DIR")
@click.option("-r", "--rate", type=click.Choice(RATES), default=str(fmt.SAMPLE_RATE), show_default=True,
              help="Output sample rate.")
@click.option("--vocoder", type=click.Choice(VOCODERS), default="auto", show_default=True,
              help="auto: the one that measures better for the stream's preset (neural; reference at 1.5k; "
                   "docs/vocoder.md); libopus: libopus's FARGAN ('mlcodec models install libopus SOURCE').")
@click.option("--concealment", type=click.Choice(CONCEALERS), default=CONCEALERS[0], show_default=True,
              help="How missing packets are filled: neural (the shipped predictor) or repeat (the last "
                   "good frame, fading). docs/loss.md.")
@click.option("--loss", callback=_loss_percent, default=None, metavar="P",
              help="Simulate packet loss: drop P percent of the audio packets (10 or 10%, as opus_demo "
                   "-loss; seeded). Not damage: the exit status stays 0.")
@click.option("--loss-model", type=click.Choice(("bernoulli", "gilbert")), default=None,
              help="bernoulli: independent losses (default); gilbert: bursts (--burst).")
@click.option("--burst", type=click.FloatRange(min=1.0), default=None, metavar="B",
              help="gilbert: mean burst length in packets (>= 1, default 2).")
@click.option("--loss-seed", type=click.IntRange(0, 2 ** 63 - 1), default=None, metavar="N",
              help="Seed of the simulated loss (default 0): the same seed drops the same packets.")
@click.option("--loss-trace", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Drop packets by a trace: one 0 or 1 per line, 1 = lost (libopus lossgen_demo / "
                   "opus_demo -lossfile format; test_vectors/loss/).")
@_with_common
@guarded
def decode(paths, rate, vocoder, concealment, loss, loss_model, burst, loss_seed, loss_trace, outdir, jobs,
           report_path, scheduler, model, float_path):
    """Decode an mlcodec .opus file (- = stdin) to 16-bit WAV (- = stdout, streamed)."""
    lm = _loss_model(loss, loss_model, burst, loss_seed, loss_trace)
    _dispatch(DecodeOptions(int(rate), model, not float_path, vocoder, lm, concealment), paths, outdir, jobs,
              report_path=report_path, scheduler=scheduler)


def sample_path() -> Path:
    """The shipped speech sample (generated with espeak-ng)."""
    import mlcodec

    return Path(mlcodec.__file__).resolve().parent / "samples" / "sample.flac"


@click.command("demo")
@click.argument("outdir", required=False, default="mlcodec-demo", metavar="[DIR]",
                type=click.Path(file_okay=False))
@click.option("-b", "--bitrate", default=fmt.DEFAULT_BITRATE, show_default=True, callback=_bitrate,
              help="Whole-file bit rate (1.5k, 3k, 6k or 1k..8k).")
@click.option("--vocoder", type=click.Choice(VOCODERS), default="auto", show_default=True,
              help="auto: the one that measures better for the stream's preset (neural; reference at 1.5k; "
                   "docs/vocoder.md); libopus: libopus's FARGAN ('mlcodec models install libopus SOURCE').")
@guarded
def demo(outdir, bitrate, vocoder):
    """Encode and decode the shipped sample with the shipped model into DIR (./mlcodec-demo)."""
    import mlcodec
    from mlcodec.codec.vocoders import auto_vocoder
    from mlcodec.dsp.audio import read_audio, write_audio
    from mlcodec.io.transcode import decode_file, encode_file

    _compiling_notice(EncodeOptions())
    src = sample_path()
    os.makedirs(outdir, exist_ok=True)
    ref = os.path.join(outdir, "sample-input.wav")
    enc_path = os.path.join(outdir, f"sample-{bitrate}.opus")
    dec_path = os.path.join(outdir, f"sample-{bitrate}-decoded.wav")
    write_audio(ref, read_audio(src))
    model = load_model(None)
    es = encode_file(src, enc_path, model=model, bitrate=bitrate)
    decode_file(enc_path, dec_path, model=model, vocoder=vocoder)
    voc = {"neural": "neural vocoder", "reference": "reference synthesizer", "libopus": "libopus's FARGAN"}[
        auto_vocoder(fmt.nearest_preset(bitrate)) if vocoder == "auto" else vocoder]
    made = mlcodec.info(enc_path)  # the model the stream names (at 1.5k the low-rate default)
    click.echo(f"model {made.model or '?'} (checksum {made.model_checksum[:16]}...), preset {bitrate}, {voc}")
    click.echo(f"encoded {es.duration:.2f} s of speech: whole file {es.file_kbps:.2f} kb/s, "
               f"payload {es.payload_kbps:.2f} kb/s ({es.file_bytes} bytes, {es.packets} packets of {es.frame_ms} ms)")
    click.echo(f"input:   {ref}")
    click.echo(f"stream:  {enc_path}   (plays as silence in other Opus players; see docs/format.md)")
    click.echo(f"decoded: {dec_path}")


COMMANDS = [encode, decode, demo]
