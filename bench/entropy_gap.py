"""How far is the shipped per-dimension Laplace model from the latents' entropy? What do
silence and pauses cost? What would rate control give? (issue 10 items 3-5; format v2)

    PYTHONPATH=$PWD nice /work/venv/bin/python bench/entropy_gap.py [--files 100]

Uses training-speaker files only (no speaker of bench/eval_subset.py's evaluation set), the
shipped codec model and quantizer, unmodified. Prints markdown tables:

1. bits/latent per preset: the Laplace model (ideal and range-coded bytes, per 20 ms payload
   vs one payload per 120 ms), empirical per-dimension entropy, conditional entropy given the
   previous latent's same-dimension symbol, given a per-frame scale class (sent, or taken from
   the previous latent). Entropies are cross-entropies: tables fit on even files, measured on
   odd files (and the reverse), add-1/2 smoothing, so they are achievable, not in-sample.
2. bits/latent in digital silence, low-level noise and the pauses between words.
3. predicted whole-file rates for rate-control designs.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_subset import MAX_S, MIN_S, eval_files  # noqa: E402

from mlcodec.codec.model import load_model, quantize, value_bits  # noqa: E402
from mlcodec.codec.payload import write_payload  # noqa: E402
from mlcodec.dsp.features import FeatureExtractor  # noqa: E402

SPEECH = Path("/work/shared/data/speech")
CLIP = 24           # symbols beyond +-CLIP share an escape bin in the empirical models
CTX = 2             # previous-symbol context clipped to -CTX..CTX


def train_files(root: Path, n: int) -> list[Path]:
    """``n`` files of speakers outside the evaluation subset (deterministic, by SHA-1 of path)."""
    ev = {p.relative_to(root).as_posix() for p in eval_files(root, 50)}
    rows = list(csv.DictReader(open(root / "manifest.csv", newline="", encoding="utf-8")))
    key = lambda r: f"{r['source']}/{r['speaker'] if r['speaker'] not in ('', 'unknown') else r['path']}"
    ev_spk = {key(r) for r in rows if r["path"] in ev}
    ok = [r for r in rows if key(r) not in ev_spk and MIN_S <= float(r["duration_s"]) <= MAX_S]
    ok.sort(key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())
    return [root / r["path"] for r in ok[:n]]


def latents(model, x16: np.ndarray) -> np.ndarray:
    """Unquantised latents (n, dim) of int16-unit samples at 16 kHz."""
    fx = FeatureExtractor()
    fr = np.concatenate([fx.process(x16.astype(np.float32)), fx.flush()])
    n = fr.shape[0] // 2
    return np.asarray(model.new_encoder().process(np.ascontiguousarray(fr[: 2 * n])))


def frame_db(x16: np.ndarray, n: int) -> np.ndarray:
    """RMS level (dBFS) of each latent's 20 ms of input."""
    x = np.zeros(n * 320)
    m = min(len(x16), n * 320)
    x[:m] = x16[:m] / 32768.0
    e = np.sqrt(np.mean(x.reshape(n, 320) ** 2, axis=1)) + 1e-9
    return 20 * np.log10(e)


# --- empirical models -------------------------------------------------------------------------

def _sym(q):
    return np.clip(q, -CLIP, CLIP)


def _xent(train_pairs, test_pairs) -> float:
    """Cross-entropy (bits) of test (ctx, sym) pairs under add-1/2 counts of train pairs.
    Pairs are (ctx array, sym array); contexts are small non-negative ints."""
    nsym = 2 * CLIP + 1
    (ctr, s_tr), (cte, s_te) = train_pairs, test_pairs
    nctx = int(max(ctr.max(initial=0), cte.max(initial=0))) + 1
    cnt = np.bincount(ctr * nsym + s_tr + CLIP, minlength=nctx * nsym).reshape(nctx, nsym) + 0.5
    p = cnt / cnt.sum(axis=1, keepdims=True)
    return float(-np.log2(p[cte, s_te + CLIP]).sum())


def _escape_bits(q) -> float:
    """Extra bits for |q| > CLIP: an Elias-gamma code of |q| - CLIP."""
    e = np.abs(q).astype(np.int64) - CLIP
    e = e[e > 0]
    return float(np.sum(2 * np.floor(np.log2(e)) + 1))


