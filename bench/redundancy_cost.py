"""Cost of the redundancy payload (mlcodec.codec.redundancy) per 100 ms of history.

    python bench/redundancy_cost.py [--files 40] [--json out.json]

On codec latents of training files (train.data.split; the first FILES in manifest order,
int8 encoder of the shipped model) every 20 ms packet position t >= 1040 ms gets a payload
with the history latents t-1, t-2, ... (newest first; offset 0, no state, no silence
skipping), quantised with the DRED schedule q(k) = min(qmax, q0 + (DQ_TABLE[dQ]*k + 8)//16).
Reports the mean payload bytes (version byte included, extension framing excluded) and the
rate it adds with one payload per 20 ms packet and per 60 ms packet.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcodec.codec.model import load_model, quantize  # noqa: E402
from mlcodec.codec.redundancy import Redundancy, level_schedule, write_redundancy  # noqa: E402
from train.data import file_features, split  # noqa: E402

HIST_MS = (100, 200, 500, 1040)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--stride", type=int, default=5, help="use every STRIDE-th packet position")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    model = load_model()
    tables = model.quant_tables
    tr, _ = split()
    lat = []
    for rel in tr[: args.files]:
        f = file_features(rel)
        lat.append(model.new_encoder().process(f[: len(f) // 2 * 2]))
    q0_3k = model.PRESETS["3k"]
    schedules = [(q0_3k, 0, 15), (q0_3k, 3, 15), (q0_3k, 5, 15), (q0_3k + 2, 5, 15), (6, 5, 15)]
    res = []
    nmax = max(HIST_MS) // 20
    for q0, dq, qmax in schedules:
        lv = level_schedule(q0, dq, qmax, nmax)
        for h in HIST_MS:
            n = h // 20
            sizes = []
            for z in lat:
                qz = {l: quantize(z, tables(l)) for l in set(lv[:n])}
                for t in range(nmax, len(z), args.stride):
                    hist = np.array([qz[lv[k]][t - 1 - k] for k in range(n)])
                    sizes.append(len(write_redundancy(Redundancy(q0, dq, qmax, 0, np.zeros(0), hist), tables)))
            b = float(np.mean(sizes))
            res.append({"q0": q0, "dQ": dq, "qmax": qmax, "history_ms": h, "payloads": len(sizes),
                        "bytes": round(b, 2), "kbps_20ms": round(b * 8 / 20, 2), "kbps_60ms": round(b * 8 / 60, 2),
                        "kbps_20ms_per_100ms": round(b * 8 / 20 / (h / 100), 2)})
    print(f"{len(lat)} training files, {sum(len(z) for z in lat)} latents; 3k preset level {q0_3k}")
    print("| q0 | dQ | qmax | history | mean bytes | kb/s (20 ms packets) | kb/s (60 ms packets) | kb/s per 100 ms (20 ms packets) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in res:
        print(f"| {r['q0']} | {r['dQ']} | {r['qmax']} | {r['history_ms']} ms | {r['bytes']:.1f} | {r['kbps_20ms']:.2f} | "
              f"{r['kbps_60ms']:.2f} | {r['kbps_20ms_per_100ms']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
