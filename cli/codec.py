"""``mlcodec encode``, ``mlcodec decode`` and ``mlcodec demo``: thin layers over mlcodec.codec.

Single file: ``encode IN OUT.opus`` / ``decode IN.opus OUT.wav`` (``-`` = stdin/stdout).
Several files: ``encode A.wav B.flac -o DIR [-j N]`` writes DIR/A.opus, DIR/B.opus.
A rich progress bar is shown on a terminal (stderr); the bit-rate summary is printed at the
end (on stdout, or on stderr when stdout carries the audio/stream).
"""
from __future__ import annotations

import io
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import click

from cli.common import (EXIT_USAGE, STDOUT_NAME, WRITE_ERRNOS, Terminated, check_std_streams, display_name,
                        error_line, fail, guarded)
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


#: Shortest run whose coding speed is printed: a run's fixed start-up (model and kernel
#: loading, about 0.5 s) dominates shorter ones, so "N x real time" would say nothing about
#: the codec (a 1 s file printed "2x"; a tiny one "0x").
MIN_TIMED_SECONDS = 1.0


def _speed(st) -> str:
    """``", 42x real time"`` with two significant digits, or "" when the run is too short to
    time or reads stdin (its pace is then the producer's, not the codec's)."""
    if st.seconds < MIN_TIMED_SECONDS or st.input == "-":
        return ""
    s = st.duration / st.seconds
    text = f"{s:.0f}" if s >= 10 else f"{s:.2g}"
    return f", {text}x real time"


def _summary(kind: str, st) -> str:
    src, dst = display_name(st.input), display_name(st.output, STDOUT_NAME)
    if kind == "encode":
        return (f"{src} -> {dst}: {st.duration:.2f} s, preset {st.bitrate}, "
                f"{st.frame_ms} ms packets: payload {st.payload_kbps:.2f} kb/s, "
                f"whole file {st.file_kbps:.2f} kb/s ({st.file_bytes} bytes){_speed(st)}")
    return (f"{src} -> {dst}: {st.duration:.2f} s decoded; stream preset {st.bitrate or '?'}: "
            f"payload {st.payload_kbps:.2f} kb/s, whole file {st.file_kbps:.2f} kb/s{_speed(st)}")


def _name_os_error(exc: OSError, src: str, dst: str) -> OSError:
    """Give a nameless OSError (a write to an open file, a read from one) the file it is
    about: the output for disk-full style errors, else the input."""
    if exc.filename is None:
        exc.filename = display_name(dst, STDOUT_NAME) if exc.errno in WRITE_ERRNOS else display_name(src)
    return exc


#: Bytes of the WAV header decode writes first (RIFF + fmt + data chunk heads).
WAV_HEADER_BYTES = 44
#: Ogg pages before encode's first audio page (OpusHead, OpusTags; RFC 7845 s3).
OGG_HEADER_PAGES = 2


class HeldStdout(io.RawIOBase):
    """stdout for ``-`` output that holds the container header back until audio follows it
    (the first PCM bytes after the WAV header, the first Ogg page after OpusHead/OpusTags) or
    the run succeeds: a run that fails before any audio writes nothing, instead of a lone
    header that the next program in the pipe would take for an empty stream."""

    name = "-"

    def __init__(self, kind: str, f=None):
        self.f = f if f is not None else sys.stdout.buffer
        self.kind = kind
        self.held = bytearray()
        self.pages = 0
        self.released = False

    def writable(self) -> bool:
        return True

    def _audio_follows(self, b) -> bool:
        if self.kind == "decode":
            return len(self.held) + len(b) > WAV_HEADER_BYTES
        if bytes(b[:4]) == b"OggS":  # OggWriter writes one page per call
            self.pages += 1
        return self.pages > OGG_HEADER_PAGES

    def write(self, b) -> int:
        if not self.released:
            if not self._audio_follows(b):
                self.held += b
                return len(b)
            self.release()
        self.f.write(b)
        return len(b)

    def release(self) -> None:
        """Write what is held and pass everything through from now on."""
        if not self.released:
            self.released = True
            if self.held:
                self.f.write(bytes(self.held))
                self.held.clear()

    def flush(self) -> None:
        if self.released:
            self.f.flush()

    def seekable(self) -> bool:  # stdout redirected to a file: decode patches the WAV sizes
        try:
            return self.f.seekable()
        except (AttributeError, OSError, ValueError):
            return False

    def tell(self) -> int:
        return self.f.tell() + len(self.held)

    def seek(self, pos: int, whence: int = 0) -> int:
        self.release()
        return self.f.seek(pos, whence)