def empirical_bits(qs: list[np.ndarray], coded: np.ndarray) -> dict:
    """Bits/latent under the empirical models, 2-fold cross-validated over files."""
    folds = [qs[0::2], qs[1::2]]
    res = defaultdict(float)
    nlat = sum(q.shape[0] for q in qs)

    def pairs(files, dim, ctx):
        c = np.concatenate([ctx(q, dim) for q in files]).astype(np.int64)
        v = np.concatenate([_sym(q[:, dim]) for q in files]).astype(np.int64)
        return c, v

    def scale_class(q):       # per-latent "scale": bucket of sum |q| over dims
        a = np.abs(q).sum(axis=1)
        return np.digitize(a, [1, 3, 6, 10, 16, 25])

    ctxs = {
        "marginal": lambda q, d: np.zeros(q.shape[0], int),
        "prev symbol": lambda q, d: np.concatenate([[0], 1 + CTX + np.clip(q[:-1, d], -CTX, CTX)]),
        "scale class (prev latent)": lambda q, d: np.concatenate([[0], 1 + scale_class(q)[:-1]]),
        "scale class (sent)": lambda q, d: scale_class(q),
        "prev symbol + prev scale": lambda q, d: np.concatenate(
            [[0], 1 + (CTX + np.clip(q[:-1, d], -CTX, CTX)) * 10 + scale_class(q)[:-1]]),
    }
    for name, ctx in ctxs.items():
        for k in (0, 1):
            tr, te = folds[k], folds[1 - k]
            for d in np.flatnonzero(coded):
                res[name] += _xent(pairs(tr, d, ctx), pairs(te, d, ctx))
    # the class itself must be sent when it is taken from the current latent
    for k in (0, 1):
        tr, te = folds[k], folds[1 - k]
        tp = np.concatenate([scale_class(q) for q in tr]) - CLIP
        sp = np.concatenate([scale_class(q) for q in te]) - CLIP
        res["scale class (sent)"] += _xent((np.zeros_like(tp), tp), (np.zeros_like(sp), sp))
    esc = sum(_escape_bits(q[:, coded]) for q in qs)
    return {k: (v + esc) / nlat for k, v in res.items()}


