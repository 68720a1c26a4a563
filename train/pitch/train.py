"""Seeded training of our pitch network (mlcodec.dsp.pitchnet) by distillation, and its export.

    python -m train.pitch.train --out /work/cache/pitchrun2 --steps 1500 --seed 1 --threads 1
    python -m train.pitch.train --out /work/cache/pitchrun4 --init /work/cache/pitchrun2/ckpt.pt \
        --steps 500 --lr 1e-3 --seed 2 --threads 1 --hours 1.0 --lower-hours 0.75
    python -m train.pitch.train --out /work/cache/pitchrun4 --export mlcodec/models/pitch_v1.bin

(the shipped blob; data first: docs/features.md "Pitch network").

Data: ``train.pitch.data`` (PitchDNN's inputs on training speakers, PitchDNN's logits as labels):
``--hours`` of speech (data seed 1) plus ``--lower-hours`` of other files slowed down by 0.5..0.9
(data seed 2: lower voices, rare in the corpus); 5 % of the files held out for the log's val_*.
Loss: cross-entropy of the student's 180-bin softmax against the teacher's softmax (distillation;
the teacher's sharp distribution carries its octave and unvoiced-frame behaviour). Sequences of
``--frames`` consecutive frames from one file, GRU state from zero, Adam with cosine decay.
Export: dense/GRU quantised to int8 with the core's exporter (libopus rules, specs 06 s5.1),
conv2d float; record ``pitchnet_config`` holds the sizes. The GRU state is reset per sequence;
at run time it starts at zero per stream, as trained.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

NB_IF, NB_XCORR, NB_BINS, NB_OUT = 88, 224, 180, 192


class PitchNetTorch(nn.Module):
    def __init__(self, nb_if=32, nb_down=48, nb_gru=48, ch=4):
        super().__init__()
        self.sizes = (nb_if, nb_down, nb_gru)
        self.dif = nn.Linear(NB_IF, nb_if)
        self.conv1 = nn.Conv2d(1, ch, 3)
        self.conv2 = nn.Conv2d(ch, 1, 3)
        self.down = nn.Linear(NB_XCORR + nb_if, nb_down)
        self.gru = nn.GRU(nb_down, nb_gru, batch_first=True)
        self.out = nn.Linear(nb_gru, NB_OUT)

    def forward(self, iff, xcf):  # (B, T, 88), (B, T, 224) -> (B, T, 192)
        h = torch.tanh(self.dif(iff))
        x = xcf.unsqueeze(1)  # (B, 1, T, 224); causal time padding 2, height padding 1 (pitchdnn.c)
        x = torch.tanh(self.conv1(nn.functional.pad(x, (1, 1, 2, 0))))
        x = torch.tanh(self.conv2(nn.functional.pad(x, (1, 1, 2, 0)))).squeeze(1)
        d = torch.tanh(self.down(torch.cat([x, h], -1)))
        g, _ = self.gru(d)
        return self.out(g)


def load_examples(paths) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for p in paths:
        z = np.load(p)
        if z["iff"].shape[0] >= 8:
            out.append((z["iff"], z["xcf"], z["logits"]))
    return out


def batches(ex, frames: int, batch: int, rng):
    """Random windows of ``frames`` frames (files shorter than that are used whole, padded)."""
    while True:
        I = np.zeros((batch, frames, NB_IF), np.float32)
        X = np.zeros((batch, frames, NB_XCORR), np.float32)
        L = np.zeros((batch, frames, NB_BINS), np.float32)
        M = np.zeros((batch, frames), np.float32)
        for b in range(batch):
            iff, xcf, lg = ex[rng.integers(len(ex))]
            n = iff.shape[0]
            s = int(rng.integers(0, max(1, n - frames + 1)))
            m = min(frames, n - s)
            I[b, :m], X[b, :m], L[b, :m], M[b, :m] = iff[s:s + m], xcf[s:s + m], lg[s:s + m], 1
        yield tuple(torch.from_numpy(a) for a in (I, X, L, M))


def loss_fn(model, I, X, L, M):
    out = model(I, X)[..., :NB_BINS]
    tgt = torch.softmax(L, -1)
    ce = -(tgt * torch.log_softmax(out, -1)).sum(-1)
    acc = ((out.argmax(-1) - L.argmax(-1)).abs() <= 2).float()
    return (ce * M).sum() / M.sum(), (acc * M).sum() / M.sum()


def train(out: Path, steps: int, seed: int, frames: int, batch: int, lr: float, sizes, log=print,
          hours: float = 1.0, lower_hours: float = 0.0, lower=(0.5, 0.9), init=None):
    from train.pitch.data import build

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    paths = build(hours, 1, log=None)
    if lower_hours > 0:  # slowed-down copies of other training files (lower voices), data seed 2
        paths = paths + build(lower_hours, 2, log=None, lower=lower)
        paths = [paths[i] for i in np.random.default_rng(seed + 3).permutation(len(paths))]
    return train_on(load_examples(paths), out, steps, seed, frames, batch, lr, sizes, log, init)


def train_on(ex, out: Path | None, steps: int, seed: int, frames: int, batch: int, lr: float, sizes,
             log=print, init: Path | None = None):
    """Train on examples [(iff, xcf, logits)]; checkpoints to ``out/ckpt.pt`` unless ``out`` is None.
    ``init``: start from that checkpoint's weights (a fine-tuning stage)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_val = max(1, len(ex) // 20)  # last 5 % of the (shuffled) files: a held-out check
    val, ex = ex[-n_val:], ex[:-n_val]
    model = PitchNetTorch(*sizes)
    if init is not None:
        ck = torch.load(init)
        model = PitchNetTorch(*ck["sizes"])
        model.load_state_dict(ck["model"])
        sizes = ck["sizes"]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    it = batches(ex, frames, batch, rng)
    vb = next(batches(val, 400, 32, np.random.default_rng(seed + 7)))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for step in range(1, steps + 1):
        I, X, L, Mk = next(it)
        loss, acc = loss_fn(model, I, X, L, Mk)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if out is not None and (step % 250 == 0 or step == steps):
            with torch.no_grad():
                vl, va = loss_fn(model, *vb)
            log(f"step {step} loss {loss.item():.4f} acc {acc.item():.4f} val_loss {vl.item():.4f} "
                f"val_acc(+-2 bins) {va.item():.4f} {time.time() - t0:.0f}s")
            torch.save({"model": model.state_dict(), "sizes": sizes, "seed": seed, "steps": step},
                       out / "ckpt.pt")
    return model


