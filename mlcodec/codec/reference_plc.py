"""NumPy twin of :class:`mlcodec.codec.plc.NeuralConcealer`, one frame at a time on the blob's
own arrays (by record name) with :mod:`mlcodec.nn.reference`. Written apart from plc.py
(its own frame loop, input vectors and fade). Slow; tests only."""
from __future__ import annotations

import numpy as np

from mlcodec.nn import reference as R

F = np.float32
_ROLES = ("bias", "subias", "weights_int8", "weights_float", "scale")


def _arrays(ws, name: str) -> dict:
    return {role: ws.array(f"{name}_{role}") for role in _ROLES if f"{name}_{role}" in ws}


class ReferenceConcealer:
    """Same protocol and arithmetic as NeuralConcealer: observe / conceal / reset."""

    def __init__(self, ws, fade_start: int = 10, fade_step: float = 0.6, c0_floor: float = -10.0):
        cfg = ws.array("plc_config")
        self.D, self.G = int(cfg[2]), int(cfg[3])
        self.L = {n: _arrays(ws, n) for n in ("plc_dense_in", "plc_gru1_input", "plc_gru1_recurrent",
                                              "plc_gru2_input", "plc_gru2_recurrent", "plc_dense_out")}
        self.fade = (fade_start, fade_step, c0_floor)
        self.reset()

    def reset(self) -> None:
        self.s1 = np.zeros(self.G, F)
        self.s2 = np.zeros(self.G, F)
        self.pred = None
        self.lost = 0

    def _step(self, x) -> np.ndarray:
        L = self.L
        h = R.dense(L["plc_dense_in"], 21, self.D, x, "TANH")
        self.s1 = R.gru_step(L["plc_gru1_input"], self.D, L["plc_gru1_recurrent"], self.s1, h)
        self.s2 = R.gru_step(L["plc_gru2_input"], self.G, L["plc_gru2_recurrent"], self.s2, self.s1)
        return R.dense(L["plc_dense_out"], self.G, 20, self.s2, "LINEAR")

    def observe(self, features) -> None:
        for f in np.asarray(features, F).reshape(-1, 20):
            self.pred = self._step(np.append(f, F(1)).astype(F))
            self.lost = 0

    def conceal(self, n: int) -> np.ndarray:
        start, step, floor = self.fade
        out = []
        for _ in range(n):
            if self.pred is None:
                self.pred = self._step(np.zeros(21, F))
            f = self.pred.copy()
            self.lost += 1
            if self.lost > start:
                att = F(step) * F(self.lost - start)
                f[0] = max(F(f[0] - att), min(f[0], F(floor)))
            out.append(f)
            self.pred = self._step(np.zeros(21, F))
        return np.array(out, F).reshape(-1, 20)
