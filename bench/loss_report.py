"""Markdown of the loss benchmark (bench/bench_loss.py): per-row, per-condition PLCMOS and STOI
(absolute and the drop from the row's own no-loss decode), DNSMOS on a subset, and issue 13's
targets computed from the same numbers."""
from __future__ import annotations

import os

import numpy as np

import loss_patterns as lp



def _mean(rs, k):
    v = [r[k] for r in rs if k in r]
    return float(np.mean(v)) if v else float("nan")


def render(syss, conds, res, rates, cond_stats, a, nfiles, secs, wall, load) -> str:
    """Markdown: PLCMOS and STOI (absolute and drop) per row and condition, DNSMOS on a subset."""
    lossy = [c for c in conds if c != "0"]
    lab = {c: lp.condition_label(c, a.burst) for c in conds}
    out = []
    stats = " · ".join(f"{lab[c]}: {cond_stats[c][0] * 100:.1f} % lost, mean burst {cond_stats[c][1]:.2f}"
                       for c in lossy)
    for metric, fmt, title in (("plcmos", "{:.2f}", "PLCMOS"), ("stoi", "{:.3f}", "STOI")):
        out.append(f"**{title}** — no-loss value, then under loss: absolute (drop from the row's own no-loss "
                   "decode, mean of per-file drops ± 95 % interval where shown)\n")
        out.append("| system | kb/s (whole file) | 0 % | " + " | ".join(lab[c] for c in lossy) + " |")
        out.append("|---" * (3 + len(lossy)) + "|")
        for s in syss:
            if s.key not in res:
                out.append(f"| {s.label} | — | " + " | ".join("—" for _ in conds) + " |")
                continue
            rr = res[s.key]
            clean = rr.get("0", [])
            cells = [fmt.format(_mean(clean, metric)) if clean else "—"]
            for c in lossy:
                rs = rr.get(c)
                if not rs or not clean:
                    cells.append("—")
                    continue
                byf = {r["file"]: r[metric] for r in clean}
                pairs = [(byf[r["file"]], r[metric]) for r in rs if r["file"] in byf]
                d, ci = lp.paired_drop([p[0] for p in pairs], [p[1] for p in pairs])
                extra = f" ± {ci:.2f}" if metric == "plcmos" and c in a.ci_conds else ""
                cells.append(f"{fmt.format(_mean(rs, metric))} (−{fmt.format(d)}{extra})".replace("−-", "+"))
            out.append(f"| {s.label} | {rates[s.key]:.2f} | " + " | ".join(cells) + " |")
        out.append("")
    dn = [c for c in conds if c in a.dnsmos_conds]
    if dn:
        out.append("**DNSMOS OVRL / P.808**\n")
        out.append("| system | " + " | ".join(lab[c] for c in dn) + " |")
        out.append("|---" * (1 + len(dn)) + "|")
        for s in syss:
            rr = res.get(s.key, {})
            cells = [f"{_mean(rr[c], 'ovrl'):.2f} / {_mean(rr[c], 'p808'):.2f}" if rr.get(c) else "—" for c in dn]
            out.append(f"| {s.label} | " + " | ".join(cells) + " |")
        out.append("")
    out += targets(res, rates, a)
    skipped = [f"{s.label}: {s.skip}" for s in syss if s.skip]
    out.append(f"Realised loss over the {nfiles} files' packets: {stats}.\n")
    if skipped:
        out.append("Not run: " + "; ".join(skipped) + ".\n")
    out.append(f"{nfiles} files of the speaker-disjoint evaluation set (`bench/eval_subset.py`, {secs:.0f} s), "
               f"20 ms packets for every system, the first packet of each file always received. "
               f"Command: `{a.cmd}` ({wall / 60:.0f} min wall; load average {load:.1f} on {os.cpu_count()} "
               "shared cores — a busy machine, timings are not measurements). kb/s = whole-file bytes × 8 / "
               "duration (libopus: opus_demo packets muxed into Ogg Opus; opusenc and mlcodec: their files).\n")
    return "\n".join(out)


def _drop(res, sys_key, cond, metric="plcmos"):
    rr = res.get(sys_key, {})
    if not rr.get("0") or not rr.get(cond):
        return None
    byf = {r["file"]: r[metric] for r in rr["0"]}
    pairs = [(byf[r["file"]], r[metric]) for r in rr[cond] if r["file"] in byf]
    return lp.paired_drop([p[0] for p in pairs], [p[1] for p in pairs]) + (_mean(rr[cond], metric),)


def targets(res, rates, a, cond: str = "lossgen20") -> list[str]:
    """Issue 13's targets at 20 % bursty loss (the lossgen trace), where the rows exist."""
    ref, red, plain = _drop(res, "opus24dred", cond), _drop(res, "ours3kred500", cond), _drop(res, "ours3k", cond)
    lines = []
    if ref and red:
        ok = red[0] <= ref[0]
        lines.append(f"| PLCMOS drop at {lp.condition_label(cond, a.burst)}: mlcodec 3k + 500 ms ≤ libopus 24k + DRED 1 s "
                     f"| {red[0]:.2f} ± {red[1]:.2f} vs {ref[0]:.2f} ± {ref[1]:.2f} | {'met' if ok else '**missed**'} |")
    if red and plain:
        ok = red[2] > plain[2]
        lines.append(f"| redundancy beats plain under the same loss (PLCMOS) | {red[2]:.2f} vs {plain[2]:.2f} "
                     f"(drops {red[0]:.2f} vs {plain[0]:.2f}) | {'met' if ok else '**missed**'} |")
    if "ours3kred500" in rates and "opus24dred" in rates:
        q = rates["ours3kred500"] / rates["opus24dred"]
        lines.append(f"| total rate < 1/4 of libopus 24k + DRED | {rates['ours3kred500']:.2f} vs "
                     f"{rates['opus24dred']:.2f} kb/s ({q:.2f}×) | {'met' if q < 0.25 else '**missed**'} |")
    if ref and red:
        ok = red[2] >= ref[2]
        lines.append(f"| stretch: absolute PLCMOS ≥ libopus's under loss | {red[2]:.2f} vs {ref[2]:.2f} | "
                     f"{'met' if ok else '**missed**'} |")
    if not lines:
        return []
    return ["**Issue 13's targets** (computed by the script from the tables above)\n", "| target | measured | verdict |",
            "|---|---|---|", *lines, ""]
