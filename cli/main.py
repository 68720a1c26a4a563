"""The ``mlcodec`` command group. Each sub-command lives in its own module of this package."""
from __future__ import annotations

import click

from mlcodec import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlcodec")
def cli() -> None:
    """mlcodec: neural speech coding carried in Opus packet extensions."""


def _register() -> None:
    # Sub-commands register themselves here; import errors must not break the others.
    import importlib

    for mod in ("cli.inspect", "cli.weights", "cli.codec"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        for cmd in getattr(m, "COMMANDS", ()):
            cli.add_command(cmd)


_register()


def main() -> None:
    cli(prog_name="mlcodec")


if __name__ == "__main__":
    main()
