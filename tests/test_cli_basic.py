from click.testing import CliRunner

from mlcodec_cli.main import cli


def test_version_and_help():
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and "mlcodec" in r.output
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0


def test_help_lists_every_command_without_loading_them():
    """`mlcodec --help` (start-up, issue 14) imports no command module, nor numpy; its one-line
    helps start like each command's own help."""
    import subprocess
    import sys
    from pathlib import Path

    from mlcodec_cli.main import LAZY_COMMANDS, SHORT_HELP

    code = ("import sys; from mlcodec_cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'mlcodec_cli.')) and m != 'mlcodec_cli.main'"
            " and m != 'mlcodec_cli.common'), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0 and r.stderr.strip() == "[]", r.stderr
    for name in LAZY_COMMANDS:
        assert f"  {name} " in r.stdout
        cmd = cli.get_command(None, name)
        assert " ".join(cmd.help.split())[:20] == SHORT_HELP[name][:20], name
