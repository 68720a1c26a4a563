"""``mlcodec dump-weights``: inspect, export, diff and verify libopus weights blobs (docs/weights.md)."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click

from .common import guarded
from mlcodec.errors import WeightsError
from mlcodec.nn import weights as W

#: Identifies the layout of ``--json`` output; bumped on incompatible changes.
JSON_SCHEMA = "mlcodec.dump-weights/1"


# --- optional model knowledge (mlcodec.nn.models, issue 3 layers) ------------------------


def _models():
    """``mlcodec.nn.models`` when it exists, else None (dump-weights works without it)."""
    try:
        from mlcodec.nn import models
    except ImportError:
        return None
    try:  # the shipped codec describes its own layers ('--verify codec', the shape column)
        from mlcodec.codec.model import register_codec_model
    except ImportError:
        pass
    else:
        register_codec_model()
    try:  # libopus's models, when the user has installed them ('mlcodec models install')
        from mlcodec.libopus.specs import register_installed
    except ImportError:
        pass
    else:
        register_installed()
    return models


def _layer_shapes(ws, notes: list[str]) -> dict[str, str]:
    """``models.describe_records(ws)``: record name -> layer shape text; {} when unavailable."""
    models = _models()
    describe = getattr(models, "describe_records", None) if models else None
    if describe is None:
        return {}
    try:
        only = _binding_models(models, ws)
        shapes = (describe(ws) if only is None else describe(ws, only)) or {}
        return {str(k): str(v) for k, v in dict(shapes).items()}
    except Exception as exc:  # degrade: the table is still useful without shapes
        notes.append(f"layer shapes unavailable: {type(exc).__name__}: {exc}")
        return {}


def _binding_models(models, ws):
    """The known models that bind to ``ws`` completely, or None (all of them) when none does:
    libopus's RDOVAE and our codec share record names, so a partial match must not label a blob."""
    known = getattr(models, "KNOWN_MODELS", None)
    verify = getattr(models, "verify", None)
    spec_type = getattr(models, "ModelSpec", None)
    if not known or verify is None or spec_type is None:
        return None
    specs = [name for name, spec in list(known.items()) if isinstance(spec, spec_type)]
    if len(specs) < 2:
        return None
    names = [name for name in specs if not verify(ws, name)]
    return names or None


def _verify(ws, model: str) -> list[str]:
    """Problems binding ``ws`` to ``model`` (a KNOWN_MODELS name or a model .json file)."""
    models = _models()
    verify = getattr(models, "verify", None) if models else None
    if verify is None:
        raise WeightsError("cannot verify: model descriptions (mlcodec.nn.models) are not available yet")
    path = Path(model)
    if path.suffix == ".json" or path.is_file():
        try:
            spec = json.loads(path.read_text())
        except OSError as exc:
            raise WeightsError(f"cannot read model description: {exc.strerror or exc}", file=model) from None
        except ValueError as exc:
            raise WeightsError(f"model description is not valid JSON: {exc}", file=model) from None
        target = spec
    else:
        known = getattr(models, "KNOWN_MODELS", None)
        target = model
        problems: list[str] = []
        if known is not None and model not in known:
            target, problems = _model_alias(ws, model, known)
        return problems + [str(p) for p in verify(ws, target)]
    return [str(p) for p in verify(ws, target)]


#: Shortest checksum prefix ``--verify`` takes (a prefix this long is unambiguous in practice).
MIN_CHECKSUM_PREFIX = 8


def _model_alias(ws, model: str, known) -> tuple[str, list[str]]:
    """(known model name, extra problems) for ``--verify`` given a shipped blob's name
    (``codec_v1``, as in ``mlcodec/models/codec_v1.bin``) or a SHA-256 checksum prefix (as
    streams name their model, OpusTags ``MLCODEC_MODEL_CHECKSUM``). A checksum names one exact
    blob, so a blob with another checksum gets a problem even when its layout binds."""
    want = model.lower()
    shipped = W.shipped_weights()
    for p in shipped:
        base = p.stem.split("_v")[0]
        if want in (p.stem.lower(), p.name.lower()) and base in known:
            return base, []
    if len(want) >= MIN_CHECKSUM_PREFIX and all(c in "0123456789abcdef" for c in want):
        hits = []
        for p in shipped:
            base = p.stem.split("_v")[0]
            if base in known:
                try:
                    digest = W.weights_checksum(p.read_bytes())
                except OSError:
                    continue
                if digest.startswith(want):
                    hits.append(base)
        if len(hits) == 1:
            mine = W.weights_checksum(ws)
            extra = [] if mine.startswith(want) else [
                f"checksum {mine[:16]}... is not the model {model} ({hits[0]}): another version of the weights"]
            return hits[0], extra
    names = sorted(known) + [p.stem for p in shipped if p.stem.split("_v")[0] in known]
    raise WeightsError(f"unknown model {model!r} (known: {', '.join(names) or 'none'}; or a shipped model's "
                       "checksum prefix, or a model .json file)")


