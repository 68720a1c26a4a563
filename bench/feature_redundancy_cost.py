"""Cost and recovery of the feature redundancy (``encode --redundancy MS``, docs/loss.md s5) on the
speaker-disjoint evaluation files (bench/eval_subset.py ``eval_files``).

    python bench/feature_redundancy_cost.py [--files 16] [--json out.json]

Cost: every file is encoded as ``mlcodec encode`` does (two-pass, settings tag, 3k by default)
with and without redundancy; the cost is the whole-file bytes difference x 8 / duration, summed
over the files (headers and Ogg framing included), for 120 and 20 ms packets. Every primary
payload is checked to be the same as without redundancy (``primary_identical``).

Recovery: on each file's no-loss decode (3k, 120 ms / 20 ms packets, 500 ms of redundancy) a
burst of B ms is lost every second (after >= 400 ms of history, on packet boundaries); the lost
frames are rebuilt from the redundancy of the packets that arrived (RecoveryStore, what the
decoder does) and, for comparison, concealed from the frames before the burst (RepeatFade,
NeuralConcealer). Errors against the no-loss decoded features: c1..c17 RMSE, c0 mean absolute
error (1 unit ~ 2.4 dB), pitch error in cents on frames voiced in the reference.

Trace: each file's 20 ms stream, with and without 500 ms of redundancy, decoded whole under
``--trace`` (libopus lossgen, 20 %) as ``mlcodec decode --loss-trace`` does (default
concealer), against its own no-loss decode: errors over the frames that differ and c1..c17
RMSE over the whole file.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eval_subset import eval_files  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"
HIST_MS = (0, 100, 200, 500, 1040)


def _encode(x, frame_ms, ms, bitrate):
    from mlcodec.io.transcode import encode_chunks

    b = io.BytesIO()
    enc = encode_chunks([x], b, bitrate=bitrate, frame_ms=frame_ms, redundancy_ms=ms)
    return b.getvalue(), enc


def _primary(data):
    """The primary payloads (ID 122, or None for DTX) of a stream's packets."""
    from mlcodec.codec import format as fmt
    from mlcodec.containers.oggopus import read_ogg_opus

    return [fmt.carrier_payload(p.data) for p in read_ogg_opus(io.BytesIO(data)).packets()]


def _errors(est, ref):
    d = est - ref
    v = ref[:, 19] > 0.1
    cents = 1200 * np.abs(d[v, 18]) if v.any() else np.zeros(0)
    return {"ceps_sq": float((d[:, 1:18] ** 2).sum()), "c0_abs": float(np.abs(d[:, 0]).sum()),
            "frames": int(d.shape[0]), "cents": float(cents.sum()), "voiced": int(v.sum())}


