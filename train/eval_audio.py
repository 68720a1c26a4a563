"""int8 vs float in the audio domain: PESQ-WB and STOI of re-synthesised eval files.

    python -m train.eval_audio [--files 12] [--model PATH]

For each file of the evaluation subset: features -> latent coder at each preset (int8 and
float paths) -> reference synthesizer (``mlcodec.dsp.synth``), scored against the input.
"Unquantized" synthesises the analysed features directly (the vocoder's own ceiling). All
conditions share the same vocoder and delay, so their differences isolate the latent coder.
"""
from __future__ import annotations

import argparse
import json

import numpy as np


def _score(ref: np.ndarray, deg: np.ndarray) -> tuple[float, float]:
    from pesq import pesq
    from pystoi import stoi

    n = min(len(ref), len(deg))
    r, d = ref[:n] / 32768.0, deg[:n] / 32768.0
    return float(pesq(16000, r, d, "wb")), float(stoi(r, d, 16000, extended=False))


def main(argv=None) -> None:
    from mlcodec.codec import model as cm
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features
    from mlcodec.dsp.synth import synthesize
    from train.data import DEFAULT_SPEECH, split

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    m = cm.load_model(args.model)
    _, ev = split(DEFAULT_SPEECH)
    res: dict[str, list] = {}
    for rel in ev[: args.files]:
        x = read_audio(DEFAULT_SPEECH / rel)
        f = compute_features(x)
        f = f[: (len(f) // 2) * 2]
        res.setdefault("unquantized", []).append(_score(x, synthesize(f)))
        for preset, lv in m.PRESETS.items():
            for fixed in (True, False):
                out = m.code_features(f, lv, fixed_point=fixed)
                key = f"{preset} {'int8' if fixed else 'float'}"
                res.setdefault(key, []).append(_score(x, synthesize(out)))
    table = {k: {"pesq_wb": float(np.mean([a for a, _ in v])), "stoi": float(np.mean([b for _, b in v]))}
             for k, v in res.items()}
    print(f"{'condition':<16} {'PESQ-WB':>8} {'STOI':>6}   ({args.files} eval files, reference synthesizer)")
    for k, v in table.items():
        print(f"{k:<16} {v['pesq_wb']:8.3f} {v['stoi']:6.3f}")
    print(json.dumps(table))


if __name__ == "__main__":
    main()
