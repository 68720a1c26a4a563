"""The ``mlcodec`` command group (package ``mlcodec_cli``, the ``cli/`` folder). Each
sub-command lives in its own module of this package.

Commands are imported lazily, only when invoked (or listed by ``--help``), so that a quick
``inspect-extensions`` does not pay for numpy/numba start-up of the codec commands.
"""
from __future__ import annotations

import importlib
import sys

import click

from .common import EXIT_INTERRUPTED, EXIT_USAGE, _quiet_broken_pipe, error_line, flush_stdout, name_std_streams
from mlcodec import __version__

#: command name -> (module of this package, attribute)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "inspect-extensions": (".inspect", "inspect_extensions"),
    "dump-weights": (".weights", "dump_weights"),
    "encode": (".codec", "encode"),
    "decode": (".codec", "decode"),
    "demo": (".codec", "demo"),
    "codes": (".codes", "codes"),
    "models": (".models", "models"),
    "dred": (".dred", "dred"),
}

#: One-line help shown by ``mlcodec --help`` without importing the command modules (start-up:
#: issue 14). A command missing here is imported to get its help; tests/test_cli_basic.py
#: checks that each line matches the command's own docstring.
SHORT_HELP: dict[str, str] = {
    "inspect-extensions": "Show every Opus packet of FILE (Ogg Opus, opus_demo .bit, raw) and its extensions.",
    "dump-weights": "Show the records of a libopus weights blob FILE, or of a shipped model.",
    "encode": "Encode speech (any format/rate soundfile reads; - = stdin) into an mlcodec .opus file.",
    "decode": "Decode an mlcodec .opus file (- = stdin) to 16-bit WAV (- = stdout, streamed).",
    "demo": "Encode and decode the shipped sample with the shipped model into DIR (./mlcodec-demo).",
    "codes": "Write the quantized latents of an mlcodec stream (- = stdin) for machine learning.",
    "models": "Install, list and locate third-party models (libopus's PitchDNN, FARGAN, DRED, PLC, OSCE).",
    "dred": "Decode the DRED of a libopus stream (.bit, Ogg Opus, raw; - = stdin) to speech and features.",
}


def usage_error_line(exc: click.UsageError, args=()) -> str:
    """click's usage error as one line: the problem, then where the help is."""
    msg = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        path = exc.ctx.command_path
    else:  # some parser errors carry no context: name the sub-command from the arguments
        sub = next((a for a in args if a in LAZY_COMMANDS), None)
        path = f"mlcodec {sub}" if sub else "mlcodec"
    return f"{msg} (see '{path} --help')"


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use, and reports usage
    errors as one line (``mlcodec: error: ...``, exit 2) instead of click's usage block."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        name_std_streams()
        args = sys.argv[1:] if args is None else list(args)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            flush_stdout()
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `mlcodec`: the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            click.echo(f"mlcodec: error: {usage_error_line(exc, args)}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"mlcodec: error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:  # Ctrl-C outside a command body (click turns it into Abort)
            click.echo("mlcodec: error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # `mlcodec --help | head -1`
            _quiet_broken_pipe()
        except OSError as exc:  # writing --help / --version to a full disk, ...
            click.echo(f"mlcodec: error: {error_line(exc)}", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def list_commands(self, ctx):
        import importlib.util

        names = set(super().list_commands(ctx))
        for name, (mod, _attr) in LAZY_COMMANDS.items():
            if importlib.util.find_spec((__package__ or "mlcodec_cli") + mod) is not None:
                names.add(name)
        return sorted(names)

    def format_commands(self, ctx, formatter):
        """The command list, from :data:`SHORT_HELP` where it can (no command module loaded)."""
        rows = []
        for name in self.list_commands(ctx):
            text = SHORT_HELP.get(name)
            if text is None:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                text = cmd.get_short_help_str(formatter.width - 6 - max(len(n) for n in self.list_commands(ctx)))
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        return cmd if cmd is not None else self._load(cmd_name)

    @staticmethod
    def _load(name):
        spec = LAZY_COMMANDS.get(name)
        if spec is None:
            return None
        mod, attr = spec
        mod = (__package__ or "mlcodec_cli") + mod
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
