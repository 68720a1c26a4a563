"""``mlcodec inspect-extensions FILE|-``: show the extensions carried in Opus packet padding.

A thin skin over :mod:`mlcodec.inspect`: options, then either the library's JSON Lines
(``--json``, schema in docs/inspect-extensions.md) or a rich table of its reports.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from .common import check_std_streams, guarded

#: Rows per rendered table chunk (tables stream in chunks so huge inputs print as they go).
_CHUNK = 200


@dataclass(frozen=True)
class InspectOptions:
    """The command's options, as the library takes them."""

    source: str
    fmt: str = "auto"
    as_json: bool = False
    summary: bool = False
    summary_only: bool = False
    ids: frozenset | None = None
    max_data: int | None = None


@click.command("inspect-extensions")
@click.argument("source", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per packet (docs/inspect-extensions.md).")
@click.option("--summary", is_flag=True, help="Append counts per extension ID and per frame (JSON: a final object).")
@click.option("--summary-only", is_flag=True, help="Print only the summary (fast on long files).")
@click.option("--id", "ids", type=click.IntRange(0, 127), multiple=True, metavar="N",
              help="Only show extensions with this ID (repeatable).")
@click.option("--max-data", type=click.IntRange(0), default=None, metavar="N",
              help="Cut each extension payload to N bytes in the output.")
@click.option("--format", "fmt", type=click.Choice(["auto", "ogg", "bit", "raw", "packet"]), default="auto",
              show_default=True, help="Container format (auto: detected from the content).")
@guarded
def inspect_extensions(source: str, as_json: bool, summary: bool, summary_only: bool,
                       ids: tuple[int, ...], max_data: int | None, fmt: str) -> None:
    """Show every Opus packet of FILE (Ogg Opus, opus_demo .bit, mlcodec raw framing, or one
    packet; '-' reads stdin) with its TOC, frames, padding and extensions."""
    check_std_streams(source)
    run(InspectOptions(source, fmt, as_json, summary, summary_only, frozenset(ids) or None, max_data))


def _register_dred() -> None:
    """Decode DRED (ID 126) with libopus's tables, loaded at the first DRED payload; without
    installed models the header only, said once on stderr."""
    from mlcodec.inspect.dred import dred_object
    from mlcodec.inspect.decoders import ExtensionDecoder, register_decoder
    from mlcodec.bitstream.extensions import ID_DRED, extension_name

    state: dict = {}

    def decode(data: bytes, frame_offset: int) -> dict:
        if "tables" not in state:
            from mlcodec.libopus.store import INSTALL_HINT, optional_dred_tables

            state["tables"] = optional_dred_tables()
            if state["tables"] is None:
                click.echo("mlcodec: note: libopus's DRED tables are not installed, so DRED latents and "
                           f"covers_ms are not decoded; {INSTALL_HINT}", err=True)
        return dred_object(data, frame_offset, state["tables"])

    register_decoder(ExtensionDecoder(ID_DRED, name=lambda d: extension_name(ID_DRED, d), key="dred",
                                      decode=decode))


def run(opt: InspectOptions) -> None:
    from mlcodec.containers.detect import open_input

    _register_dred()

    src = sys.stdin.buffer if opt.source == "-" else opt.source
    with open_input(src, opt.fmt, name="<stdin>" if opt.source == "-" else None) as inp:
        if opt.summary_only:
            _summary_only(inp, opt)
        elif opt.as_json:
            _json(inp, opt)
        else:
            _table(inp, opt)


def _summary_only(inp, opt: InspectOptions) -> None:
    """Counts only; a broken container still prints the summary of everything before the
    break, then fails with one line."""
    from mlcodec.inspect.batch import summarize

    rep, err = summarize(inp, ids=opt.ids)
    if opt.as_json:
        sys.stdout.write(rep.to_json() + "\n")
        sys.stdout.flush()
    else:
        _print_summary(_console(), rep)
    if err is not None:
        raise err


def _json(inp, opt: InspectOptions) -> None:
    from mlcodec.inspect.batch import iter_json
    from mlcodec.inspect.report import Summary

    summ = Summary() if opt.summary else None
    write = sys.stdout.write
    try:
        for chunk in iter_json(inp, ids=opt.ids, max_data=opt.max_data, summary=summ):
            write(chunk)
    finally:
        sys.stdout.flush()  # everything readable is printed, even when the container breaks
    if summ is not None:
        write(summ.report().to_json() + "\n")
        sys.stdout.flush()


def _fmt_toc(t) -> str:
    if t is None:
        return "-"
    return f"{t.config:>2} {t.mode} {t.bandwidth} {t.frame_ms}ms {'st' if t.stereo else 'mo'} c{t.code}"


def _fmt_exts(exts) -> str:
    from mlcodec.inspect.decoders import describe

    parts = []
    for e in exts:
        raw = bytes.fromhex(e.data)
        if len(raw) >= 4 and all(32 <= b < 127 for b in raw):
            text = raw.decode("ascii")
            shown = repr(text[:24] + ("…" if len(text) > 24 else ""))
        else:
            shown = e.data[:16] + ("…" if len(e.data) > 16 else "")
        line = f"f{e.frame} {e.id} {e.name} {e.length}B {shown}"
        extra = _fmt_dred(e.decoded[1]) if e.decoded is not None and e.decoded[0] == "dred" else describe(e.id, raw)
        parts.append(line if extra is None else f"{line} {extra}")
    return "\n".join(parts)


def _fmt_dred(o: dict) -> str:
    """The DRED object in a table cell: version, quantisers, offset as a time, latents, coverage."""
    if "error" in o:
        return f"[red]{_esc(o['error'])}[/red]"
    text = (f"[DRED v{o['version']} q0 {o['q0']} dQ {o['dq']} qmax {o['qmax']} "
            f"offset {o['offset_ms']:+g} ms")
    if o["latents"] is not None:
        text += f", {o['latents']} latents = {o['covers_ms']} ms"
    return _esc(text + "]")


def _console():
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(soft_wrap=False, width=160, highlight=False)  # a pipe/file: no terminal width to fit
    console.on_broken_pipe = _broken_pipe  # rich would exit 1; `| head` must end quietly (0)
    return console


def _table(inp, opt: InspectOptions) -> None:
    from rich.table import Table

    from mlcodec.inspect.reference import inspect_input
    from mlcodec.inspect.report import Summary

    summ = Summary() if opt.summary else None
    console = _console()
    rows: list[tuple] = []
    ogg = inp.format == "ogg"
    state = {"header": True}
    console.print(f"[bold]{inp.name}[/bold]: {_FORMAT_NAMES.get(inp.format, inp.format)}", highlight=False)

    def flush() -> None:
        if not rows:
            return
        t = Table(show_header=state["header"], box=None, pad_edge=False, header_style="bold")
        t.add_column("#", justify="right", min_width=5)
        if ogg:
            t.add_column("str", justify="right", min_width=3)
        t.add_column("offset", justify="right", min_width=8)
        if ogg:
            t.add_column("granule", justify="right", min_width=8)
        t.add_column("TOC", min_width=24, no_wrap=True)
        t.add_column("frames", min_width=14)
        t.add_column("pad", justify="right", min_width=4)
        t.add_column("extensions: frame id name length data", min_width=30, overflow="fold")
        for r in rows:
            t.add_row(*r)
        console.print(t)
        rows.clear()
        state["header"] = False

    def on_stream(s) -> None:
        flush()
        h, tg = s.head, s.tags
        console.print(
            f"Ogg Opus stream {s.index} (serial {s.serial}): {h['channels']} ch, "
            f"pre-skip {h['pre_skip']}, input {h['input_sample_rate']} Hz, gain {h['output_gain']}, "
            f"family {h['mapping_family']} ({h['stream_count']} stream(s), {h['coupled_count']} coupled); "
            f"vendor {tg['vendor']!r}, {len(tg['comments'])} comment(s)", highlight=False, markup=False,
            soft_wrap=True)
        state["header"] = True

    try:
        for rep in inspect_input(inp, ids=opt.ids, max_data=opt.max_data, on_stream=on_stream):
            if summ is not None:
                summ.add(rep)
            frames = rep.frames
            fr = f"{len(frames)}: " + ",".join(map(str, frames)) if frames else "-"
            ext = _fmt_exts(rep.extensions)
            if rep.error:
                ext = (ext + "\n" if ext else "") + f"[red]error: {_esc(rep.error)}[/red]"
            row = [str(rep.packet)]
            if ogg:
                row.append("-" if rep.stream is None else str(rep.stream))
            row.append("-" if rep.offset is None else str(rep.offset))
            if ogg:
                row.append("-" if rep.granule is None else str(rep.granule))
            row += [_fmt_toc(rep.toc), fr, str(rep.padding), ext]
            rows.append(tuple(row))
            if len(rows) >= _CHUNK:
                flush()
    finally:
        flush()
    if summ is not None:
        _print_summary(console, summ.report())


def _broken_pipe() -> None:
    raise BrokenPipeError


def _esc(s: str) -> str:
    return s.replace("[", "\\[")


_FORMAT_NAMES = {"ogg": "Ogg Opus", "bit": "opus_demo .bit", "raw": "mlcodec raw framing",
                 "packet": "single Opus packet"}


def _print_summary(console, s) -> None:
    from rich.table import Table

    console.print(f"[bold]Summary[/bold]: {s.packets} packets, {s.errors} with errors, "
                  f"{s.packets_with_extensions} with extensions, {s.padding_bytes} padding bytes",
                  highlight=False)
    if s.dred is not None:
        console.print(s.dred["line"], highlight=False, markup=False)
    if s.by_id:
        t = Table(title="extensions per ID", title_justify="left")
        t.add_column("id", justify="right")
        t.add_column("name")
        t.add_column("count", justify="right")
        t.add_column("bytes", justify="right")
        for r in s.by_id:
            t.add_row(str(r.id), r.name, str(r.count), str(r.bytes))
        console.print(t)
        t = Table(title="extensions per frame", title_justify="left")
        t.add_column("frame", justify="right")
        t.add_column("count", justify="right")
        for f, c in s.by_frame:
            t.add_row(str(f), str(c))
        console.print(t)


COMMANDS = [inspect_extensions]
