"""Every Python block of docs/api.md runs (each in a fresh namespace)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_example_runs(i):
    exec(compile(BLOCKS[i], f"docs/api.md block {i + 1}", "exec"), {"__name__": "__api_doc__"})