# --- formatting --------------------------------------------------------------------------


def _num(x) -> float | None:
    """JSON-safe number: NaN/inf become null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
            return f"{x:.{digits - 1}e}"
        return f"{x:.{digits}g}"
    return str(x)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _record_json(rec, stats, shape) -> dict:
    s = stats.as_dict()
    for k in ("min", "max", "mean", "std", "zero_fraction", "block_sparsity"):
        s[k] = _num(s[k])
    if s["index"] is not None:
        s["index"]["density"] = _num(s["index"]["density"])
    return {
        "index": rec.index,
        "name": rec.name,
        "type": rec.type,
        "type_name": rec.type_name,
        "count": rec.count,
        "size": rec.size,
        "block_size": rec.block_size,
        "offset": rec.offset,
        "data_offset": rec.data_offset,
        "shape": shape,
        "stats": s,
    }


def _diff_json(d) -> dict:
    return {
        "name": d.name,
        "status": d.status,
        "max_abs_diff": _num(d.max_abs_diff),
        "old_type": d.old_type,
        "new_type": d.new_type,
        "old_count": d.old_count,
        "new_count": d.new_count,
    }


def _console():
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        # Pipes and files get every column at its natural width.
        console = Console(soft_wrap=False, highlight=False, width=250)
    return console


#: Table columns: (title, justify, optional). Optional columns are dropped, last first,
#: when the terminal is too narrow for the whole table.
_COLUMNS = (
    ("#", "right", False), ("name", "left", False), ("type", "left", False), ("count", "right", False),
    ("bytes", "right", True), ("block", "right", True), ("shape", "left", True),
    ("min", "right", False), ("max", "right", False), ("mean", "right", True), ("std", "right", False),
    ("zero", "right", False), ("blk0", "right", False), ("sat", "right", False), ("crc32", "left", True),
)
_DROP_ORDER = ("block", "bytes", "crc32", "mean", "shape")


def _records_table(ws, stats, shapes, console):
    from rich.table import Table

    rows = []
    for rec, st in zip(ws.records, stats):
        rows.append({
            "#": str(rec.index), "name": rec.name, "type": rec.type_name, "count": str(rec.count),
            "bytes": str(rec.size), "block": str(rec.block_size), "shape": shapes.get(rec.name, ""),
            "min": _fmt(st.min), "max": _fmt(st.max), "mean": _fmt(st.mean), "std": _fmt(st.std),
            "zero": _pct(st.zero_fraction), "blk0": _pct(st.block_sparsity), "sat": _fmt(st.saturated),
            "crc32": st.crc32,
        })
    title = (f"{ws.file or 'blob'}: {len(ws.records)} records, {len(ws.blob)} bytes, "
             f"sha256 {W.weights_checksum(ws)[:16]}")
    dropped = set() if shapes else {"shape"}

    def build():
        t = Table(title=title, title_justify="left")
        cols = [c for c in _COLUMNS if c[0] not in dropped]
        for name, justify, _ in cols:
            t.add_column(name, justify=justify, no_wrap=True)
        for row in rows:
            t.add_row(*(row[c[0]] for c in cols))
        return t

    from rich.measure import Measurement

    table = build()
    wide = console.options.update_width(10_000)
    for col in _DROP_ORDER:
        if Measurement.get(console, wide, table).maximum <= console.width:
            break
        dropped.add(col)
        table = build()
    return table


def _diff_table(diffs, a, b):
    from rich.table import Table

    t = Table(title=f"{a.file} -> {b.file}", title_justify="left")
    for col in ("name", "status", "max |diff|", "type", "count"):
        t.add_column(col, justify="right" if col in ("max |diff|", "count") else "left")
    for d in diffs:
        types = W.type_name(d.old_type) if d.old_type is not None else "-"
        if d.new_type != d.old_type:
            types += " -> " + (W.type_name(d.new_type) if d.new_type is not None else "-")
        counts = str(d.old_count if d.old_count is not None else "-")
        if d.new_count != d.old_count:
            counts += " -> " + str(d.new_count if d.new_count is not None else "-")
        t.add_row(d.name, d.status, _fmt(d.max_abs_diff), types, counts)
    return t


#: Shipped model shown when no FILE is given: the codec's, the one streams bind to.
DEFAULT_SHIPPED = "codec"


#: ``dump-weights libopus:fargan``: a model installed by ``mlcodec models install``.
LIBOPUS_PREFIX = "libopus"


def _resolve_file(file: str | None) -> str:
    """A path, ``libopus[:MODEL]`` (the installed libopus models), or the name of a shipped
    model (``codec``, ``vocoder``, or a blob's stem)."""
    if file is not None and not os.path.exists(file):
        family, sep, model = file.partition(":")
        if family == LIBOPUS_PREFIX:
            from mlcodec.libopus import store

            return str(store.blob_path(model if sep and model else "all"))
    if file is not None and (os.path.exists(file) or os.sep in file or file.endswith(".bin")):
        return file
    shipped = W.shipped_weights()
    if not shipped:
        if file is not None:
            return file  # let the reader report the missing file
        raise WeightsError("no shipped model yet; give a FILE")
    want = DEFAULT_SHIPPED if file is None else file
    exact = [p for p in shipped if p.stem == want]
    match = exact or [p for p in shipped if p.stem.split("_v")[0] == want]
    if match:  # a family name means its newest version (codec -> codec_v2.bin, the default model)
        return str(max(match, key=lambda p: int(p.stem.rsplit("_v", 1)[-1]) if p.stem.rsplit("_v", 1)[-1].isdigit()
                       else -1))
    if file is None:
        if len(shipped) == 1:
            return str(shipped[0])
        raise WeightsError("several shipped models (" + ", ".join(p.name for p in shipped) + "); give a FILE")
    return file


# --- the command -------------------------------------------------------------------------


@click.command("dump-weights")
@click.argument("file", required=False, metavar="[FILE|codec|vocoder|libopus:MODEL]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in docs/weights.md).")
@click.option("--export", "export", type=click.Path(dir_okay=False), metavar="OUT.npz", help="Save every array to this .npz file.")
@click.option("--diff", "other", type=click.Path(dir_okay=False), metavar="OTHER.bin", help="Compare with another blob, record by record.")
@click.option("--verify", "model", metavar="MODEL",
              help="Check that the blob binds to MODEL (a known model name such as codec or codec_v1, a shipped "
                   "model's checksum prefix, or a .json file).")
@click.option("--lenient", is_flag=True, help="Accept what libopus accepts (bad magic, duplicates, odd block sizes).")
@guarded
def dump_weights(file, as_json, export, other, model, lenient):
    """Show the records of a libopus weights blob FILE, of a shipped model named
    'codec' (the default) or 'vocoder', or of an installed libopus model named
    libopus:MODEL (pitchdnn, fargan, plcmodel, rdovaeenc, rdovaedec, lace, nolace,
    bbwenet, lossgen; 'libopus' alone: the combined blob).

    Prints a table of records with per-array statistics; --diff, --verify and --export
    replace the table with their own output. Exit status 1 on a corrupt blob or a failed
    --verify.
    """
    path = _resolve_file(file)
    strict = not lenient
    ws = W.read_weights(path, strict=strict)
    notes: list[str] = list(ws.warnings)
    shapes = _layer_shapes(ws, notes)
    stats = [W.record_stats(r, ws) for r in ws.records]

    diffs = None
    other_ws = None
    if other is not None:
        other_ws = W.read_weights(other, strict=strict)
        diffs = W.diff_weights(ws, other_ws)
    problems = _verify(ws, model) if model is not None else None
    if export is not None:
        W.export_npz(ws, export)

    if as_json:
        doc = {
            "schema": JSON_SCHEMA,
            "file": ws.file,
            "bytes": len(ws.blob),
            "sha256": W.weights_checksum(ws),
            "strict": strict,
            "warnings": notes,
            "records": [_record_json(r, s, shapes.get(r.name)) for r, s in zip(ws.records, stats)],
        }
        if diffs is not None:
            doc["diff"] = {"other": other_ws.file, "records": [_diff_json(d) for d in diffs]}
        if problems is not None:
            doc["verify"] = {"model": model, "ok": not problems, "problems": problems}
        if export is not None:
            doc["export"] = {"path": str(export), "arrays": len(ws)}
        click.echo(json.dumps(doc, indent=1, allow_nan=False))
    else:
        console = _console()
        for note in notes:
            click.echo(f"mlcodec: warning: {note}", err=True)
        if diffs is not None:
            console.print(_diff_table(diffs, ws, other_ws))
            changed = sum(d.status != "same" for d in diffs)
            console.print(f"{changed} of {len(diffs)} names differ")
        if problems is not None:
            if problems:
                console.print(f"{ws.file}: does not bind to {model}: {len(problems)} problem(s)")
                for p in problems:
                    console.print(f"  - {p}", markup=False)
            else:
                console.print(f"{ws.file}: binds to {model}: OK")
        if export is not None:
            console.print(f"exported {len(ws)} arrays to {export}")
        if diffs is None and problems is None and export is None:
            console.print(_records_table(ws, stats, shapes, console))
    sys.stdout.flush()
    if problems:
        raise SystemExit(1)


COMMANDS = [dump_weights]
