"""Export a FARGAN-lite checkpoint to a libopus-format weights blob (specs 06 s1-s3, s5.1).

    .venv/bin/python -m train.vocoder.export --ckpt /work/cache/vocoder/run2/ckpt.pt \
        --out mlcodec/models/vocoder_v1.bin

Names follow libopus's FARGAN exporter convention (``cond_net_*``, ``sig_net_*``; a GRU ``G``
becomes ``G_input`` and ``G_recurrent`` with PyTorch's gate order (r, z, n) swapped to
(z, r, n), specs 06 s4.2; conv1d weights (out, in, k) become (k*in, out), tap 0 first,
specs 06 s4.4). Large matrices are written as int8 + scale + subias and as float; see
``mlcodec.vocoder.fargan.make_records``. The same checkpoint always gives the same bytes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from mlcodec.nn.weights import weights_checksum, weights_to_bytes, write_weights
from mlcodec.vocoder.fargan import make_records
from train.vocoder.model import FarganLite, VocoderConfig


def _lin(w: torch.Tensor) -> np.ndarray:
    """torch Linear weight (out, in) -> input-major (in, out)."""
    return w.detach().double().numpy().T.copy()


def _gru(w: torch.Tensor) -> np.ndarray:
    """GRU weight (3H, in) in torch gate order r, z, n -> input-major (in, 3H) in order z, r, n."""
    r, z, n = torch.chunk(w.detach().double(), 3, 0)
    return torch.cat([z, r, n], 0).numpy().T.copy()


def model_records(model: FarganLite) -> list:
    m = model
    conv = m.fconv1.weight.detach().double()          # (out, in, k)
    mats = {
        "cond_net_fdense1": _lin(m.fdense1.weight),
        "cond_net_fconv1": conv.permute(2, 1, 0).reshape(-1, conv.shape[0]).numpy().copy(),
        "cond_net_fdense2": _lin(m.fdense2.weight),
        "cond_gain_dense": _lin(m.gain.weight),
        "sig_net_fwc0_conv": _lin(m.fwc0.weight),
        "sig_net_fwc0_glu_gate": _lin(m.fwc0_glu.weight),
        "sig_net_gain_dense_out": _lin(m.gain_out.weight),
        "sig_net_gru1_input": _gru(m.gru1.weight_ih),
        "sig_net_gru1_recurrent": _gru(m.gru1.weight_hh),
        "sig_net_gru1_glu_gate": _lin(m.gru1_glu.weight),
        "sig_net_gru2_input": _gru(m.gru2.weight_ih),
        "sig_net_gru2_recurrent": _gru(m.gru2.weight_hh),
        "sig_net_gru2_glu_gate": _lin(m.gru2_glu.weight),
        "sig_net_skip_dense": _lin(m.skip.weight),
        "sig_net_skip_glu_gate": _lin(m.skip_glu.weight),
        "sig_net_sig_dense_out": _lin(m.sig_out.weight),
    }
    biases = {"cond_gain_dense": m.gain.bias.detach().double().numpy(),
              "sig_net_gain_dense_out": m.gain_out.bias.detach().double().numpy()}
    return make_records(m.cfg.as_dict(), mats, biases, m.pembed.weight.detach().numpy())


def _unlin(w: np.ndarray) -> torch.Tensor:
    """Input-major (in, out) -> torch Linear weight (out, in)."""
    return torch.from_numpy(np.array(w.T, dtype=np.float32))


def _ungru(w: np.ndarray) -> torch.Tensor:
    """Input-major (in, 3H) in gate order z, r, n -> torch (3H, in) in order r, z, n."""
    z, r, n = np.split(np.asarray(w, dtype=np.float32).T, 3, 0)
    return torch.from_numpy(np.ascontiguousarray(np.concatenate([r, z, n], 0)))


def load_blob(path) -> FarganLite:
    """A FARGAN-lite blob's float records back into the torch model (inverse of model_records).

    Used to fine-tune a shipped vocoder (vocoder v2 starts from vocoder_v1) when its checkpoint is
    gone; exporting the result without training gives back the same float matrices."""
    from mlcodec.nn.weights import read_weights
    from mlcodec.vocoder.fargan import CONFIG_KEYS, CONFIG_RECORD, layer_shapes

    ws = read_weights(Path(path).read_bytes(), file=str(path))
    arr = {name: np.asarray(ws[name].data) for name in ws}
    cfg = dict(zip(CONFIG_KEYS, (int(v) for v in arr[CONFIG_RECORD][1:])))
    model = FarganLite(VocoderConfig(**cfg))
    shapes = layer_shapes(cfg)
    mat = {n: arr[f"{n}_weights_float"].reshape(shapes[n]) for n in shapes}
    m = model
    with torch.no_grad():
        m.pembed.weight.copy_(torch.from_numpy(np.array(arr["cond_net_pembed_weights_float"], dtype=np.float32).reshape(m.pembed.weight.shape)))
        m.fdense1.weight.copy_(_unlin(mat["cond_net_fdense1"]))
        k, cin, cout = m.fconv1.weight.shape[2], m.fconv1.weight.shape[1], m.fconv1.weight.shape[0]
        conv = mat["cond_net_fconv1"].reshape(k, cin, cout)
        m.fconv1.weight.copy_(torch.from_numpy(np.ascontiguousarray(conv.transpose(2, 1, 0))))
        for blob, mod in (("cond_net_fdense2", m.fdense2), ("cond_gain_dense", m.gain),
                          ("sig_net_fwc0_conv", m.fwc0), ("sig_net_fwc0_glu_gate", m.fwc0_glu),
                          ("sig_net_gain_dense_out", m.gain_out), ("sig_net_gru1_glu_gate", m.gru1_glu),
                          ("sig_net_gru2_glu_gate", m.gru2_glu), ("sig_net_skip_dense", m.skip),
                          ("sig_net_skip_glu_gate", m.skip_glu), ("sig_net_sig_dense_out", m.sig_out)):
            mod.weight.copy_(_unlin(mat[blob]))
        for g, gru in (("sig_net_gru1", m.gru1), ("sig_net_gru2", m.gru2)):
            gru.weight_ih.copy_(_ungru(mat[f"{g}_input"]))
            gru.weight_hh.copy_(_ungru(mat[f"{g}_recurrent"]))
        m.gain.bias.copy_(torch.from_numpy(arr["cond_gain_dense_bias"].astype(np.float32)))
        m.gain_out.bias.copy_(torch.from_numpy(arr["sig_net_gain_dense_out_bias"].astype(np.float32)))
    return model


def load_checkpoint(path) -> FarganLite:
    st = torch.load(path, weights_only=False, map_location="cpu")
    model = FarganLite(VocoderConfig(**st["arch"]))
    model.load_state_dict(st["model"])
    return model.eval()


def export(model: FarganLite, out) -> str:
    """Write the blob; returns its SHA-256."""
    recs = model_records(model)
    write_weights(out, recs)
    return weights_checksum(weights_to_bytes(recs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    model = load_checkpoint(a.ckpt)
    digest = export(model, a.out)
    print(f"{a.out}: {a.out.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
