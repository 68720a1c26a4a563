"""Export a trained PLC checkpoint to a weights blob (libopus record format, specs 06).

    python -m train.plc.export --ckpt /work/cache/plc/run2/ckpt.pt --out mlcodec/models/plc_v1.bin

The feature normalisation is folded into the float dense layers: ``plc_dense_in`` reads
raw ``[features * m, m]`` (the mean term moves into the flag column, so a lost frame's
all-zero input gives exactly the trained network's lost-frame activation) and
``plc_dense_out`` writes raw features. The two GRUs are quantised to int8 with the
inference core's exporter helper (libopus rules, specs 06 s5.1), without float copies, so
the run time uses the int8 kernels.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mlcodec.codec.plc import NB_INPUTS, PLC_BLOB_VERSION


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def plc_records(model) -> dict:
    """All records of the PLC blob for a trained :class:`train.plc.model.PLCNet`."""
    from mlcodec.nn.layers import linear_records
    from train.export import _gru

    mean, std = _np(model.feat_mean), _np(model.feat_std)
    rec = {"plc_config": np.array([PLC_BLOB_VERSION, NB_INPUTS, model.arch.dense, model.arch.gru], np.int32)}
    w, b = _np(model.dense_in.weight), _np(model.dense_in.bias)  # (out, 21)
    wf = w[:, :20] / std[None, :]
    wm = w[:, 20] - (w[:, :20] * (mean / std)[None, :]).sum(1)
    rec.update(linear_records("plc_dense_in", np.concatenate([wf, wm[:, None]], 1).T, b))
    for g in ("gru1", "gru2"):
        (wi, bi), (wh, bh) = _gru(getattr(model, g))
        rec.update(linear_records(f"plc_{g}_input", wi, bi, quantized=True, float_weights=False))
        rec.update(linear_records(f"plc_{g}_recurrent", wh, bh, quantized=True, float_weights=False))
    wo, bo = _np(model.dense_out.weight), _np(model.dense_out.bias)
    rec.update(linear_records("plc_dense_out", (wo * std[:, None]).T, bo * std + mean))
    return rec


def export(model, out) -> bytes:
    """Write the blob of ``model`` to ``out`` (a path) and return its bytes."""
    from mlcodec.nn.weights import weights_to_bytes

    data = weights_to_bytes(plc_records(model))
    Path(out).write_bytes(data)
    return data


def main(argv=None) -> None:
    from train.plc.train import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    data = export(load_model(args.ckpt), args.out)
    print(f"wrote {args.out} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
