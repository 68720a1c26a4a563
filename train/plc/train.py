"""Seeded, resumable training of the neural PLC predictor (CPU; docs/loss.md "Training").

    python -m train.plc.train --out /work/cache/plc/run2 --steps 700 --batch 64 --seed 1 --time-budget 1150
    python -m train.plc.export --ckpt /work/cache/plc/run2/ckpt.pt --out mlcodec/models/plc_v1.bin

Batches are random 2 s windows of the training speakers' decoded features
(train/plc/data.py). Each window gets a loss pattern of 20 ms packets from
:class:`mlcodec.codec.loss.GilbertElliott` with a random rate (5..50 %) and mean burst
(1..10 packets), seeded from the batch generator; the first 200 ms are always received.
The loss is :func:`train.plc.model.plc_distortion` of each prediction of the next frame,
weighted 1 where that frame is lost (what the concealer uses) and 0.2 where it is received.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from mlcodec.codec.loss import GilbertElliott
from train.plc.model import PLCArch, PLCNet, plc_distortion

WARMUP_FRAMES = 20


@dataclass(frozen=True)
class PLCTrainConfig:
    seed: int = 1
    seq: int = 200            # frames per window (2 s)
    batch: int = 64
    steps: int = 700
    lr: float = 3e-3
    lr_final: float = 1e-4    # cosine decay to this
    received_weight: float = 0.2
    threads: int = 1          # 1 thread: deterministic and fastest on the shared 2-core machine
    log_every: int = 50
    ckpt_every: int = 250


def lr_at(step: int, tc: PLCTrainConfig) -> float:
    warm = min(100, max(1, tc.steps // 20))
    if step < warm:
        return tc.lr * (step + 1) / warm
    p = min(1.0, (step - warm) / max(1, tc.steps - warm))
    return tc.lr_final + 0.5 * (tc.lr - tc.lr_final) * (1 + math.cos(math.pi * p))


class PLCBatcher:
    """Seeded windows of features and loss masks (1 = received)."""

    def __init__(self, feats: np.ndarray, tc: PLCTrainConfig):
        if len(feats) <= tc.seq + 1:
            raise ValueError(f"need more than {tc.seq + 1} feature frames, got {len(feats)}")
        self.feats, self.tc = feats, tc
        self.rng = np.random.default_rng(tc.seed)

    def mask(self) -> np.ndarray:
        n_pk = (self.tc.seq + 1) // 2 + 1
        p = self.rng.uniform(0.05, 0.5)
        burst = self.rng.uniform(1.0, 10.0)
        p = min(p, 0.95 * burst / (1 + burst))
        lost = GilbertElliott(p, burst, seed=int(self.rng.integers(1 << 31))).flags(n_pk)
        m = 1.0 - np.repeat(lost, 2)[: self.tc.seq + 1].astype(np.float32)
        m[:WARMUP_FRAMES] = 1.0
        return m

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        T = self.tc.seq + 1
        starts = self.rng.integers(0, len(self.feats) - T, self.tc.batch)
        x = self.feats[starts[:, None] + np.arange(T)[None, :]]
        m = np.stack([self.mask() for _ in range(self.tc.batch)])
        return x, m

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, st: dict) -> None:
        self.rng.bit_generator.state = st


def make_model(arch: PLCArch, feats: np.ndarray, seed: int) -> PLCNet:
    torch.manual_seed(seed)
    model = PLCNet(arch)
    model.set_normalisation(feats)
    return model


def train_loop(model: PLCNet, batcher: PLCBatcher, tc: PLCTrainConfig, out: Path | None = None, log=print,
               time_budget_s: float = 0.0) -> dict:
    """Train in place; checkpoints to ``out/ckpt.pt`` every ``ckpt_every`` steps and resumes from it."""
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
    hist, run_l, run_lost, nrun = [], 0.0, 0.0, 0
    while step < tc.steps:
        if time_budget_s and time.time() - t0 > time_budget_s:
            log(f"time budget reached at step {step} (checkpoint saved: rerun to resume)")
            if ckpt:
                _save(ckpt, model, opt, step, batcher, tc)
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        x, m = batcher.next()
        x, m = torch.from_numpy(x), torch.from_numpy(m)
        y = model(x[:, :-1], m[:, :-1])
        d = plc_distortion(x[:, 1:], y)
        w = torch.where(m[:, 1:] > 0, tc.received_weight, 1.0)
        loss = (d * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        lost = m[:, 1:] == 0
        run_l += float(loss.detach())
        run_lost += float(d.detach()[lost].mean()) if bool(lost.any()) else 0.0
        nrun += 1
        if step % tc.log_every == 0 or step == tc.steps:
            rec = {"step": step, "loss": round(run_l / nrun, 4), "lost_frame_dist": round(run_lost / nrun, 4),
                   "lr": lr_at(step - 1, tc), "elapsed_s": round(time.time() - t0, 1)}
            hist.append(rec)
            log(json.dumps(rec))
            run_l = run_lost = 0.0
            nrun = 0
        if ckpt and (step % tc.ckpt_every == 0 or step == tc.steps):
            _save(ckpt, model, opt, step, batcher, tc)
    return {"steps": step, "history": hist, "seconds": time.time() - t0}


def _save(ckpt: Path, model, opt, step, batcher, tc) -> None:
    tmp = ckpt.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "batcher": batcher.state(), "torch_rng": torch.get_rng_state(),
                "arch": asdict(model.arch), "train": asdict(tc)}, tmp)
    os.replace(tmp, ckpt)


def load_model(ckpt: Path) -> PLCNet:
    st = torch.load(ckpt, weights_only=False)
    model = PLCNet(PLCArch(**st["arch"]))
    model.load_state_dict(st["model"])
    model.eval()
    return model


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, log)")
    ap.add_argument("--steps", type=int, default=PLCTrainConfig.steps)
    ap.add_argument("--batch", type=int, default=PLCTrainConfig.batch)
    ap.add_argument("--seed", type=int, default=PLCTrainConfig.seed)
    ap.add_argument("--dense", type=int, default=PLCArch.dense)
    ap.add_argument("--gru", type=int, default=PLCArch.gru)
    ap.add_argument("--preset", default="3k", help="codec preset of the training features, or 'clean'")
    ap.add_argument("--synthetic", type=int, default=0, help="train on N synthetic frames (smoke test)")
    ap.add_argument("--time-budget", type=float, default=0.0, help="safety wall limit in seconds (0 = none)")
    args = ap.parse_args(argv)
    tc = replace(PLCTrainConfig(), steps=args.steps, batch=args.batch, seed=args.seed)
    arch = PLCArch(args.dense, args.gru)
    torch.set_num_threads(tc.threads)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    logf = open(args.out / "train.log", "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    if args.synthetic:
        from train.data import synthetic_features
        feats = synthetic_features(args.synthetic, seed=tc.seed)
    else:
        from train.plc.data import load_split
        feats, starts = load_split("train", preset=args.preset, log=log)
        log(f"training files {len(starts)}, frames {len(feats)} ({len(feats) / 360000:.2f} h, preset {args.preset})")
    model = make_model(arch, feats, tc.seed)
    (args.out / "config.json").write_text(json.dumps({"arch": asdict(arch), "train": asdict(tc)}, indent=1))
    res = train_loop(model, PLCBatcher(feats, tc), tc, args.out, log, args.time_budget)
    log(json.dumps({"done": res["steps"], "seconds": round(res["seconds"], 1)}))


if __name__ == "__main__":
    main()