def _run_one(kind: str, src: str, dst: str, opts: dict, progress=None):
    from mlcodec.fileio import check_overwrite

    if src != "-":
        # Name an unreadable input plainly (libsndfile would say only "System error").
        try:
            open(src, "rb").close()
        except (FileNotFoundError, IsADirectoryError):
            pass  # the library's own words ("no such file", "is a directory")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, src) from None
    if kind == "encode":
        check_overwrite(src, dst, (b"OggS",), "an Ogg file")
    else:
        check_overwrite(src, dst, (b"RIFF", b"RF64"), "a WAV file")
    model = _model(opts.get("model"))
    out = HeldStdout(kind) if dst == "-" else dst
    st = _code(kind, src, out, model, opts, progress)
    if dst == "-":
        out.release()
        out.f.flush()
    return st


def _code(kind: str, src: str, dst, model, opts: dict, progress):
    from mlcodec.codec.pipeline import decode_file, encode_file

    if kind == "encode":
        return encode_file(src, dst, model=model, bitrate=opts["bitrate"], frame_ms=opts["frame_ms"],
                           fixed_point=opts["fixed_point"], serial=opts.get("serial"), progress=progress)
    return decode_file(src, dst, rate=opts["rate"], model=model, fixed_point=opts["fixed_point"],
                       vocoder=opts.get("vocoder", "auto"), progress=progress)


def _worker(kind: str, src: str, dst: str, opts: dict, progress=None):
    """One input of a batch: (stats or None, error line or None); never raises for bad input."""
    try:
        return _run_one(kind, src, dst, opts, progress), None
    except MlcodecError as exc:
        return getattr(exc, "stats", None), error_line(exc)
    except OSError as exc:
        return None, error_line(_name_os_error(exc, src, dst))


#: In a pool worker: True while an input is being coded (a signal then aborts it).
_busy = False
#: In a pool worker: the stop signal received while busy, acted on at the next safe point.
_stop_signal = 0


def _pool_signal(signum, frame):  # noqa: ARG001
    global _stop_signal
    if _busy:
        # Not raised here: an exception thrown into native code (soxr's nanobind bindings)
        # aborts the process. The coding loop's progress callback raises it (_pool_check).
        _stop_signal = signum
        return
    os._exit(128 + signum)  # idle: nothing to clean up


def _pool_check(*_args) -> None:
    """Progress callback of pool workers: a safe point to stop at between chunks/packets;
    the exception unwinds through the atomic output, which removes its temp file."""
    if _stop_signal:
        raise Terminated() if _stop_signal == signal.SIGTERM else KeyboardInterrupt()


def _pool_init() -> None:
    """Pool worker start-up: SIGTERM/SIGINT stop the current input cleanly, then the process.

    A SIGINT that the main process ignores (a background job of a non-interactive shell) stays
    ignored in the workers too, so that Ctrl-C never stops the workers behind its back."""
    signal.signal(signal.SIGTERM, _pool_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _pool_signal)


def _pool_worker(kind: str, src: str, dst: str, opts: dict):
    """Process-pool entry around :func:`_worker`; an interrupted worker exits at once (its
    temp output already removed), leaving the report to the main process."""
    global _busy
    _busy = True
    try:
        _pool_check()
        return _worker(kind, src, dst, opts, _pool_check)
    except KeyboardInterrupt as exc:
        os._exit(143 if isinstance(exc, Terminated) else 130)
    finally:
        _busy = False


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C/SIGTERM mid-batch: cancel queued inputs, stop the running ones (each removes its
    temp output) and wait for the workers, so that nothing is left behind."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():  # pragma: no cover - a worker stuck in native code
            p.kill()
            p.join(1)


def _remove_temp_outputs(dsts) -> None:
    """After Ctrl-C/SIGTERM: remove temp files (``.NAME.XXXX.SUFFIX.tmp``, mlcodec.fileio)
    still beside outputs that were being written. The atomic output removes its own, but a
    signal landing inside its commit (fsync, rename) or a worker killed after the grace
    period can leave one behind."""
    import glob

    for dst in dsts:
        if dst == "-":
            continue
        d, name = os.path.split(os.path.realpath(dst))
        for tmp in glob.glob(os.path.join(glob.escape(d), f".{glob.escape(name)}.*.tmp")):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _single(kind: str, src: str, dst: str, opts: dict) -> None:
    try:
        _single_run(kind, src, dst, opts)
    except KeyboardInterrupt:
        _remove_temp_outputs([dst])
        raise


def _single_run(kind: str, src: str, dst: str, opts: dict) -> None:
    data_on_stdout = dst == "-"
    if _is_tty() and src != "-":
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"{kind} {os.path.basename(src)}", total=None)

            def progress(done, total):
                bar.update(task, completed=done, total=total)

            st = _run_one_named(kind, src, dst, opts, progress)
    else:
        st = _run_one_named(kind, src, dst, opts)
    _info_echo(_summary(kind, st), data_on_stdout)


