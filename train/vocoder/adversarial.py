"""Adversarial fine-tuning of FARGAN-lite (stage 2 of vocoder v2; see train/vocoder/README.md).

    .venv/bin/python -m train.vocoder.adversarial --init /work/cache/vocoder/v2/ckpt.pt \
        --out /work/cache/vocoder/v2adv --steps 2500 --threads 1 [--resume] [--stop-after N]

After the spectral pre-training (train.py), the generator is fine-tuned against
multi-resolution spectrogram discriminators with LSGAN + feature matching, as libopus's FARGAN
recipe does (issue 11; specs 08 s1): the conditioning network stays frozen, the generator is
frozen while the discriminators train alone for their first ``--disc-warmup`` batches, and the
generator's learning rate is low. The multi-resolution STFT loss stays in the generator's loss
(weight ``--spec``) so the short CPU run cannot drift from the spectral envelope. ``--qat``
trains int8-aware throughout (train/vocoder/qat.py). Seeded, deterministic, resumable.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from train.vocoder.data import DEFAULT_CACHE, WindowSampler, load_corpus, synthetic_corpus
from train.vocoder.model import FarganLite, mrstft_loss, preemphasis
from train.vocoder.train import set_determinism

#: Modules of the conditioning network, frozen during adversarial training.
COND_MODULES = ("pembed", "fdense1", "fconv1", "fdense2")


@dataclass(frozen=True)
class AdvConfig:
    steps: int = 2500
    batch: int = 16
    frames: int = 30
    lr_g: float = 3e-5
    lr_d: float = 1e-4
    disc_warmup: int = 200     # discriminator-only batches before the generator moves
    fm: float = 2.0            # feature-matching weight
    spec: float = 1.0          # multi-resolution STFT loss weight
    adv: float = 1.0           # LSGAN generator-loss weight
    qat: bool = True
    seed: int = 4321
    mix_decoded: float = 0.0
    ckpt_every: int = 50


class SpecDisc(nn.Module):
    """One resolution: log-magnitude STFT -> 2-D convs strided along frequency -> score map."""

    def __init__(self, n_fft: int, ch: int = 16):
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("win", torch.hann_window(n_fft), persistent=False)
        k, p = (3, 5), (1, 2)   # small and strided along frequency: about 0.1 s per batch on one core
        self.convs = nn.ModuleList([
            nn.Conv2d(1, ch, k, stride=(1, 2), padding=p),
            nn.Conv2d(ch, ch, k, stride=(1, 2), padding=p),
            nn.Conv2d(ch, ch, k, stride=(1, 2), padding=p),
            nn.Conv2d(ch, ch, (3, 3), padding=(1, 1)),
        ])
        self.out = nn.Conv2d(ch, 1, (3, 3), padding=(1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        s = torch.stft(x, self.n_fft, self.n_fft // 4, window=self.win, return_complex=True).abs()
        h = torch.log(s.transpose(1, 2)[:, None] + 1e-5)          # (B, 1, T, F)
        feats = []
        for c in self.convs:
            h = nn.functional.leaky_relu(c(h), 0.2)
            feats.append(h)
        feats.append(self.out(h))
        return feats


class MultiResDisc(nn.Module):
    def __init__(self, ffts=(256, 512, 1024)):
        super().__init__()
        self.discs = nn.ModuleList([SpecDisc(n) for n in ffts])

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [d(x) for d in self.discs]


def d_loss(real: list, fake: list) -> torch.Tensor:
    """LSGAN discriminator loss, summed over resolutions."""
    return sum(((r[-1] - 1) ** 2).mean() + (f[-1] ** 2).mean() for r, f in zip(real, fake))


def g_losses(real: list, fake: list) -> tuple[torch.Tensor, torch.Tensor]:
    """(LSGAN generator loss, feature-matching loss: L1 per layer relative to the real layer's size)."""
    adv = sum(((f[-1] - 1) ** 2).mean() for f in fake)
    fm = sum((fl - rl.detach()).abs().mean() / (rl.detach().abs().mean() + 1e-5)
             for r, f in zip(real, fake) for rl, fl in zip(r[:-1], f[:-1]))
    return adv, fm / len(real)


def _save(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_adv(corpus: dict, ac: AdvConfig, init: FarganLite, out: Path | None = None, resume: bool = False,
              threads: int = 1, log=print, stop_after: int | None = None, decoded: list | None = None) -> FarganLite:
    """Adversarial fine-tuning of ``init`` (a copy); checkpoints in ``out/ckpt.pt``."""
    set_determinism(ac.seed, threads)
    gen = FarganLite(init.cfg)
    gen.load_state_dict(init.state_dict())
    disc = MultiResDisc()
    for name in COND_MODULES:
        getattr(gen, name).requires_grad_(False)
    g_params = [p for p in gen.parameters() if p.requires_grad]
    opt_g = torch.optim.AdamW(g_params, lr=ac.lr_g, betas=(0.8, 0.99), weight_decay=0.0)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=ac.lr_d, betas=(0.8, 0.99), weight_decay=0.0)
    sampler = WindowSampler(corpus, ac.frames, ac.batch, ac.seed, decoded, ac.mix_decoded)
    step, history = 0, []
    ckpt = out / "ckpt.pt" if out else None
    if resume and ckpt and ckpt.exists():
        st = torch.load(ckpt, weights_only=False)
        gen.load_state_dict(st["model"])
        disc.load_state_dict(st["disc"])
        opt_g.load_state_dict(st["opt_g"])
        opt_d.load_state_dict(st["opt_d"])
        sampler.set_state(st["sampler"])
        torch.set_rng_state(st["torch_rng"])
        step, history = st["step"], st.get("history", [])
        log(f"resumed from {ckpt} at step {step}")
    elif ckpt and ckpt.exists():
        raise SystemExit(f"{ckpt} exists: pass --resume to continue it or choose another --out")
    if out:
        out.mkdir(parents=True, exist_ok=True)
    gen.set_qat(ac.qat)
    gen.train()
    t0 = time.perf_counter()
    end = ac.steps if stop_after is None else min(ac.steps, step + stop_after)
    while step < end:
        feats, target = sampler.next()
        real = preemphasis(torch.from_numpy(target))
        train_g = step >= ac.disc_warmup
        with torch.set_grad_enabled(train_g):
            y = gen(torch.from_numpy(feats))
        # discriminator step
        ld = d_loss(disc(real), disc(y.detach()))
        opt_d.zero_grad(set_to_none=True)
        ld.backward()
        opt_d.step()
        row = {"step": step + 1, "d": float(ld.detach())}
        if train_g:
            fake_o, real_o = disc(y), disc(real)
            adv, fm = g_losses(real_o, fake_o)
            spec = mrstft_loss(y, real)
            lg = ac.adv * adv + ac.fm * fm + ac.spec * spec
            opt_g.zero_grad(set_to_none=True)
            lg.backward()
            torch.nn.utils.clip_grad_norm_(g_params, 1.0)
            opt_g.step()
            row.update(adv=float(adv.detach()), fm=float(fm.detach()), spec=float(spec.detach()))
        step += 1
        if step % 10 == 0:
            history.append(row)
            log("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
                + f"  {time.perf_counter() - t0:6.0f}s")
        if ckpt and (step % ac.ckpt_every == 0 or step == end):
            _save(ckpt, {"model": gen.state_dict(), "disc": disc.state_dict(), "opt_g": opt_g.state_dict(),
                         "opt_d": opt_d.state_dict(), "sampler": sampler.state(),
                         "torch_rng": torch.get_rng_state(), "step": step, "arch": asdict(gen.cfg),
                         "adv": asdict(ac), "history": history})
    gen.set_qat(False)
    return gen.eval()


def load_init(path: Path) -> FarganLite:
    """A stage-1 checkpoint (``.pt``) or a FARGAN-lite blob."""
    from train.vocoder.export import load_blob, load_checkpoint

    return load_checkpoint(path) if str(path).endswith(".pt") else load_blob(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", type=Path, required=True, help="stage-1 checkpoint (.pt) or blob to start from")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stop-after", type=int, default=None)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--codec-blob", type=Path, default=None, help="codec model for --mix-decoded")
    ap.add_argument("--synthetic", type=float, default=0.0)
    for f, v in asdict(AdvConfig()).items():
        if isinstance(v, bool):
            ap.add_argument(f"--{f.replace('_', '-')}", type=int, default=int(v))
        else:
            ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    a = ap.parse_args(argv)
    ac = AdvConfig(**{f: type(v)(getattr(a, f)) for f, v in asdict(AdvConfig()).items()})
    corpus = synthetic_corpus(a.synthetic, ac.seed) if a.synthetic else load_corpus(a.corpus, log=print)
    decoded = None
    if ac.mix_decoded > 0:
        from train.vocoder.decoded import decoded_twins

        decoded = decoded_twins(corpus, None if a.synthetic else a.corpus, a.codec_blob, log=print)
    train_adv(corpus, ac, load_init(a.init), a.out, a.resume, a.threads,
              log=lambda s: print(s, flush=True), stop_after=a.stop_after, decoded=decoded)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