def records(model: PitchNetTorch) -> dict:
    """The blob's records: int8 dense/GRU (libopus rules), float conv2d, the config record."""
    from mlcodec.dsp.pitchnet import CONFIG, VERSION
    from mlcodec.nn.layers import linear_records
    from train.export import _gru

    def np_(t):
        return t.detach().double().numpy()

    rec = {CONFIG: np.array([VERSION, *model.sizes], np.int32)}
    for name, lin in (("pn_if", model.dif), ("pn_down", model.down), ("pn_out", model.out)):
        rec.update(linear_records(name, np_(lin.weight).T, np_(lin.bias), quantized=True, float_weights=False))
    (wi, bi), (wh, bh) = _gru(model.gru)
    rec.update(linear_records("pn_gru_input", wi, bi, quantized=True, float_weights=False))
    rec.update(linear_records("pn_gru_recurrent", wh, bh, quantized=True, float_weights=False))
    for name, c in (("pn_conv1", model.conv1), ("pn_conv2", model.conv2)):
        rec[f"{name}_weight_float"] = np_(c.weight).astype(np.float32).reshape(-1)
        rec[f"{name}_bias"] = np_(c.bias).astype(np.float32)
    return rec


def export(model: PitchNetTorch, path: Path) -> None:
    from mlcodec.nn.weights import write_weights

    path.parent.mkdir(parents=True, exist_ok=True)
    write_weights(path, records(model))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/work/cache/pitchrun")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--sizes", default="32,48,48", help="nb_if,nb_down,nb_gru")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hours", type=float, default=1.0, help="training speech (data seed 1)")
    ap.add_argument("--lower-hours", type=float, default=0.0,
                    help="slowed-down speech (data seed 2; not in the shipped pitch_v1)")
    ap.add_argument("--lower", default="0.5,0.9", help="slow-down factor range")
    ap.add_argument("--init", default=None, help="start from this checkpoint (fine-tuning stage)")
    ap.add_argument("--export", default=None, help="write the blob from OUT/ckpt.pt (no training)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    sizes = tuple(int(v) for v in a.sizes.split(","))
    if a.export:
        ck = torch.load(out / "ckpt.pt")
        model = PitchNetTorch(*ck["sizes"])
        model.load_state_dict(ck["model"])
        export(model, Path(a.export))
        print(f"wrote {a.export}")
        return 0
    train(out, a.steps, a.seed, a.frames, a.batch, a.lr, sizes, log=lambda s: print(s, flush=True),
          hours=a.hours, lower_hours=a.lower_hours, lower=tuple(float(v) for v in a.lower.split(",")),
          init=Path(a.init) if a.init else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
