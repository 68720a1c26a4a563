"""Quantisation-aware training helpers: fake int8 quantisation with straight-through gradients.

Mirrors, operation for operation, what the int8 inference core does with the layers that
``mlcodec.vocoder.fargan`` stores as int8 (:data:`mlcodec.vocoder.fargan.QUANTIZED`):

* weights (specs 06 s5.1, ``fargan.quantize_int8``): per output j, over the input-major matrix,
  ``q_j = max(max_i |w_ij| / 127, max_k |w_2k,j + w_2k+1,j| / 129)`` (in float64, from the
  float32 weights; ``1e-12`` for an all-zero output), ``wq = rint(w / q)`` (half to even) and the
  stored per-output scale ``s_j = float32(q_j / 127)``;
* inputs (specs 06 s3.2, ``kernels.quantize_input``): ``xq = (int)floor(0.5 + float64(127*x))``
  with ``127*x`` in float32, wrapped modulo 256 (never reached: every int8 layer's inputs lie
  in [-1, 1]);
* product: ``y_j = float32(sum_i wq_ij xq_i) * s_j`` (exact integer sums: every partial sum
  stays below 2^24, so the float32 matmul of integer-valued tensors is exact in any order).

So a fake-quantised layer's pre-activation output equals the int8 kernel's bit for bit
(tests/test_train_vocoder_qat.py). Backward is the straight-through estimator: ``d xq / d x = 127``
and ``d wq / d w = 1 / q``, so the gradient is the float layer's gradient evaluated at the
quantised point; the scales are treated as constants. :func:`tanh_approx` /
:func:`sigmoid_approx` are libopus's rational activations (specs 06 s6), bit-exact with the
kernels, with their true derivative. With both, ``FarganLite.set_qat(True)`` reproduces the int8
core's output up to float rounding in the few float layers (fdense1, gain, pitch gains):
>130 dB SNR until an input rounding flips, after which the auto-regressive loop drifts
(:func:`compare_with_inference`, ``python -m train.vocoder.qat --ckpt CKPT``).
"""
from __future__ import annotations

import torch

#: Input quantisation step: the int8 kernels multiply activations by 127 (specs 06 s3.2).
IN_SCALE = 127.0
#: Denominators of the exporter's per-output scale rule (specs 06 s5.1).
W_MAX_DIV, W_PAIR_DIV = 127.0, 129.0
ZERO_SCALE = 1e-12


class _QuantizeInput(torch.autograd.Function):
    """``floor(0.5 + 127*x)`` wrapped to int8, as integer-valued floats; STE gradient 127."""

    @staticmethod
    def forward(ctx, x):
        v = x.float() * IN_SCALE                  # float32 product, as the kernel
        r = torch.round(v)                        # half to even; exact
        r = r + (v - r == 0.5).float()            # = floor(v + 0.5) without float32 rounding of v + 0.5
        if r.numel() and bool(r.abs().max() > 127):
            r = torch.remainder(r + 128.0, 256.0) - 128.0   # (opus_int8) wrap (inputs here stay in +-1)
        return r.to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * IN_SCALE


class _QuantizeWeight(torch.autograd.Function):
    """``rint(w / q)`` (integer-valued floats) with ``q`` per output row; STE gradient ``1 / q``."""

    @staticmethod
    def forward(ctx, w, q):
        ctx.save_for_backward(q)
        return torch.round(w.float().double() / q[:, None]).to(w.dtype)

    @staticmethod
    def backward(ctx, g):
        (q,) = ctx.saved_tensors
        return g / q[:, None].to(g.dtype), None


def quantize_input(x: torch.Tensor) -> torch.Tensor:
    """The int8 kernel's input quantisation of ``x`` (values in -128..127, same dtype as ``x``)."""
    return _QuantizeInput.apply(x)


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-output quantiser step ``q`` (float64, no gradient) of an (out, in) weight, specs 06 s5.1.

    ``in`` is ordered as the exported input-major matrix (pairs are inputs 2k, 2k+1).
    """
    wd = w.detach().float().double()
    amax = wd.abs().amax(1)
    if wd.shape[1] >= 2:
        n2 = wd.shape[1] // 2 * 2
        pair = (wd[:, 0:n2:2] + wd[:, 1:n2:2]).abs().amax(1)
    else:
        pair = torch.zeros_like(amax)
    q = torch.maximum(amax / W_MAX_DIV, pair / W_PAIR_DIV)
    return torch.where(q > 0, q, torch.full_like(q, ZERO_SCALE))


def quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer-valued ``wq`` with STE gradient, per-output float32 scale ``s = q/127`` as ``w.dtype``)."""
    q = weight_scale(w)
    wq = _QuantizeWeight.apply(w, q)
    s = (q / W_MAX_DIV).float().to(w.dtype)
    return wq, s