def payload_bytes(q: np.ndarray, tables, per: int) -> int:
    """Range-coded bytes (version byte excluded) with ``per`` latents per payload."""
    return sum(len(write_payload(q[i:i + per], tables)) - 1 for i in range(0, q.shape[0], per))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--root", type=Path, default=SPEECH)
    args = ap.parse_args(argv)
    model = load_model()
    files = train_files(args.root, args.files)
    zs, dbs, secs = [], [], []
    for f in files:
        x, fs = sf.read(f, dtype="float64")
        if x.ndim > 1:
            x = x.mean(axis=1)
        assert fs == 16000, f
        x16 = x * 32768.0
        z = latents(model, x16)
        zs.append(z)
        dbs.append(frame_db(x16, z.shape[0]))
        secs.append(len(x) / 16000)
    total_s = sum(secs)
    nlat = sum(z.shape[0] for z in zs)
    print(f"# {len(files)} training-speaker files, {total_s:.0f} s, {nlat} latents "
          f"(latent_dim {model.latent_dim}); presets {model.PRESETS}\n")

    # synthetic: digital silence, white noise at -60/-50/-40 dBFS (10 s each)
    rng = np.random.default_rng(1)
    synth = {"digital silence": np.zeros(160000)}
    for lvl in (-70, -60, -50, -40):
        synth[f"white noise {lvl} dBFS rms"] = rng.standard_normal(160000) * 32768 * 10 ** (lvl / 20)
    synth_z = {k: latents(model, v)[5:] for k, v in synth.items()}

    print("## 1. bits per latent (one latent = 20 ms)\n")
    hdr = ["level", "preset", "Laplace ideal", "rc bytes 20 ms payloads", "rc bytes 120 ms payload",
           "marginal H", "H given prev symbol", "H given scale (prev)", "H given scale (sent)", "H given prev sym+scale"]
    print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    per_level = {}
    inv = {v: k for k, v in model.PRESETS.items()}
    for lv in range(model.nb_levels):
        t = model.quant_tables(lv)
        qs = [quantize(z, t) for z in zs]
        vbits = [value_bits(q, t) for q in qs]
        ideal = sum(float(v.sum()) for v in vbits) / nlat
        emp = empirical_bits(qs, t.coded)
        per_level[lv] = dict(qs=qs, vbits=vbits, ctx_ratio=emp["prev symbol"] / ideal)
        if lv not in inv and lv % 3:
            continue
        b20 = sum(payload_bytes(q, t, 1) for q in qs) * 8 / nlat
        b120 = sum(payload_bytes(q, t, 6) for q in qs) * 8 / nlat
        print(f"| {lv} | {inv.get(lv, '')} | {ideal:.1f} | {b20:.1f} | {b120:.1f} | "
              f"{emp['marginal']:.1f} | {emp['prev symbol']:.1f} | {emp['scale class (prev latent)']:.1f} | "
              f"{emp['scale class (sent)']:.1f} | {emp['prev symbol + prev scale']:.1f} |", flush=True)

    print("\n## 2. bits per latent by input level (Laplace ideal; speech files split by the "
          "latent's 20 ms RMS)\n")
    bands = [(-200, -70), (-70, -60), (-60, -50), (-50, -40), (-40, -30), (-30, 0)]
    db_all = np.concatenate(dbs)
    cols = [f"{a}..{b} dBFS" if a > -200 else f"< {b} dBFS" for a, b in bands]
    print("| level | preset | " + " | ".join(cols) + " | " + " | ".join(synth_z) + " |")
    print("|---|---|" + "---|" * (len(cols) + len(synth_z)))
    for lv in sorted({*model.PRESETS.values()}):
        t = model.quant_tables(lv)
        vb = np.concatenate([value_bits(q, t) for q in per_level[lv]["qs"]])
        cells = []
        for a, b in bands:
            m = (db_all >= a) & (db_all < b)
            cells.append(f"{vb[m].mean():.1f} ({m.mean() * 100:.0f}%)" if m.any() else "-")
        for k, z in synth_z.items():
            cells.append(f"{value_bits(quantize(z, t), t).mean():.1f}")
        print(f"| {lv} | {inv[lv]} | " + " | ".join(cells) + " |")

    print("\n## 3. predicted whole-file kb/s, v2 layout (120 ms packets: 4 B carrier + 1 lacing + "
          "range-coded latents of the packet in one payload, +0.2 bit/latent DTX flag, +4 bits level; "
          "1-byte DTX packet when all 6 latents are DTX; 27 B page header per 2.4 s; 346 B headers)\n")
    dtx_thr = (None, -55.0, -45.0, "full")

    def file_rate(vb: np.ndarray, db: np.ndarray, s: float, thr, lv: int) -> float:
        n = vb.shape[0]
        heads = 346
        if thr == "full":      # compact headers, DTX < -45 dBFS, previous-symbol contexts
            heads, thr, vb = 201, -45.0, vb * per_level[lv]["ctx_ratio"]
        byts = heads + math.ceil(s / 2.4) * 27
        for i in range(0, n, 6):
            b, d = vb[i:i + 6], db[i:i + 6]
            dtx = (d < thr) if thr is not None else np.zeros(b.shape[0], bool)
            if dtx.all():
                byts += 2
                continue
            bits = float(b[~dtx].sum()) + 0.2 * b.shape[0] + 3.0 * dtx.sum() + 4 + 1
            byts += 4 + math.ceil(bits / 8) + 1
        return byts * 8 / s / 1000

    rates = {thr: np.array([[file_rate(per_level[lv]["vbits"][i], dbs[i], secs[i], thr, lv)
                             for i in range(len(files))] for lv in range(model.nb_levels)])
             for thr in dtx_thr}
    print("| level | no DTX mean/max kb/s | DTX < -55 dBFS mean/max | DTX < -45 dBFS mean/max | "
          "DTX < -45 + compact 201 B headers + prev-symbol contexts (bits x measured ratio) |")
    print("|---|---|---|---|---|")
    for lv in range(model.nb_levels):
        cells = [f"{rates[t][lv].mean():.2f}/{rates[t][lv].max():.2f}" for t in dtx_thr]
        print(f"| {lv}{' (' + inv[lv] + ')' if lv in inv else ''} | " + " | ".join(cells) + " |")
    for thr in dtx_thr:
        rt = rates[thr]
        fr = (db_all < (-45.0 if thr == "full" else thr)).mean() * 100 if thr is not None else 0
        print(f"\n**DTX {thr if thr is not None else 'off'}** (DTX fraction of latents: {fr:.0f} %)\n")
        print("| target | fixed level (highest quality with mean <= R, max <= 1.1 R) | mean/max | "
              "two-pass per file (best level with file rate <= R) mean/max |\n|---|---|---|---|")
        for r in (1.5, 3.0, 6.0):
            ok = [lv for lv in range(model.nb_levels) if rt[lv].mean() <= r and rt[lv].max() <= 1.1 * r]
            fixed = min(ok) if ok else None
            pick = []
            for i in range(len(files)):
                good = [lv for lv in range(model.nb_levels) if rt[lv, i] <= r]
                pick.append(min(good) if good else model.nb_levels - 1)
            tp = np.array([rt[lv, i] for i, lv in enumerate(pick)])
            fs = (f"{fixed} | {rt[fixed].mean():.2f}/{rt[fixed].max():.2f}" if fixed is not None
                  else f"none (level 15: {rt[15].mean():.2f}/{rt[15].max():.2f}) | -")
            print(f"| {r}k | {fs} | {tp.mean():.2f}/{tp.max():.2f} (levels {dict(Counter(pick).most_common(4))}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
