"""Quantisation-aware training of the vocoder (train/vocoder/qat.py, FarganLite.set_qat; specs 06 s3.2, s5-s6).

QAT off must reproduce the pre-QAT model bit for bit (a frozen copy of its forward lives here);
QAT on must reproduce the int8 inference core: every int8 layer bit for bit, the whole
auto-regressive model to float rounding, with straight-through gradients.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (training-only dependency)")

from mlcodec.nn import kernels as K  # noqa: E402
from mlcodec.nn import reference as R  # noqa: E402
from mlcodec.nn.weights import read_weights, weights_to_bytes  # noqa: E402
from mlcodec.vocoder.fargan import QUANTIZED, VocoderModel, layer_shapes  # noqa: E402
from train.vocoder import qat as Q  # noqa: E402
from train.vocoder.export import model_records  # noqa: E402
from train.vocoder.model import (  # noqa: E402
    CTX_FRAMES, N_SUB, PITCH_BUF, PRED, SUB, FarganLite, VocoderConfig, mrstft_loss, periods_from_features,
    pitch_index,
)

TINY = VocoderConfig(cond=16, pembed=4, fdense1=16, fconv1=16, fwc=16, gru=16, skip=16)
F32 = np.float32


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only contend with the machine's other jobs (10x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _features(n: int, batch: int | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n,) if batch is None else (batch, n)
    f = np.zeros(shape + (20,), F32)
    f[..., :18] = rng.normal(0, 1, shape + (18,))
    f[..., 0] += 2
    f[..., 18] = np.clip(0.3 * np.sin(np.arange(n) * 0.2) + 0.1 * rng.standard_normal(shape), -1.4, 1.6)
    f[..., 19] = rng.uniform(-0.5, 0.5, shape)
    return f


def _model(seed: int = 0, cfg: VocoderConfig = TINY) -> FarganLite:
    torch.manual_seed(seed)
    return FarganLite(cfg)


# --- frozen copy of FarganLite.forward as it was before QAT (do not edit) ----------------------


def _legacy_cond_net(self, feats, periods):
    pe = self.pembed(torch.clamp(periods - 32, 0, 224 - 1))
    x = torch.tanh(self.fdense1(torch.cat([feats, pe], -1)))
    x = torch.tanh(self.fconv1(x.transpose(1, 2))).transpose(1, 2)
    x = torch.tanh(self.fdense2(x))
    B, Fo, _ = x.shape
    return x.reshape(B, Fo * N_SUB, self.cfg.cond)


def _legacy_forward(self, feats):
    c = self.cfg
    periods = periods_from_features(feats[..., 18])
    cond = _legacy_cond_net(self, feats, periods)
    B, S, _ = cond.shape
    gain = torch.exp(self.gain(cond))
    g1 = 1.0 / (1e-5 + gain)
    pf = periods[:, CTX_FRAMES - 1:]
    sub_period = torch.stack([pf[:, :-1], pf[:, :-1], pf[:, 1:], pf[:, 1:]], -1).reshape(B, S)
    wc = self.fwc0.weight
    w_prev, w_cur = wc[:, : c.fwc_in], wc[:, c.fwc_in:]
    cpad = torch.cat([torch.zeros_like(cond[:, :1]), cond[:, :-1]], 1)
    cond_part = cpad @ w_prev[:, : c.cond].T + cond @ w_cur[:, : c.cond].T
    w_sig = torch.cat([w_prev[:, c.cond:], w_cur[:, c.cond:]], 1)
    buf = torch.zeros(B, PITCH_BUF, dtype=cond.dtype)
    s1 = torch.zeros(B, c.gru, dtype=cond.dtype)
    s2 = torch.zeros(B, c.gru, dtype=cond.dtype)
    mem = torch.zeros(B, PRED + SUB, dtype=cond.dtype)
    outs = []
    for s in range(S):
        gs, g1s = gain[:, s], g1[:, s]
        idx = pitch_index(sub_period[:, s])
        pred = torch.clamp(g1s * torch.gather(buf, 1, idx), -1, 1)
        prev = torch.clamp(g1s * buf[:, PITCH_BUF - SUB:], -1, 1)
        cur = torch.cat([pred, prev], 1)
        h0 = torch.tanh(cond_part[:, s] + torch.cat([mem, cur], 1) @ w_sig.T)
        mem = cur
        h0 = h0 * torch.sigmoid(self.fwc0_glu(h0))
        pg = torch.sigmoid(self.gain_out(h0))
        pp = pred[:, 2:2 + SUB]
        s1 = self.gru1(torch.cat([h0, pg[:, 0:1] * pp, prev], 1), s1)
        h1 = s1 * torch.sigmoid(self.gru1_glu(s1))
        s2 = self.gru2(torch.cat([h1, pg[:, 1:2] * pp, prev], 1), s2)
        h2 = s2 * torch.sigmoid(self.gru2_glu(s2))
        sk = torch.tanh(self.skip(torch.cat([h1, h2, h0, pg[:, 2:3] * pp, prev], 1)))
        sk = sk * torch.sigmoid(self.skip_glu(sk))
        out = torch.tanh(self.sig_out(sk)) * gs
        buf = torch.cat([buf[:, SUB:], out], 1)
        outs.append(out)
    return torch.cat(outs, 1)


def _loss_and_grads(model, feats, fwd=None):
    model.zero_grad(set_to_none=True)
    y = model(feats) if fwd is None else fwd(model, feats)
    target = torch.sin(torch.arange(y.shape[1], dtype=y.dtype) * 0.05)[None].expand_as(y) * 0.1
    loss = mrstft_loss(y, target, sizes=(128, 64))
    loss.backward()
    return y.detach().clone(), {n: p.grad.clone() for n, p in model.named_parameters()}


# --- QAT off: bit-identical to the pre-QAT model ---------------------------------------------


@pytest.mark.parametrize("cfg", [TINY, VocoderConfig()], ids=["tiny", "default"])
@pytest.mark.parametrize("toggled", [False, True], ids=["never-touched", "on-then-off"])
def test_qat_off_is_bit_identical_to_the_pre_qat_forward_and_gradients(toggled, cfg):
    feats = torch.from_numpy(_features(6, batch=3, seed=1))
    ref = _model(3, cfg)
    y_ref, g_ref = _loss_and_grads(ref, feats, _legacy_forward)
    model = _model(3, cfg)
    assert not model.qat
    if toggled:
        model.set_qat(True)
        model(feats)
        model.set_qat(False)
    assert not model.qat
    y, g = _loss_and_grads(model, feats)
    assert torch.equal(y, y_ref)
    assert g.keys() == g_ref.keys()
    for n in g:
        assert torch.equal(g[n], g_ref[n]), n


#: state_dict keys of the pre-QAT model (checkpoints of running trainings hold exactly these)
PRE_QAT_KEYS = [
    "pembed.weight", "fdense1.weight", "fconv1.weight", "fdense2.weight", "gain.weight", "gain.bias",
    "fwc0.weight", "fwc0_glu.weight", "gain_out.weight", "gain_out.bias", "gru1.weight_ih", "gru1.weight_hh",
    "gru1_glu.weight", "gru2.weight_ih", "gru2.weight_hh", "gru2_glu.weight", "skip.weight", "skip_glu.weight",
    "sig_out.weight",
]


def test_qat_adds_no_parameters_or_state():
    model = _model(0)
    keys = list(model.state_dict())
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_qat(True)
    assert list(model.state_dict()) == keys
    assert list(dict(model.named_buffers())) == []
    assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
    assert keys == PRE_QAT_KEYS


def test_set_qat_returns_the_model_and_switches():
    model = _model(0)
    assert model.set_qat(True) is model and model.qat and model._qat_approx
    model.set_qat(True, approx_act=False)
    assert model.qat and not model._qat_approx
    model.set_qat(False)
    assert not model.qat and not model._qat_approx


# --- QAT on: the int8 kernel arithmetic -------------------------------------------------------


def _edge_inputs(n: int, rng) -> np.ndarray:
    """Rows in [-1, 1] with exact rounding ties k/254, their float neighbours and +-1."""
    k = rng.integers(-127, 128, n)
    ties = (k + 0.5) / 127
    rows = [rng.uniform(-1, 1, n), np.clip(ties, -1, 1), np.clip(np.nextafter(ties.astype(F32), 0), -1, 1),
            np.clip(np.nextafter(ties.astype(F32), 2), -1, 1), rng.choice([-1.0, 1.0, 0.0], n),
            np.tanh(rng.normal(0, 2, n))]
    return np.stack(rows).astype(F32)


def test_quantize_input_matches_the_kernel_rule():
    rng = np.random.default_rng(0)
    x = np.concatenate([_edge_inputs(300, rng).reshape(-1), np.arange(-2000, 2001, dtype=F32) / 254,
                        np.array([0.5 - 2 ** -25, -(0.5 - 2 ** -25), 1.5, -1.7, 3.0], F32)]).astype(F32)
    got = Q.quantize_input(torch.from_numpy(x)).numpy()
    assert np.array_equal(got.astype(np.int64), R.quantize_input(x).astype(np.int64))
    xq = np.zeros((1, x.size), np.int8)
    K.quantize_rows(x[None], xq)
    assert np.array_equal(got.astype(np.int64), xq[0].astype(np.int64))


def _gate_reorder(y: np.ndarray, name: str) -> np.ndarray:
    """torch GRU gate order (r, z, n) -> blob order (z, r, n) for the GRU matrices."""
    if name.endswith(("_input", "_recurrent")):
        r, z, n = np.split(y, 3, axis=-1)
        return np.concatenate([z, r, n], -1)
    return y


@pytest.fixture(scope="module")
def trained_like():
    """A default-size model with spread-out weights, its blob records and bound int8 layers."""
    model = _model(7, VocoderConfig())
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + 3 * torch.rand_like(p))  # uneven per-output ranges, as after training
    recs = model_records(model)
    vm = VocoderModel(read_weights(weights_to_bytes(recs)), fixed_point=True)
    return model, recs, {L.name: L for L in vm.layers}


@pytest.mark.parametrize("name", QUANTIZED)
def test_fake_quantised_layer_equals_int8_kernel_bit_exactly(trained_like, name):
    model, recs, layers = trained_like
    nb_in, nb_out = layer_shapes(model.cfg.as_dict())[name]
    x = _edge_inputs(nb_in, np.random.default_rng(len(name)))
    wq, s = Q.quantize_weight(model.qat_matrix(name))
    # weights and scales are the exporter's
    blocks = recs[f"{name}_weights_int8"].reshape(nb_out // 8, nb_in // 4, 8, 4)
    w_blob = blocks.transpose(0, 2, 1, 3).reshape(nb_out, nb_in)
    assert np.array_equal(_gate_reorder(wq.detach().numpy().T, name).T, w_blob.astype(F32))
    assert np.array_equal(_gate_reorder(s.numpy(), name), recs[f"{name}_scale"])
    with torch.no_grad():
        y = _gate_reorder(Q.qlinear(torch.from_numpy(x), (wq, s)).numpy(), name)
    arrays = {"weights_int8": recs[f"{name}_weights_int8"], "scale": recs[f"{name}_scale"]}
    for row, yr in zip(x, y):
        assert np.array_equal(yr, R.linear(arrays, nb_in, nb_out, row))
    y_k = np.zeros((len(x), nb_out), F32)
    K.linear(layers[name].params, x, y_k, np.zeros(len(x) * (nb_in + 3), np.int8), np.zeros(4096, np.int8))
    assert np.array_equal(y, y_k)


def test_conv_and_gru_helpers_match_the_reference(trained_like):
    model, recs, _ = trained_like
    sh = layer_shapes(model.cfg.as_dict())
    A = {n: {"weights_int8": recs[f"{n}_weights_int8"], "scale": recs[f"{n}_scale"]} for n in QUANTIZED}
    rng = np.random.default_rng(1)
    fd1 = model.cfg.fdense1
    X = np.tanh(rng.normal(0, 1, (5, fd1))).astype(F32)
    with torch.no_grad():
        y = Q.fq_conv1d(torch.from_numpy(X)[None], model.fconv1.weight)[0].numpy()
    ref, _ = R.conv1d_sequence(A["cond_net_fconv1"], *sh["cond_net_fconv1"], X[2:], X[:2].reshape(-1), "LINEAR")
    assert np.array_equal(y, ref)
    g = model.cfg.gru
    x = _edge_inputs(sh["sig_net_gru1_input"][0], rng)[:3]
    h = np.tanh(rng.normal(0, 1, (3, g))).astype(F32)
    with torch.no_grad():
        qi = Q.quantize_weight(model.gru1.weight_ih)
        qh = Q.quantize_weight(model.gru1.weight_hh)
        hn = Q.fq_gru_cell(torch.from_numpy(x), torch.from_numpy(h), qi, qh, Q.sigmoid_approx, Q.tanh_approx)
    gi, gr = A["sig_net_gru1_input"], A["sig_net_gru1_recurrent"]
    for i in range(3):
        ref = R.gru_step(gi, sh["sig_net_gru1_input"][0], gr, h[i], x[i])
        np.testing.assert_allclose(hn[i].numpy(), ref, rtol=0, atol=2e-7)


def test_rational_activations_equal_the_kernels_and_have_true_gradients():
    x = torch.linspace(-12, 12, 24001)
    assert np.array_equal(Q.tanh_approx(x).numpy(), R.tanh_approx(x.numpy()))
    assert np.array_equal(Q.sigmoid_approx(x).numpy(), R.sigmoid_approx(x.numpy()))
    xd = (torch.rand(64, dtype=torch.float64) * 10 - 5).requires_grad_()
    assert torch.autograd.gradcheck(Q.tanh_approx, (xd,))
    assert torch.autograd.gradcheck(Q.sigmoid_approx, (xd,))


def test_qat_model_reproduces_int8_inference():
    """Whole auto-regressive model: torch QAT == int8 core up to float rounding; float torch is far."""
    model = _model(11).eval()
    f = _features(14, seed=4)
    out = Q.compare_with_inference(model, f, modes=("float", "qat"))
    assert not model.qat
    snr_qat = Q.snr_db(out["qat"], out["int8"])
    snr_float = Q.snr_db(out["float"], out["int8"])
    assert np.abs(out["int8"]).max() > 1e-3
    assert snr_qat > 100.0, snr_qat
    assert snr_float < 60.0 and snr_qat > snr_float + 40.0, (snr_float, snr_qat)
    assert Q.snr_db(out["float"], out["blob_float"]) > 40.0


# --- straight-through gradients --------------------------------------------------------------


def test_ste_gradients_of_a_fake_quantised_layer():
    torch.manual_seed(0)
    w = (torch.randn(16, 24) * 0.3).requires_grad_()
    x = (torch.rand(5, 24) * 2 - 1).requires_grad_()
    g = torch.randn(5, 16)
    Q.fq_linear(x, w).backward(g)
    wq, s = Q.quantize_weight(w.detach())
    q = Q.weight_scale(w).float()
    # d/dx: through the quantised weights (x 127 then / 127 in the scale): g @ (wq * q)
    np.testing.assert_allclose(x.grad.numpy(), (g @ (wq * q[:, None])).numpy(), rtol=1e-5, atol=1e-6)
    # d/dw: g^T @ quantised inputs / 127
    np.testing.assert_allclose(w.grad.numpy(), (g.T @ (Q.quantize_input(x.detach()) / 127)).numpy(),
                               rtol=1e-5, atol=1e-6)
    # both close to the float layer's gradients (quantisation step only)
    assert torch.allclose(x.grad, g @ w.detach(), atol=0.05)
    assert torch.allclose(w.grad, g.T @ x.detach(), atol=0.05)


def _detach_trick_quantizers(monkeypatch):
    """Independent STE formulation: exact quantised value + (identity path - its detached self)."""

    def qin(x):
        v = (x * 127.0).detach()
        return torch.from_numpy(R.quantize_input(x.detach().numpy()).astype(F32)) + (x * 127.0 - v)

    def qw(w, q):
        u = w / q[:, None].to(w.dtype)
        return torch.round(w.detach().double() / q[:, None]).to(w.dtype) + (u - u.detach())

    monkeypatch.setattr(Q._QuantizeInput, "apply", qin)
    monkeypatch.setattr(Q._QuantizeWeight, "apply", qw)


@pytest.mark.parametrize("approx_act", [True, False], ids=["approx-act", "exact-act"])
def test_gradients_flow_through_the_qat_model(approx_act, monkeypatch):
    feats = torch.from_numpy(_features(5, batch=2, seed=2))
    model = _model(1)
    model.set_qat(True, approx_act=approx_act)
    y, g = _loss_and_grads(model, feats)
    assert torch.isfinite(y).all()
    for n, gr in g.items():
        assert torch.isfinite(gr).all(), n
        assert gr.abs().max() > 0, n
    # the same straight-through gradients as an independent detach-trick implementation
    _detach_trick_quantizers(monkeypatch)
    y2, g2 = _loss_and_grads(model, feats)
    assert torch.equal(y, y2)
    for n in g:
        torch.testing.assert_close(g[n], g2[n], rtol=1e-4, atol=1e-7 * float(g[n].abs().max()), msg=n)
