#!/usr/bin/env python3
"""Coverage-guided companion run of one bench/fuzz.py parser target under atheris (libFuzzer).

    python bench/fuzz_atheris.py TARGET --runs 200000 --seed 1 [--max-time 300]

Same targets, entry points (fuzz.py's ADAPTERS) and seeds as the seeded campaign; libFuzzer
mutates with coverage feedback over the instrumented ``mlcodec`` modules. Exceptions other than
MlcodecError (and warnings) are counted and kept in bench/fuzz_corpus/<target>/ instead of
stopping the run; the figures are one JSON line on stdout. atheris is a dev-only extra
(``pip install atheris``); the recorded campaign does not need it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTRUMENT = ["mlcodec.errors", "mlcodec.bitstream", "mlcodec.containers", "mlcodec.nn.weights",
              "mlcodec.codec.payload", "mlcodec.codec.format", "mlcodec.io.wav"]
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target")
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-time", type=int, default=0, help="seconds (0: no limit)")
    args = ap.parse_args()

    import atheris

    # The parsers only: instrumenting numba kernels (features, nn) breaks their compilation.
    with atheris.instrument_imports(include=INSTRUMENT, exclude=["mlcodec.inspect.kernels", "mlcodec.inspect.extwalk"]):
        import fuzz
        import fuzz_targets as T

        tgt = T.make_target(args.target, fuzz.api)
    MlcodecError = fuzz.api("MlcodecError")
    stats = {"target": args.target, "engine": "atheris", "seed": args.seed, "inputs": 0, "accepted": 0,
             "rejected": 0, "unexpected": 0, "unexpected_kinds": {}, "max_input_ms": 0.0}
    t0 = time.perf_counter()

    def finish():
        wall = time.perf_counter() - t0
        stats.update(seconds=round(wall, 1), inputs_per_s=round(stats["inputs"] / wall, 1),
                     peak_rss_mb=round(fuzz.peak_rss_mb(), 1), seeds=len(tgt.seeds))
        print(json.dumps(stats), flush=True)
        os._exit(0)

    def one(data: bytes) -> None:
        ts = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                tgt.run(data)
            stats["accepted"] += 1
        except MlcodecError:
            stats["rejected"] += 1
        except Exception as exc:  # noqa: BLE001
            kind = type(exc).__name__
            stats["unexpected"] += 1
            stats["unexpected_kinds"][kind] = stats["unexpected_kinds"].get(kind, 0) + 1
            if stats["unexpected_kinds"][kind] <= 3:
                fuzz.save_finding(args.target, args.seed, -1, data, f"atheris: {kind}: {exc}")
        stats["max_input_ms"] = max(stats["max_input_ms"], round((time.perf_counter() - ts) * 1e3, 2))
        stats["inputs"] += 1
        if stats["inputs"] >= args.runs or (args.max_time and time.perf_counter() - t0 > args.max_time):
            finish()

    corpus = tempfile.mkdtemp(prefix=f"atheris-{args.target}-")
    for k, s in enumerate(tgt.seeds):
        Path(corpus, f"seed{k:05d}").write_bytes(s)
    argv = [sys.argv[0], f"-seed={args.seed}", f"-max_len={tgt.max_len}", "-timeout=10",
            "-rss_limit_mb=2048", "-print_final_stats=0", corpus]
    atheris.Setup(argv, one)
    atheris.Fuzz()
    finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
