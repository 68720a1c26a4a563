from click.testing import CliRunner

from mlcodec_cli.main import cli


def test_version_and_help():
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and "mlcodec" in r.output
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
