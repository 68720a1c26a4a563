"""Training-speaker vs held-out-speaker loss of a vocoder: is the gap data or capacity? (issue 11)

    .venv/bin/python -m train.vocoder.diagnose MODEL [MODEL ...] [--batches 30] [--threads 1]

MODEL is a checkpoint (``.pt``) or a FARGAN-lite blob. The same seeded windows (24 frames,
16 per batch) are drawn from the training corpus (``data.load_corpus``) and from the held-out
pool (``data.train_eval_split``'s evaluation files, speakers never trained on), and the
multi-resolution STFT training loss is averaged over each set in the float model. A held-out loss
well above the training loss means the model memorises its speakers (more data would help); equal
losses that stay high mean the model is too small (or the loss is the limit).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from train.vocoder.data import DEFAULT_CACHE, WindowSampler, build_corpus, load_corpus, train_eval_split
from train.vocoder.model import mrstft_loss, preemphasis


def mean_loss(model, corpus: dict, batches: int, seed: int = 99, frames: int = 24, batch: int = 16) -> tuple:
    """(mean, standard error) of the training loss over ``batches`` seeded batches."""
    s = WindowSampler(corpus, frames, batch, seed)
    out = []
    with torch.no_grad():
        for _ in range(batches):
            f, t = s.next()
            out.append(float(mrstft_loss(model(torch.from_numpy(f)), preemphasis(torch.from_numpy(t)))))
    return float(np.mean(out)), float(np.std(out) / np.sqrt(len(out)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CACHE)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from train.vocoder.adversarial import load_init

    train_c = load_corpus(a.corpus)
    _, ev = train_eval_split()
    held = build_corpus(ev)
    print("| model | training speakers | held-out speakers | gap |")
    print("|---|---|---|---|")
    for m in a.models:
        model = load_init(m).eval()
        tr, tr_se = mean_loss(model, train_c, a.batches)
        he, he_se = mean_loss(model, held, a.batches)
        print(f"| {m.name} | {tr:.4f} ± {tr_se:.4f} | {he:.4f} ± {he_se:.4f} | {he - tr:+.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
