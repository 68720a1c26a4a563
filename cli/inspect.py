"""``mlcodec inspect-extensions FILE|-``: show the extensions carried in Opus packet padding.

A thin layer over :mod:`mlcodec.inspect`: a rich table (terminal) or JSON Lines (``--json``,
schema in docs/inspect-extensions.md).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .common import check_std_streams, guarded

#: Rows per rendered table chunk (tables stream in chunks so huge inputs print as they go).
_CHUNK = 200
#: JSON lines buffered before a write.
_JSON_BATCH = 512


@click.command("inspect-extensions")
@click.argument("source", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per packet (docs/inspect-extensions.md).")
@click.option("--summary", is_flag=True, help="Append counts per extension ID and per frame (JSON: a final object).")
@click.option("--summary-only", is_flag=True,
              help="Print only the summary; Ogg and .bit input use the numba bulk scanner (fast on long files).")
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
    if summary_only:
        _run_summary_only(source, fmt, ids, as_json)
        return
    from mlcodec.containers.detect import open_input
    from mlcodec.inspect import Summary, inspect_input

    summ = Summary() if summary else None
    with open_input(source, fmt) as inp:
        if as_json:
            _run_json(inp, ids, max_data, summ)
        else:
            _run_table(inp, ids, max_data, summ)


def _run_summary_only(source: str, fmt: str, ids, as_json: bool) -> None:
    """Counts only, from the bulk scanner (same numbers as ``--summary``); a broken container
    still prints the summary of everything before the break, then fails with one line."""
    from mlcodec.bitstream.fastscan import fast_summary

    d, err = fast_summary(source, fmt=fmt, ids=ids or None)
    if as_json:
        sys.stdout.write(_dumps(d) + "\n")
        sys.stdout.flush()
    else:
        _print_summary(_console(), d["summary"])
    if err is not None:
        raise err


def _run_json(inp, ids, max_data, summ) -> None:
    from mlcodec.inspect import inspect_input

    write = sys.stdout.write
    lines: list[str] = []
    append = lines.append
    add = summ.add if summ is not None else None
    line = json_line
    try:
        for rep in inspect_input(inp, ids=ids or None, max_data=max_data):
            append(line(rep))
            if add is not None:
                add(rep)
            if len(lines) >= _JSON_BATCH:
                lines.append("")
                write("\n".join(lines))
                lines.clear()
    finally:
        # Everything readable is printed, even when the container breaks further on.
        if lines:
            lines.append("")
            write("\n".join(lines))
            lines.clear()
        sys.stdout.flush()
    if summ is not None:
        write(_dumps(summ.as_dict()) + "\n")
        sys.stdout.flush()


_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
#: JSON text of the (immutable, cached) TOC dicts and of extension names, by identity/value.
_toc_json: dict = {}
_name_json: dict = {}
#: The schema's fixed keys, in output order (docs/inspect-extensions.md).
_FIXED = 9


def json_line(r: dict) -> str:
    """One report as a compact JSON object: the same text as ``json.dumps(r,
    separators=(",", ":"))``, written out for the fixed schema (the hot path of ``--json``)."""
    t = r["toc"]
    if t is None:
        ts = "null"
    else:
        ts = _toc_json.get(id(t))
        if ts is None or ts[0] is not t:
            ts = _toc_json[id(t)] = (t, _dumps(t))
        ts = ts[1]
    s = r["stream"]
    o = r["offset"]
    g = r["granule"]
    exts = r["extensions"]
    if exts:
        xs = []
        for e in exts:
            nm = e["name"]
            js = _name_json.get(nm)
            if js is None:
                js = _name_json[nm] = _dumps(nm)
            xs.append(f'{{"frame":{e["frame"]},"id":{e["id"]},"name":{js},"length":{e["length"]},'
                      f'"data":"{e["data"]}"}}')
        xj = ",".join(xs)
    else:
        xj = ""
    err = r["error"]
    out = (f'{{"packet":{r["packet"]},"stream":{"null" if s is None else s},'
           f'"offset":{"null" if o is None else o},"granule":{"null" if g is None else g},'
           f'"toc":{ts},"frames":[{",".join(map(str, r["frames"]))}],"padding":{r["padding"]},'
           f'"extensions":[{xj}],"error":{"null" if err is None else _dumps(err)}')
    if len(r) > _FIXED:
        it = iter(r.items())
        for _ in range(_FIXED):
            next(it)
        return out + "".join(f",{_dumps(k)}:{_dumps(v)}" for k, v in it) + "}"
    return out + "}"


def _fmt_toc(t) -> str:
    if t is None:
        return "-"
    ms = t["frame_ms"]
    return f"{t['config']:>2} {t['mode']} {t['bandwidth']} {ms}ms {'st' if t['stereo'] else 'mo'} c{t['code']}"


def _fmt_exts(exts: list[dict]) -> str:
    if not exts:
        return ""
    parts = []
    for e in exts:
        data = e["data"]
        raw = bytes.fromhex(data)
        if len(raw) >= 4 and all(32 <= b < 127 for b in raw):
            text = raw.decode("ascii")
            shown = repr(text[:24] + ("…" if len(text) > 24 else ""))
        else:
            shown = data[:16] + ("…" if len(data) > 16 else "")
        parts.append(f"f{e['frame']} {e['id']} {e['name']} {e['length']}B {shown}")
    return "\n".join(parts)


def _console():
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(soft_wrap=False, width=160, highlight=False)  # a pipe/file: no terminal width to fit
    console.on_broken_pipe = _broken_pipe  # rich would exit 1; `| head` must end quietly (0)
    return console


def _run_table(inp, ids, max_data, summ) -> None:
    from rich.console import Console
    from rich.table import Table

    from mlcodec.inspect import inspect_input

    console = _console()
    rows: list[tuple] = []
    state = {"header": True, "ogg": inp.format == "ogg"}
    console.print(f"[bold]{inp.name}[/bold]: {_FORMAT_NAMES.get(inp.format, inp.format)}", highlight=False)

    def flush() -> None:
        if not rows:
            return
        t = Table(show_header=state["header"], box=None, pad_edge=False, header_style="bold")
        t.add_column("#", justify="right", min_width=5)
        if state["ogg"]:
            t.add_column("str", justify="right", min_width=3)
        t.add_column("offset", justify="right", min_width=8)
        if state["ogg"]:
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

    def on_stream(info: dict) -> None:
        flush()
        h, tg = info["head"], info["tags"]
        console.print(
            f"Ogg Opus stream {info['index']} (serial {info['serial']}): {h['channels']} ch, "
            f"pre-skip {h['pre_skip']}, input {h['input_sample_rate']} Hz, gain {h['output_gain']}, "
            f"family {h['mapping_family']} ({h['stream_count']} stream(s), {h['coupled_count']} coupled); "
            f"vendor {tg['vendor']!r}, {len(tg['comments'])} comment(s)", highlight=False, markup=False,
            soft_wrap=True)
        state["header"] = True

    try:
        for rep in inspect_input(inp, ids=ids or None, max_data=max_data, on_stream=on_stream):
            if summ is not None:
                summ.add(rep)
            frames = rep["frames"]
            fr = f"{len(frames)}: " + ",".join(map(str, frames)) if frames else "-"
            ext = _fmt_exts(rep["extensions"])
            if rep["error"]:
                ext = (ext + "\n" if ext else "") + f"[red]error: {_esc(rep['error'])}[/red]"
            row = [str(rep["packet"])]
            if state["ogg"]:
                row.append("-" if rep["stream"] is None else str(rep["stream"]))
            row.append("-" if rep["offset"] is None else str(rep["offset"]))
            if state["ogg"]:
                row.append("-" if rep["granule"] is None else str(rep["granule"]))
            row += [_fmt_toc(rep["toc"]), fr, str(rep["padding"]), ext]
            rows.append(tuple(row))
            if len(rows) >= _CHUNK:
                flush()
    finally:
        flush()
    if summ is not None:
        _print_summary(console, summ.as_dict()["summary"])


def _broken_pipe() -> None:
    raise BrokenPipeError


def _esc(s: str) -> str:
    return s.replace("[", "\\[")


_FORMAT_NAMES = {"ogg": "Ogg Opus", "bit": "opus_demo .bit", "raw": "mlcodec raw framing",
                 "packet": "single Opus packet"}


def _print_summary(console, s: dict) -> None:
    from rich.table import Table

    console.print(f"[bold]Summary[/bold]: {s['packets']} packets, {s['errors']} with errors, "
                  f"{s['packets_with_extensions']} with extensions, {s['padding_bytes']} padding bytes",
                  highlight=False)
    if s["by_id"]:
        t = Table(title="extensions per ID", title_justify="left")
        t.add_column("id", justify="right")
        t.add_column("name")
        t.add_column("count", justify="right")
        t.add_column("bytes", justify="right")
        for r in s["by_id"]:
            t.add_row(str(r["id"]), r["name"], str(r["count"]), str(r["bytes"]))
        console.print(t)
        t = Table(title="extensions per frame", title_justify="left")
        t.add_column("frame", justify="right")
        t.add_column("count", justify="right")
        for r in s["by_frame"]:
            t.add_row(str(r["frame"]), str(r["count"]))
        console.print(t)


COMMANDS = [inspect_extensions]
