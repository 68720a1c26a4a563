"""The ``mlcodec`` command group. Each sub-command lives in its own module of this package.

Commands are imported lazily, only when invoked (or listed by ``--help``), so that a quick
``inspect-extensions`` does not pay for numpy/numba start-up of the codec commands.
"""
from __future__ import annotations

import importlib

import click

from mlcodec import __version__

#: command name -> (module, attribute)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "inspect-extensions": ("cli.inspect", "inspect_extensions"),
    "dump-weights": ("cli.weights", "dump_weights"),
    "encode": ("cli.codec", "encode"),
    "decode": ("cli.codec", "decode"),
    "demo": ("cli.codec", "demo"),
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use."""

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        for name, (mod, attr) in LAZY_COMMANDS.items():
            if self._load(name) is not None:
                names.add(name)
        return sorted(names)

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        return cmd if cmd is not None else self._load(cmd_name)

    @staticmethod
    def _load(name):
        spec = LAZY_COMMANDS.get(name)
        if spec is None:
            return None
        mod, attr = spec
        try:
            return getattr(importlib.import_module(mod), attr, None)
        except ModuleNotFoundError as exc:  # a command whose module is not installed yet
            if exc.name == mod:
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlcodec")
def cli() -> None:
    """mlcodec: neural speech coding carried in Opus packet extensions."""


def main() -> None:
    cli(prog_name="mlcodec")


if __name__ == "__main__":
    main()
