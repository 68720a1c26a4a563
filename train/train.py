"""Seeded, resumable rate-distortion training of the latent coder (CPU; see docs/training.md).

    python -m train.train --out /work/cache/run1 --steps 6000
    python -m train.export --ckpt /work/cache/run1/ckpt.pt --out mlcodec/models/codec_v1.bin

Each training sequence draws one quantizer level l (0..15); the loss is
    sum over the 2 frames of the weighted feature error + lambda_l * bits(latent)
with lambda_l log-spaced from lambda_lo (level 0, most bits) to lambda_hi.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from train.config import ArchConfig, TrainConfig
from train.data import Batcher, build_cache, split, synthetic_features, DEFAULT_SPEECH
from train.rdovae import RDOVAE, feature_distortion


def set_determinism(seed: int, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def make_model(arch: ArchConfig, feats: np.ndarray, seed: int) -> RDOVAE:
    torch.manual_seed(seed)
    model = RDOVAE(arch)
    mean = feats.mean(0).astype(np.float64)
    std = feats.std(0).astype(np.float64) + 1e-3
    model.feat_mean.copy_(torch.tensor(mean, dtype=torch.float32))
    model.feat_std.copy_(torch.tensor(std, dtype=torch.float32))
    return model


def lr_at(step: int, tc: TrainConfig) -> float:
    warm = min(100, max(1, tc.steps // 20))
    if step < warm:
        return tc.lr * (step + 1) / warm
    p = min(1.0, (step - warm) / max(1, tc.steps - warm))
    return tc.lr_final + 0.5 * (tc.lr - tc.lr_final) * (1 + math.cos(math.pi * p))


def train_loop(model: RDOVAE, batcher: Batcher, tc: TrainConfig, out: Path | None = None, log=print) -> dict:
    """Train ``model`` in place; checkpoints to ``out/ckpt.pt`` and resumes from it."""
    arch = model.arch
    lambdas = torch.tensor(tc.level_lambdas(arch.nb_levels), dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr, betas=(0.8, 0.98), eps=1e-8)
    step = 0
    ckpt = out / "ckpt.pt" if out else None
    if ckpt and ckpt.exists():
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        batcher.set_state(st["batcher"])
        torch.set_rng_state(st["torch_rng"])
        log(f"resumed from {ckpt} at step {step}")
    t0 = time.time()
    hist = []
    run_d = run_r = 0.0
    nrun = 0
    while step < tc.steps:
        if tc.time_budget_s and time.time() - t0 > tc.time_budget_s:
            log(f"time budget reached at step {step}")
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        x = torch.from_numpy(batcher.next())
        level = torch.randint(0, arch.nb_levels, (x.shape[0],))
        z = model.encode(x)
        zhat, rate = model.quantize_train(z, level)
        y = model.decode(zhat, level)
        n = y.shape[1]
        d = feature_distortion(x[:, :n], y, tc)  # (B, n)
        d_lat = d.reshape(d.shape[0], -1, arch.frames_per_latent).sum(-1)  # per latent
        loss = (d_lat + lambdas[level][:, None] * rate).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_d += float(d_lat.detach().mean())
        run_r += float(rate.detach().mean())
        nrun += 1
        if step % tc.log_every == 0 or step == tc.steps:
            rec = {"step": step, "dist": run_d / nrun, "bits": run_r / nrun, "lr": lr_at(step - 1, tc),
                   "elapsed_s": round(time.time() - t0, 1)}
            hist.append(rec)
            log(json.dumps(rec))
            run_d = run_r = 0.0
            nrun = 0
        if ckpt and (step % tc.ckpt_every == 0 or step == tc.steps):
            save_ckpt(ckpt, model, opt, step, batcher, tc)
    return {"steps": step, "history": hist, "seconds": time.time() - t0}


def save_ckpt(path: Path, model, opt, step, batcher, tc) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "batcher": batcher.state(), "torch_rng": torch.get_rng_state(),
                "arch": asdict(model.arch), "train": asdict(tc)}, tmp)
    os.replace(tmp, path)


def load_model(ckpt: Path) -> RDOVAE:
    st = torch.load(ckpt, weights_only=False)
    model = RDOVAE(ArchConfig(**st["arch"]))
    model.load_state_dict(st["model"])
    model.eval()
    return model


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, log)")
    ap.add_argument("--speech", type=Path, default=DEFAULT_SPEECH)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--batch", type=int, default=TrainConfig.batch)
    ap.add_argument("--seq", type=int, default=TrainConfig.seq_latents)
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--threads", type=int, default=TrainConfig.threads)
    ap.add_argument("--time-budget", type=float, default=0.0, help="safety wall limit in seconds (0 = none)")
    ap.add_argument("--synthetic", type=int, default=0, help="train on N synthetic frames (smoke test)")
    args = ap.parse_args(argv)
    tc = replace(TrainConfig(), steps=args.steps, batch=args.batch, seq_latents=args.seq, seed=args.seed,
                 lr=args.lr, threads=args.threads, time_budget_s=args.time_budget)
    arch = ArchConfig()
    set_determinism(tc.seed, tc.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    logf = open(args.out / "train.log", "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    if args.synthetic:
        feats = synthetic_features(args.synthetic, seed=tc.seed)
    else:
        tr, ev = split(args.speech)
        log(f"train files {len(tr)}, eval files {len(ev)} (excluded)")
        feats = build_cache(tr, args.speech, log=log)
    log(f"training frames: {len(feats)} ({len(feats) / 100 / 3600:.2f} h)")
    model = make_model(arch, feats, tc.seed)
    batcher = Batcher(feats, tc.seq_latents * arch.frames_per_latent, tc.batch, tc.seed)
    (args.out / "config.json").write_text(json.dumps({"arch": asdict(arch), "train": asdict(tc)}, indent=1))
    res = train_loop(model, batcher, tc, args.out, log)
    log(json.dumps({"done": res["steps"], "seconds": round(res["seconds"], 1)}))


if __name__ == "__main__":
    main()
