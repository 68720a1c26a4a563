"""``mlcodec models``: install, list and locate libopus's models in the user cache (docs/libopus.md)."""
from __future__ import annotations

import json
import sys

import click

from .common import guarded

#: Identifies the layout of ``models list --json``; bumped on incompatible changes.
JSON_SCHEMA = "mlcodec.models/1"
FAMILIES = ("libopus",)


@click.group("models")
def models():
    """Install, list and locate third-party models (libopus's PitchDNN, FARGAN, DRED, PLC, OSCE)."""


def _progress_bar():
    """(context manager, callback) showing a rich bar on a terminal, nothing otherwise."""
    import contextlib

    if not sys.stderr.isatty():
        return contextlib.nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   DownloadColumn(), console=Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def cb(stage: str, done: int, total: int):
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)

    return bar, cb


@models.command("install")
@click.argument("family", type=click.Choice(FAMILIES))
@click.argument("source", required=False, metavar="[SOURCE]")
@click.option("--download", is_flag=True,
              help="Fetch the official libopus 1.6.1 model release (media.xiph.org), sha256 pinned.")
@click.option("--sha256", metavar="HEX", help="Expected sha256 of a SOURCE file or URL (checked before use).")
@guarded
def install(family, source, download, sha256):
    """Import libopus's models from SOURCE into the user cache.

    SOURCE is a libopus 1.5+ source directory (or its dnn/), a release tarball
    (opus-1.6.1.tar.gz, Debian's opus_1.6.1.orig.tar.xz), the model bundle
    opus_data-<sha256>.tar.gz, or an http(s) URL of that bundle. The weights are
    BSD-3-Clause (libopus's COPYING is installed beside them).
    """
    from mlcodec.libopus import store

    if download == (source is not None):
        raise click.UsageError("give a SOURCE or --download (not both)")
    if download:
        sha, _ = next((k, v) for k, v in store.RELEASES.items() if v == store.DEFAULT_VERSION)
        source = store.RELEASE_URL.format(sha256=sha)
    bar, cb = _progress_bar()
    with bar:
        s = store.install(source, sha256=sha256, progress=cb)
    total = sum(f["bytes"] for f in s.files.values())
    click.echo(f"installed {s.name}: {len(s.files)} blobs, {total:,} bytes in {s.path}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema in docs/libopus.md).")
@guarded
def list_(as_json):
    """Show the installed model sets: each blob with its size and sha256, and where it came from."""
    from mlcodec.libopus import store

    sets = store.installed()
    if as_json:
        click.echo(json.dumps({"schema": JSON_SCHEMA, "dir": str(store.models_dir()),
                               "sets": [s.to_json() for s in sets]}, indent=1))
        return
    if not sets:
        click.echo(f"no models installed in {store.models_dir()} (see 'mlcodec models install --help')")
        return
    for s in sets:
        src = s.index.get("source")
        sha = s.index.get("source_sha256")
        click.echo(f"{s.name}  {s.path}")
        click.echo(f"  source: {src}" + (f" (sha256 {sha[:16]}...)" if sha else "") +
                   f", installed {s.index.get('installed', '?')}")
        for name, f in s.files.items():
            click.echo(f"  {name:<22} {f['bytes']:>10,} bytes  {f['records']:>4} records  sha256 {f['sha256'][:16]}")


@models.command("path")
@click.argument("name", required=False, metavar="[MODEL]")
@guarded
def path(name):
    """Print the model cache directory, or the blob file of MODEL (e.g. fargan, rdovaedec, all)."""
    from mlcodec.libopus import store

    if name is None:
        click.echo(str(store.models_dir()))
        return
    family, _, model = name.partition(":")
    if not model:
        family, model = "libopus", family
    if family not in FAMILIES:
        raise click.UsageError(f"unknown model family {family!r} (known: {', '.join(FAMILIES)})")
    click.echo(str(store.blob_path(model)))


COMMANDS = [models]
