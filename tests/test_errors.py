"""mlcodec.errors: one hierarchy, one line per error, ``FILE: offset N: reason``."""
from __future__ import annotations

import pytest

from mlcodec import errors as E
from mlcodec.errors import MlcodecError, WeightsError

SUBCLASSES = [E.PacketError, E.ExtensionError, E.RangeCoderError, E.ContainerError, E.WeightsError,
              E.AudioError, E.OutputError, E.CodecError]


@pytest.mark.parametrize("file, offset, want", [
    ("a.opus", 17, "a.opus: offset 17: bad thing"),
    ("a.opus", None, "a.opus: bad thing"),
    (None, 17, "offset 17: bad thing"),
    (None, None, "bad thing"),
    ("a.opus", 0, "a.opus: offset 0: bad thing"),  # offset 0 is a place, not "unknown"
    ("-", 3, "-: offset 3: bad thing"),  # the CLI renames "-" to <stdin> itself
])
def test_str_is_file_offset_reason(file, offset, want):
    err = MlcodecError("bad thing", file=file, offset=offset)
    assert str(err) == want
    assert ", offset" not in str(err) and "\n" not in str(err)


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
def test_subclasses_share_the_format(cls):
    err = cls("why", file="f.bin", offset=5)
    assert isinstance(err, MlcodecError) and str(err) == "f.bin: offset 5: why"
    assert err.args == ("why",) and err.reason == "why"


def test_with_file_sets_only_a_missing_name():
    err = WeightsError("short record", offset=8)
    assert err.with_file("w.bin") is err and str(err) == "w.bin: offset 8: short record"
    assert str(err.with_file("other.bin")) == "w.bin: offset 8: short record"


def test_str_matches_the_cli_error_line():
    """The library's own text and the CLI's line (cli/common.error_line) agree for files."""
    from mlcodec_cli.common import error_line

    for file, offset in [("x.wav", 4), ("x.wav", None), (None, 9), (None, None)]:
        err = E.AudioError("r", file=file, offset=offset)
        assert error_line(err) == str(err)
