"""Fuzz the DRED payload parser: N hostile inputs, every one must parse or raise DredError.

Inputs (seeded, deterministic): random bodies after a valid 'D', 12 prefix; real libopus DRED
payloads from the vectors with bit flips, truncations, insertions and spliced tails; fully
random bytes; and long random bodies. Half are parsed strict, half lenient (libopus's reading
past the end). Tables: libopus's (from ../shared/libopus/dred-tables) when present, else
synthetic ones of the same shape. Records inputs/s, outcomes, any other exception (must be 0)
and peak RSS into docs/reliability-dred.md (section "DRED parser").

    PYTHONPATH=. python bench/fuzz_dred.py [-n 1000000] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import one_thread, write_section  # noqa: E402

one_thread()

import numpy as np  # noqa: E402

from mlcodec.bitstream import dred as D  # noqa: E402

SHARED = ROOT.parent / "shared"
OUT = ROOT / "docs" / "reliability-dred.md"
BEGIN, END = "<!-- BEGIN fuzz_dred -->", "<!-- END fuzz_dred -->"


def load_tables():
    src = SHARED / "libopus" / "dred-tables"
    if (src / "dred_rdovae_stats_data.c").is_file():
        from mlcodec.libopus.sources import import_dred_tables
        from mlcodec.nn.weights import read_weights

        return D.DredTables.from_records(read_weights(import_dred_tables(src))), "libopus 1.6.1"
    rng = np.random.default_rng(0)

    def t(dim, lo, hi):
        return rng.integers(lo, hi, size=(16, dim)).astype(np.uint8)

    return D.DredTables(12, t(25, 0, 256), t(25, 0, 256), t(25, 0, 256), t(25, 0, 256),
                        t(50, 1, 256), t(50, 0, 256), t(50, 0, 256), t(50, 0, 256)), "synthetic"


def real_payloads() -> list[bytes]:
    from mlcodec.bitstream.packet import packet_extensions, parse_packet
    from mlcodec.containers.opusdemo import iter_bit

    d = SHARED / "vectors" / "dred"
    out = []
    if not (d / "index.json").is_file():
        return out
    for s in json.loads((d / "index.json").read_text())["streams"]:
        with open(d / s["bit"], "rb") as f:
            for bp in iter_bit(f):
                for e in packet_extensions(parse_packet(bp.data)):
                    if e.id == 126:
                        out.append(e.data)
    return out


def inputs(n: int, seed: int, real: list[bytes]):
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 20, size=n)
    for i in range(n):
        k = int(kinds[i])
        if k < 9:  # 45 %: random body after a valid prefix
            yield b"D\x0c" + rng.bytes(int(rng.integers(0, 49)))
        elif k < 16 and real:  # 35 %: mutated real payload
            p = bytearray(real[int(rng.integers(len(real)))])
            m = int(rng.integers(4))
            if m == 0:
                for _ in range(int(rng.integers(1, 4))):
                    j = int(rng.integers(len(p)))
                    p[j] ^= 1 << int(rng.integers(8))
            elif m == 1:
                p = p[: int(rng.integers(len(p) + 1))]
            elif m == 2:
                j = int(rng.integers(len(p) + 1))
                p[j:j] = rng.bytes(int(rng.integers(1, 8)))
            else:
                j = int(rng.integers(2, len(p) + 1))
                p = p[:j] + rng.bytes(int(rng.integers(0, 40)))
            yield bytes(p)
        elif k < 19:  # 15 %: anything at all
            yield rng.bytes(int(rng.integers(0, 20)))
        else:  # 5 %: long bodies (many latents, runaway escapes)
            yield b"D\x0c" + rng.bytes(int(rng.integers(64, 400)))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    tables, tables_from = load_tables()
    real = real_payloads()
    outcome = {"parsed": 0, "parsed_with_latents": 0, "dred_error": 0, "other_exception": 0}
    reasons: dict[str, int] = {}
    first_other = None
    rss = [("start", rss_mib())]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i, data in enumerate(inputs(args.n, args.seed, real)):
        try:
            d = D.parse_dred(data, tables, strict=bool(i & 1))
            outcome["parsed"] += 1
            outcome["parsed_with_latents"] += bool(d.latents)
        except D.DredError as e:
            outcome["dred_error"] += 1
            key = e.reason.split(":")[1].split("(")[0].strip()[:60] if ":" in e.reason else e.reason[:60]
            key = "".join(c if not c.isdigit() else "N" for c in key)
            reasons[key] = reasons.get(key, 0) + 1
        except Exception:  # noqa: BLE001 - the point of the exercise
            outcome["other_exception"] += 1
            if first_other is None:
                first_other = (data.hex(), traceback.format_exc())
        if (i + 1) % (args.n // 10 or 1) == 0:
            rss.append((f"{i + 1:,}", rss_mib()))
            print(f"{i + 1:,} inputs, {time.perf_counter() - t0:.0f} s, {outcome}", file=sys.stderr)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rate = args.n / wall
    print(json.dumps({"n": args.n, "seconds": wall, "cpu_seconds": cpu, "inputs_per_s": rate,
                      "inputs_per_cpu_s": args.n / cpu, **outcome, "peak_rss_mib": rss[-1][1]}))
    if first_other:
        print("first other exception on", first_other[0], "\n", first_other[1], file=sys.stderr)
    if not args.no_write:
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:8]
        section = "\n".join([
            BEGIN,
            "## DRED parser",
            "",
            f"`PYTHONPATH=. python bench/fuzz_dred.py -n {args.n}` (seed {args.seed}), "
            f"{time.strftime('%Y-%m-%d')}, {platform.python_implementation()} {platform.python_version()}, "
            f"one thread on a shared 2-core machine; tables: {tables_from}; "
            f"{len(real)} real libopus payloads as mutation seeds.",
            "",
            "| inputs | wall s | CPU s | inputs/s (wall) | inputs/CPU s | parsed | with latents | DredError "
            "| other exceptions | peak RSS |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {args.n:,} | {wall:.0f} | {cpu:.0f} | {rate:,.0f} | {args.n / cpu:,.0f} | {outcome['parsed']:,} | "
            f"{outcome['parsed_with_latents']:,} | "
            f"{outcome['dred_error']:,} | **{outcome['other_exception']}** | {rss[-1][1]:.0f} MiB |",
            "",
            "Peak RSS as the run goes (MiB; flat means no growth with the number of inputs): "
            + ", ".join(f"{k}: {v:.0f}" for k, v in rss) + ".",
            "",
            "Most common DredError reasons (digits shown as N):",
            "",
            *[f"- {k}: {v:,}" for k, v in top],
            "",
            "Inputs: 45 % random bodies after a valid `D`,12 prefix (0-48 bytes), 35 % real payloads "
            "with bit flips / truncation / insertion / a random tail, 15 % random bytes (0-19), "
            "5 % long random bodies (64-400 bytes); odd inputs strict, even ones lenient. "
            "The parser bounds every value (at most 4096 escape codes; strict mode stops at the "
            "end of the data), so no input can make it loop without end. Wall-clock rates depend on "
            "the machine's load; inputs per CPU second is the parser's own rate. Peak RSS includes "
            "the interpreter, NumPy and the seed payloads.",
            END,
            "",
        ])
        write_section(OUT, BEGIN, END, section, "# Reliability: the DRED parser\n\n"
                      "How the DRED payload parser (`mlcodec/bitstream/dred.py`) behaves on hostile input.\n")
    return 1 if outcome["other_exception"] else 0


if __name__ == "__main__":
    sys.exit(main())