def _run_one_named(kind: str, src: str, dst: str, opts: dict, progress=None):
    try:
        return _run_one(kind, src, dst, opts, progress)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _name_os_error(exc, src, dst)


def _many(kind: str, inputs: tuple[str, ...], outdir: str, jobs: int, opts: dict) -> None:
    if "-" in inputs:
        fail("'-' (stdin) cannot be used with -o DIR; give file names", EXIT_USAGE)
    pairs = batch_outputs(inputs, outdir, ".opus" if kind == "encode" else ".wav")
    os.makedirs(outdir, exist_ok=True)
    errors = 0
    stats = []
    finished: set[str] = set()
    show_bar = _is_tty()

    def report(st, err, dst):
        nonlocal errors
        finished.add(dst)
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
                report(*_worker(kind, src, dst, opts), dst)
                if bar_ctx:
                    bar_ctx.advance(task)
        else:
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(pairs)), initializer=_pool_init)
            try:
                futs = {pool.submit(_pool_worker, kind, src, dst, opts): (src, dst) for src, dst in pairs}
                for fut in as_completed(futs):
                    src, dst = futs[fut]
                    try:
                        res = fut.result()
                    except BrokenProcessPool:  # a worker was killed (out of memory, kill -9)
                        res = (None, f"{src}: worker process ended unexpectedly; output not written")
                    report(*res, dst)
                    if bar_ctx:
                        bar_ctx.advance(task)
            except BaseException:
                _stop_pool(pool)
                raise
            pool.shutdown()
    except KeyboardInterrupt:
        _remove_temp_outputs(dst for _, dst in pairs if dst not in finished)
        raise
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


def batch_outputs(inputs, outdir: str, suffix: str) -> list[tuple[str, str]]:
    """(input, DIR/stem+suffix) pairs for ``-o DIR``. Two inputs that would be written to the
    same output (``a/x.wav b/x.wav``, ``x.wav x.flac``, one file given twice) are refused up
    front, naming both, before anything is written: silently renaming one of the outputs would
    break scripts that expect DIR/NAME.opus, and overwriting would lose one of them."""
    owner: dict[str, str] = {}
    pairs = []
    for src in inputs:
        dst = os.path.join(outdir, Path(src).stem + suffix)
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


def _dispatch(kind: str, paths: tuple[str, ...], outdir: str | None, jobs: int, opts: dict) -> None:
    if outdir:
        if not paths:
            fail("no input files")
        _many(kind, paths, outdir, jobs, opts)
        return
    if len(paths) != 2:
        what = "IN OUT.opus" if kind == "encode" else "IN.opus OUT.wav"
        fail(f"{kind} takes {what} (or several inputs with -o DIR); got {len(paths)} path(s)", EXIT_USAGE)
    if paths[1] != "-" and os.path.isdir(paths[1]):
        example = os.path.join(paths[1], "NAME" + (".opus" if kind == "encode" else ".wav"))
        fail(f"{paths[1]}: is a directory; to write {example} use -o {paths[1]}", EXIT_USAGE)
    check_std_streams(paths[0], paths[1], "an Ogg Opus stream" if kind == "encode" else "WAV audio")
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
              help="auto: the one that measures better for the stream's preset (neural; reference at 1.5k; docs/vocoder.md).")
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
@click.argument("outdir", required=False, default="mlcodec-demo", metavar="[DIR]",
                type=click.Path(file_okay=False))
@click.option("-b", "--bitrate", type=click.Choice(BITRATES), default="3k", show_default=True)
@click.option("--vocoder", type=click.Choice(VOCODERS), default="auto", show_default=True,
              help="auto: the one that measures better for the stream's preset (neural; reference at 1.5k; docs/vocoder.md).")
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
    from mlcodec.codec.pipeline import auto_vocoder

    model = _model(None)
    es = encode_file(src, enc_path, model=model, bitrate=bitrate)
    decode_file(enc_path, dec_path, model=model, vocoder=vocoder)
    voc = {"neural": "neural vocoder", "reference": "reference synthesizer"}[
        auto_vocoder(bitrate) if vocoder == "auto" else vocoder]
    click.echo(f"model {getattr(model, 'name', '?')} (checksum {model.checksum[:16]}...), preset {bitrate}, {voc}")
    click.echo(f"encoded {es.duration:.2f} s of speech: payload {es.payload_kbps:.2f} kb/s, "
               f"whole file {es.file_kbps:.2f} kb/s ({es.file_bytes} bytes, {es.packets} packets of 20 ms)")
    click.echo(f"input:   {ref}")
    click.echo(f"stream:  {enc_path}   (plays as silence in other Opus players; see docs/format.md)")
    click.echo(f"decoded: {dec_path}")


COMMANDS = [encode, decode, demo]