def recovery(data, frame_ms, burst_ms, concealers):
    """Errors of rebuilt and concealed frames for bursts of ``burst_ms`` every second."""
    from mlcodec import codec  # noqa: F401  (registers the extension IDs)
    from mlcodec.codec import format as fmt
    from mlcodec.codec.decoder import StreamDecoder
    from mlcodec.codec.feature_redundancy import RecoveryStore
    from mlcodec.containers.oggopus import read_ogg_opus

    sd = StreamDecoder(io.BytesIO(data), vocoder="reference", keep_features=True)
    list(sd)
    ref = np.concatenate(sd.features)
    pk = [p.data for p in read_ogg_opus(io.BytesIO(data)).packets()]
    fpp = 2 * frame_ms // 20
    nb = max(burst_ms // frame_ms, 1)
    lost = set()
    starts = []
    t = max(400 // frame_ms, 1)
    while (t + nb) * fpp < ref.shape[0] - 100:
        starts.append(t)
        lost.update(range(t, t + nb))
        t += max(1000 // frame_ms, nb + 1)
    store = RecoveryStore(frame_ms, horizon_ms=10 ** 9)  # every packet is added before the queries
    for i, p in enumerate(pk):
        if i not in lost:
            store.add(i, fmt.redundancy_payload(p))
    out = {}
    for s in starts:
        a, n = s * fpp, nb * fpp
        truth = ref[a:a + n]
        have = store.features_for_missing(a, n)[1]
        rows = {}
        for name, make in concealers.items():
            c = make()
            c.observe(ref[:a])
            con = np.asarray(c.conceal(n), np.float32)
            rows[name] = con
            c2 = make()
            c2.observe(ref[:a])
            mixed = store.rebuild(a, n, c2)   # what the decoder does
            rows[f"redundancy + {name}"] = mixed
        for name, est in rows.items():
            e = _errors(est, truth)
            acc = out.setdefault(name, {k: 0.0 for k in e})
            for k, v in e.items():
                acc[k] += v
        acc = out.setdefault("_covered", {"frames": 0, "rebuilt": 0})
        acc["frames"] += n
        acc["rebuilt"] += int(have.sum())
    return out


def trace_decode(plain, red, trace_path):
    """Feature errors of the whole decode under a recorded loss trace (the stream decoder's
    --loss-trace path), with and without redundancy, against each stream's no-loss decode:
    over the frames of lost packets and over the whole file."""
    from mlcodec.codec.decoder import StreamDecoder
    from mlcodec.codec.loss import Trace

    out = {}
    for name, data in (("plain", plain), ("redundancy 500 ms", red)):
        feats = []
        for loss in (None, Trace.parse(Path(trace_path).read_bytes(), file=str(trace_path))):
            sd = StreamDecoder(io.BytesIO(data), vocoder="reference", keep_features=True, loss=loss)
            list(sd)
            feats.append(np.concatenate(sd.features))
        ref, got = feats
        diff = np.abs(got - ref).max(1) > 0
        e = _errors(got[diff], ref[diff]) if diff.any() else _errors(ref[:0], ref[:0])
        e["all_ceps_sq"] = float(((got[:, 1:18] - ref[:, 1:18]) ** 2).sum())
        e["all_frames"] = int(ref.shape[0])
        out[name] = e
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--bitrate", default="3k")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--trace", type=Path, default=ROOT / "test_vectors" / "loss" / "lossgen_20pct_3000.txt",
                    help="loss trace for the whole-decode comparison (20 ms packets)")
    args = ap.parse_args()
    from mlcodec.codec.plc import NeuralConcealer
    from mlcodec.codec.conceal import RepeatFade
    from mlcodec.dsp.audio import read_audio

    files = eval_files(SPEECH)[: args.files]
    res = {"files": [str(f.relative_to(SPEECH)) for f in files], "bitrate": args.bitrate, "cost": [], "recovery": []}
    t0 = time.time()
    dur = 0.0
    sizes: dict = {}
    red: dict = {}
    rec: dict = {}
    tr: dict = {}
    concealers = {"RepeatFade": RepeatFade, "NeuralConcealer": NeuralConcealer}
    for f in files:
        x = read_audio(f)
        dur += x.shape[0] / 16000
        for fm in (120, 20):
            for ms in HIST_MS:
                data, enc = _encode(x, fm, ms, args.bitrate)
                prim = _primary(data)
                if ms == 0:
                    base_prim = prim
                elif prim != base_prim:
                    res.setdefault("primary_differs", []).append([f.name, fm, ms])
                sizes[(fm, ms)] = sizes.get((fm, ms), 0) + len(data)
                red[(fm, ms)] = red.get((fm, ms), 0) + enc.redundancy_bytes
                if ms == 500 and fm == 20:
                    for name, acc in trace_decode(_encode(x, fm, 0, args.bitrate)[0], data, args.trace).items():
                        tot = tr.setdefault(name, {})
                        for k, v in acc.items():
                            tot[k] = tot.get(k, 0) + v
                if ms == 500:
                    for b in (fm, 120, 360) if fm == 20 else (120, 360):
                        for name, acc in recovery(data, fm, b, concealers).items():
                            tot = rec.setdefault((fm, b, name), {})
                            for k, v in acc.items():
                                tot[k] = tot.get(k, 0) + v
        print(f"{f.name}: {time.time() - t0:.0f} s", file=sys.stderr)
    for (fm, ms), n in sorted(sizes.items()):
        base = sizes[(fm, 0)]
        res["cost"].append({"frame_ms": fm, "redundancy_ms": ms, "file_kbps": n * 8 / dur / 1000,
                            "cost_kbps": (n - base) * 8 / dur / 1000,
                            "per_100ms_kbps": (n - base) * 8 / dur / 1000 / ms * 100 if ms else None,
                            "redundancy_bytes_kbps": red[(fm, ms)] * 8 / dur / 1000})
    for (fm, b, name), a in sorted(rec.items()):
        if name == "_covered":
            res["recovery"].append({"frame_ms": fm, "burst_ms": b, "frames": a["frames"],
                                    "rebuilt_share": a["rebuilt"] / max(a["frames"], 1)})
            continue
        res["recovery"].append({"frame_ms": fm, "burst_ms": b, "method": name, "frames": int(a["frames"]),
                                "ceps_rmse": float(np.sqrt(a["ceps_sq"] / (17 * a["frames"]))),
                                "c0_mae": a["c0_abs"] / a["frames"], "pitch_cents": a["cents"] / max(a["voiced"], 1)})
    res["trace"] = {"file": args.trace.name, "rows": [
        {"stream": name, "changed_frames": a["frames"], "ceps_rmse_changed": float(np.sqrt(a["ceps_sq"] / (17 * max(a["frames"], 1)))),
         "c0_mae_changed": a["c0_abs"] / max(a["frames"], 1), "pitch_cents_changed": a["cents"] / max(a["voiced"], 1),
         "ceps_rmse_all": float(np.sqrt(a["all_ceps_sq"] / (17 * a["all_frames"])))} for name, a in tr.items()]}
    res["primary_identical"] = not res.get("primary_differs")
    res["duration_s"] = dur
    res["seconds"] = time.time() - t0
    text = json.dumps(res, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
