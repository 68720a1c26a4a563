"""A seeded smoke run of the fuzzing campaign (bench/fuzz.py): every parser target and
``decode_file`` on mutated inputs, where only MlcodecError may escape, nothing hangs and a
failed decode leaves no half-written output. The recorded campaign (1,000,000 inputs per target)
is docs/reliability.md; this is the same harness at a size a test can afford."""
from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import fuzz  # noqa: E402
import fuzz_decode  # noqa: E402
import fuzz_targets  # noqa: E402

N = 1500


@pytest.mark.parametrize("target", fuzz.PARSER_TARGETS)
def test_parser_target(target, tmp_path):
    r = fuzz.run_parser_target(target, N, seed=1, trace_sample=100, corpus=tmp_path)
    assert r["unexpected"] == 0, r["findings"]
    assert r["hangs"] == 0 and r["inputs"] == N
    # the mutations reach both verdicts: the harness is not feeding only garbage or only seeds
    assert r["accepted"] > 0 and r["rejected"] > 0, r
    assert not list(tmp_path.iterdir())  # no findings kept


def test_decode_target(tmp_path):
    r = fuzz_decode.run_decode_target(fuzz.api, 24, 1, cli_n=0, corpus=tmp_path)
    assert r["unexpected"] == 0 and r["hangs"] == 0 and r["bad_output"] == 0, r["findings"]
    assert r["rejected"] + r["partial"] > 0 and r["max_ratio"] < fuzz.DECODE_HANG_RATIO


def test_inputs_are_a_function_of_seed_target_and_index():
    tgt = fuzz_targets.make_target("extensions", fuzz.api)
    a, b = fuzz_targets.InputGen(tgt, 1), fuzz_targets.InputGen(tgt, 2)
    assert [a.make(i) for i in (0, 7, 99)] == [fuzz_targets.InputGen(tgt, 1).make(i) for i in (0, 7, 99)]
    assert [a.make(i) for i in range(20)] != [b.make(i) for i in range(20)]


def test_harness_counts_and_keeps_unexpected_exceptions(tmp_path, monkeypatch):
    # A parser that raises IndexError on some inputs must show up as findings, kept on disk.
    real = fuzz_targets.make_target

    def make(name, api):
        t = real(name, api)
        inner = t.run

        def run(d):
            if len(d) % 5 == 0:
                raise IndexError("planted")
            inner(d)
        t.run = run
        return t
    monkeypatch.setattr(fuzz_targets, "make_target", make)
    r = fuzz.run_parser_target("packet", 300, seed=3, trace_sample=0, corpus=tmp_path)
    assert r["unexpected"] > 0 and r["unexpected_kinds"] == {"IndexError": r["unexpected"]}
    kept = sorted((tmp_path / "packet").glob("*.bin"))
    assert kept and all(len(p.read_bytes()) % 5 == 0 for p in kept)
    assert "--replay" in kept[0].with_suffix(".txt").read_text()


def test_harness_detects_a_hang(tmp_path, monkeypatch):
    import time

    real = fuzz_targets.make_target

    stuck = []

    def make(name, api):
        t = real(name, api)

        def run(d):
            if not stuck and len(d) % 7 == 3:  # one input sends the parser into an endless loop
                stuck.append(d)
                while True:
                    time.sleep(0.01)
        t.run = run
        return t
    monkeypatch.setattr(fuzz_targets, "make_target", make)
    monkeypatch.setattr(fuzz, "PARSER_HANG_S", 0.3)
    r = fuzz.run_parser_target("wav", 200, seed=1, trace_sample=0, corpus=tmp_path)
    assert r["hangs"] == 1 and r["inputs"] == 200
    assert [p.read_bytes() for p in (tmp_path / "wav").glob("*.bin")] == stuck