def int_product(x: torch.Tensor, wq: torch.Tensor) -> torch.Tensor:
    """Integer accumulator ``quantize_input(x) @ wq.T`` (exact; still to be multiplied by the scale)."""
    return quantize_input(x) @ wq.T


def qlinear(x: torch.Tensor, qw: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Bias-free int8 layer from pre-quantised weights ``qw = quantize_weight(w)``."""
    wq, s = qw
    return int_product(x, wq) * s


def fq_linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Fake-quantised bias-free linear layer: what the int8 kernel computes for ``x @ w.T``."""
    return qlinear(x, quantize_weight(w))


def conv_matrix(w: torch.Tensor) -> torch.Tensor:
    """Conv1d weight (out, in, k) -> (out, k*in), tap 0 first: the exporter's input order (specs 06 s4.4)."""
    return w.permute(0, 2, 1).reshape(w.shape[0], -1)


def fq_conv1d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Fake-quantised valid causal conv1d: (B, T, in) -> (B, T-k+1, out), as ``compute_generic_conv1d``."""
    k = w.shape[2]
    T = x.shape[1] - k + 1
    taps = torch.cat([x[:, j:j + T] for j in range(k)], -1)      # tap 0 (oldest) first
    return fq_linear(taps, conv_matrix(w))


def fq_gru_cell(x: torch.Tensor, h: torch.Tensor, qi, qh, sigmoid=torch.sigmoid, tanh=torch.tanh
                ) -> torch.Tensor:
    """Bias-free GRU cell (torch gate order r, z, n) with both products int8 (specs 06 s4.2).

    ``qi``/``qh`` = :func:`quantize_weight` of ``weight_ih``/``weight_hh`` (the exporter's gate
    reorder to z, r, n permutes whole outputs, so per-output quantisation is unaffected).
    """
    gi = qlinear(x, qi)
    gh = qlinear(h, qh)
    ir, iz, inn = gi.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r = sigmoid(ir + hr)
    z = sigmoid(iz + hz)
    n = tanh(inn + r * hn)
    return z * h + (1 - z) * n


# --- libopus's rational activations (specs 06 s6), differentiable twins of kernels.tanh_approx ---
_N = (952.52801514, 96.39235687, 0.60863042)
_D = (952.72399902, 413.36801147, 11.88600922)


class _TanhApprox(torch.autograd.Function):
    """libopus generic ``tanh_approx`` forward (same float32 operation order as
    ``kernels.tanh_approx``); backward = the rational's exact derivative, 0 where clamped.

    With ``u = x^2``, ``P = N0 + N1 u + N2 u^2``, ``D = D0 + D1 u + D2 u^2``:
    ``d(xP/D)/dx = (P + 2u (P' - (P/D) D')) / D``; computed in forward (few tiny-tensor ops).
    """

    @staticmethod
    def forward(ctx, x):
        x2 = x * x
        num = (_N[2] * x2 + _N[1]) * x2 + _N[0]
        den = (_D[2] * x2 + _D[1]) * x2 + _D[0]
        r = num * x / den
        y = torch.clamp(r, -1.0, 1.0)
        if ctx.needs_input_grad[0]:
            dp = (2 * _N[2]) * x2 + _N[1]
            dq = (2 * _D[2]) * x2 + _D[1]
            d = (num + (2 * x2) * (dp - num / den * dq)) / den
            ctx.save_for_backward(d * (r == y))
        return y

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return g * d


def tanh_approx(x: torch.Tensor) -> torch.Tensor:
    """``clamp(x (N0 + N1 x^2 + N2 x^4) / (D0 + D1 x^2 + D2 x^4), -1, 1)``, libopus's generic tanh."""
    return _TanhApprox.apply(x)


def sigmoid_approx(x: torch.Tensor) -> torch.Tensor:
    """``0.5 + 0.5 tanh_approx(x / 2)``, libopus's generic sigmoid."""
    return 0.5 + 0.5 * _TanhApprox.apply(0.5 * x)


# --- comparison with the exported blob's inference (measurement and tests) --------------------


def snr_db(x, ref) -> float:
    """10 log10(|ref|^2 / |x - ref|^2)."""
    import numpy as np

    x, ref = np.asarray(x, np.float64), np.asarray(ref, np.float64)
    return float(10 * np.log10((ref ** 2).sum() / max(((x - ref) ** 2).sum(), 1e-300)))


def compare_with_inference(model, feats, modes=("float", "qat", "qat_exact_act")) -> dict:
    """Outputs of the torch model and of its exported blob on the same (F, 20) features.

    Returns ``{name: de-emphasised float64 signal of frames 2..F-1 in +-1 units}`` for the torch
    ``modes`` (``float`` = QAT off, ``qat`` = set_qat(True), ``qat_exact_act`` =
    set_qat(True, approx_act=False)) and ``int8`` / ``blob_float`` = the blob on the inference
    core. The core starts from the state torch has after its two context frames (conv memory =
    the blob's fdense1 + tanh_approx of frames 0-1, last period = frame 1's), as torch does.
    The model's QAT setting is restored.
    """
    import numpy as np

    from mlcodec.nn import reference as R
    from mlcodec.nn.weights import read_weights, weights_to_bytes
    from mlcodec.vocoder.fargan import PEMBED_ROWS, NeuralVocoder, VocoderModel, _period, layer_shapes
    from train.vocoder.export import model_records

    f = np.ascontiguousarray(np.asarray(feats, np.float32)[:, :20])
    saved = (model._qat, model._qat_approx)
    out = {}
    ft = torch.from_numpy(f[None])
    try:
        with torch.no_grad():
            for mode in modes:
                model.set_qat(mode != "float", approx_act=(mode == "qat"))
                y = model(ft)[0].double().numpy()
                de = np.zeros_like(y)
                mem = 0.0
                for i, v in enumerate(y):  # de-emphasis, specs 08 s1.1
                    mem = v + 0.85 * mem
                    de[i] = mem
                out[mode] = de
    finally:
        model._qat, model._qat_approx = saved
    recs = model_records(model)
    sh = layer_shapes(model.cfg.as_dict())
    pembed = recs["cond_net_pembed_weights_float"].reshape(PEMBED_ROWS, -1)
    fd1 = {"weights_float": recs["cond_net_fdense1_weights_float"]}
    h = [R.activation(R.linear(fd1, *sh["cond_net_fdense1"], np.concatenate(
        [f[t], pembed[min(max(_period(f[t, 18]) - 32, 0), PEMBED_ROWS - 1)]])), "TANH") for t in range(2)]
    ws = read_weights(weights_to_bytes(recs))
    for name, fixed in (("int8", True), ("blob_float", False)):
        voc = NeuralVocoder(VocoderModel(ws, fixed_point=fixed))
        voc._conv[:] = np.concatenate(h)
        voc._st[0] = _period(f[1, 18])
        out[name] = voc.synthesize(f[2:]).astype(np.float64) / 32768.0
    return out


def main(argv=None) -> int:
    """Print SNRs between torch float, torch QAT and the exported blob's int8 inference."""
    import argparse
    import time

    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features
    from train.vocoder.export import load_checkpoint

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--audio", default="mlcodec/samples/sample.flac")
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_checkpoint(a.ckpt)
    feats = compute_features(read_audio(a.audio))[: int(a.seconds * 100) + 2]
    t0 = time.perf_counter()
    out = compare_with_inference(model, feats)
    names = list(out)
    print(f"{a.ckpt}, {a.audio}, {len(feats) - 2} frames ({time.perf_counter() - t0:.1f} s)")
    print("SNR dB (row vs column reference)  " + "  ".join(f"{n:>13}" for n in names))
    for x in names:
        print(f"{x:>33}  " + "  ".join(f"{'-' if x == y else f'{snr_db(out[x], out[y]):.2f}':>13}"
                                         for y in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
