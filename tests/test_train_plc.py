"""PLC training recipe (train/plc): seeded runs give identical blobs, and the exported blob on
the int8 core reproduces the torch model (checks folding, GRU gate order, the lost-frame
input). Needs the optional ``train`` extra (PyTorch)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (optional extra: pip install -e '.[train]')")

from mlcodec.codec.plc import NeuralConcealer  # noqa: E402
from mlcodec.nn.weights import weights_to_bytes  # noqa: E402
from train.data import synthetic_features  # noqa: E402
from train.plc.export import plc_records  # noqa: E402
from train.plc.model import PLCArch  # noqa: E402
from train.plc.train import PLCBatcher, PLCTrainConfig, make_model, train_loop  # noqa: E402

TINY = PLCArch(dense=16, gru=16)


def _tiny_run(seed: int, steps: int = 5, arch: PLCArch = TINY):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tc = replace(PLCTrainConfig(), seed=seed, steps=steps, batch=4, seq=40, log_every=1000)
    feats = synthetic_features(3000, seed=seed)
    model = make_model(arch, feats, seed)
    train_loop(model, PLCBatcher(feats, tc), tc, None, log=lambda m: None)
    return model, feats


def test_seeded_plc_training_is_bit_identical():
    a = weights_to_bytes(plc_records(_tiny_run(7, steps=3)[0]))
    assert a == weights_to_bytes(plc_records(_tiny_run(7, steps=3)[0]))
    assert a != weights_to_bytes(plc_records(_tiny_run(8, steps=3)[0]))


def test_export_matches_torch_model_on_int8_core():
    model, feats = _tiny_run(3, steps=30, arch=PLCArch(32, 32))
    model.eval()
    x = feats[:120]
    m = np.ones(120, np.float32)
    m[60:75] = 0  # a 150 ms gap
    with torch.no_grad():
        yt = model(torch.from_numpy(x)[None], torch.from_numpy(m)[None]).numpy()[0]  # yt[t] predicts t+1
    c = NeuralConcealer(weights_to_bytes(plc_records(model)))
    c.observe(x[:60])
    got = c.conceal(15)
    want = yt[59:74].copy()
    # undo the fade for the comparison: only the first 10 frames are unfaded
    scale = np.abs(yt).max(0) + 1
    # int8 GRUs (inputs quantised to 1/127, weights per-output scaled): a few % of the range
    assert np.max(np.abs(got[:10] - want[:10]) / scale) < 0.05
    assert np.max(np.abs(got[10:, 1:] - want[10:, 1:]) / scale[1:]) < 0.05
