"""Seeded, resumable training of the FARGAN-lite vocoder (PyTorch, CPU; see train/vocoder/README.md).

    .venv/bin/python -m train.vocoder.train --out /work/cache/vocoder/run1 --steps 4000 --threads 1
    .venv/bin/python -m train.vocoder.train --out /work/cache/vocoder/run1 --steps 8000 --resume
    .venv/bin/python -m train.vocoder.export --ckpt /work/cache/vocoder/run1/ckpt.pt \
        --out mlcodec/models/vocoder_v1.bin

The model runs fully auto-regressively from a cold state on each training window (exactly as
inference does); the loss is a multi-resolution STFT loss on the pre-emphasised signal
(specs 08 s1.1: FARGAN generates the pre-emphasised signal). ``--resume`` continues from
``OUT/ckpt.pt`` (model, optimiser, step, sampler and torch RNG states), so a long training
spans several sittings and a resumed run follows the same trajectory as an uninterrupted one.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from train.vocoder.data import DEFAULT_CACHE, WindowSampler, load_corpus, synthetic_corpus
from train.vocoder.model import FarganLite, VocoderConfig, mrstft_loss, preemphasis


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4000
    batch: int = 32
    frames: int = 24              # output frames per window (240 ms, 96 subframes)
    lr: float = 2e-3
    lr_final: float = 2e-4
    warmup: int = 100
    clip: float = 1.0
    seed: int = 1234
    ckpt_every: int = 100
    mix_decoded: float = 0.0      # share of windows fed codec-decoded features (train/vocoder/decoded.py)
    qat_from: int = -1            # from this step on, train int8-aware (fake quantization); -1: never


def set_determinism(seed: int, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def lr_at(step: int, tc: TrainConfig) -> float:
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    p = min(1.0, (step - tc.warmup) / max(1, tc.steps - tc.warmup))
    return tc.lr_final + 0.5 * (tc.lr - tc.lr_final) * (1 + math.cos(math.pi * p))


def _save(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(corpus: dict, tc: TrainConfig, arch: VocoderConfig = VocoderConfig(), out: Path | None = None,
          resume: bool = False, threads: int = 1, log=print, stop_after: int | None = None,
          decoded: list | None = None, init: FarganLite | None = None) -> FarganLite:
    """Train (or continue training) and return the model; checkpoints go to ``out/ckpt.pt``.

    ``stop_after`` ends this sitting after that many steps (checkpointed); ``resume`` continues.
    ``decoded``: codec-decoded feature twins of the corpus, used when ``tc.mix_decoded`` > 0.
    ``init``: a model whose weights a fresh run starts from (fine-tuning; ignored on resume).
    """
    set_determinism(tc.seed, threads)
    model = FarganLite(arch)
    if init is not None:
        model.load_state_dict(init.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.0)
    sampler = WindowSampler(corpus, tc.frames, tc.batch, tc.seed, decoded, tc.mix_decoded)
    step = 0
    history: list = []
    ckpt = out / "ckpt.pt" if out else None
    if resume and ckpt and ckpt.exists():
        st = torch.load(ckpt, weights_only=False)
        if st["arch"] != asdict(arch):
            raise SystemExit(f"checkpoint architecture {st['arch']} differs from {asdict(arch)}")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sampler.set_state(st["sampler"])
        torch.set_rng_state(st["torch_rng"])
        step = st["step"]
        history = st.get("history", [])
        log(f"resumed from {ckpt} at step {step}")
    elif out and ckpt.exists() and not resume:
        raise SystemExit(f"{ckpt} exists: pass --resume to continue it or choose another --out")
    if out:
        out.mkdir(parents=True, exist_ok=True)
    model.train()
    t0 = time.perf_counter()
    run_loss = None
    end = tc.steps if stop_after is None else min(tc.steps, step + stop_after)
    while step < end:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        if tc.qat_from >= 0 and step >= tc.qat_from and not getattr(model, "qat", False):
            model.set_qat(True)
            log(f"step {step}: int8-aware training (fake quantization) on")
        feats, target = sampler.next()
        y = model(torch.from_numpy(feats))
        loss = mrstft_loss(y, preemphasis(torch.from_numpy(target)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip)
        opt.step()
        step += 1
        lv = float(loss.detach())
        run_loss = lv if run_loss is None else 0.95 * run_loss + 0.05 * lv
        if step % 10 == 0 or step == tc.steps:
            history.append((step, lv))
            log(f"step {step:6d}  loss {lv:.4f}  avg {run_loss:.4f}  |g| {float(gn):.2f}  "
                f"lr {lr_at(step - 1, tc):.2e}  {time.perf_counter() - t0:7.0f}s")
        if ckpt and (step % tc.ckpt_every == 0 or step == end):
            _save(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "sampler": sampler.state(),
                         "torch_rng": torch.get_rng_state(), "step": step, "arch": asdict(arch),
                         "train": asdict(tc), "history": history})
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="run folder (checkpoint ckpt.pt, log)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stop-after", type=int, default=None, help="end this sitting after N steps")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CACHE, help="cached corpus (.npz; built if absent)")
    ap.add_argument("--synthetic", type=float, default=0.0, help="train on N seconds of synthetic tones (smoke)")
    for f, v in asdict(TrainConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    for f, v in asdict(VocoderConfig()).items():
        ap.add_argument(f"--arch-{f.replace('_', '-')}", type=type(v), default=v)
    ap.add_argument("--init-blob", type=Path, default=None,
                    help="start a fresh run from this FARGAN-lite blob's float weights (fine-tuning)")
    ap.add_argument("--codec-blob", type=Path, default=None,
                    help="codec model for --mix-decoded features (default: the shipped one)")
    a = ap.parse_args(argv)
    init = None
    if a.init_blob is not None:
        from train.vocoder.export import load_blob

        init = load_blob(a.init_blob)
        a.__dict__.update({f"arch_{k}": v for k, v in init.cfg.as_dict().items()})
    tc = TrainConfig(**{f: getattr(a, f) for f in asdict(TrainConfig())})
    arch = VocoderConfig(**{f: getattr(a, f"arch_{f}") for f in asdict(VocoderConfig())})
    corpus = synthetic_corpus(a.synthetic, tc.seed) if a.synthetic else load_corpus(a.corpus, log=print)
    decoded = None
    if tc.mix_decoded > 0:
        from train.vocoder.decoded import decoded_twins

        decoded = decoded_twins(corpus, None if a.synthetic else a.corpus, a.codec_blob, log=print)
    m = FarganLite(arch)
    print(json.dumps({"train": asdict(tc), "arch": asdict(arch), "params": m.n_params(), **arch.macs()}))
    train(corpus, tc, arch, a.out, a.resume, a.threads, log=lambda s: print(s, flush=True),
          stop_after=a.stop_after, decoded=decoded, init=init)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
