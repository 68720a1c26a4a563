"""The ``decode`` fuzz target: corrupted mlcodec files through ``decode_file`` (in-process) and a
sample of them through the real CLI (one subprocess each). bench/fuzz.py drives it.

A decode passes when it (a) returns, or raises MlcodecError with a one-line message; (b) takes at
most 10x the audio's duration; (c) leaves either no output, or a complete WAV (the intact audio
of a damaged stream is kept by design, docs/codec.md) and no temporary file beside it. The CLI
additionally must exit 0 or 1, print no traceback and, on failure, exactly one
``mlcodec: error:`` line on stderr.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: (bitrate preset, packet ms, start second in the shipped sample): 1 s of audio each.
SEED_SETTINGS = (("3k", 20, 0.5), ("1.5k", 40, 2.5), ("6k", 60, 4.5))
SEED_SECONDS = 1.0
#: A decode still running after this long is a hang that will not end by itself (> 10x already counts).
STUCK_S = 120.0


_SEEDS: list = []


def make_decode_seeds(api, workdir: str | None = None) -> list[tuple[bytes, float]]:
    """(file bytes, audio seconds) of small valid mlcodec streams made by our encoder (once)."""
    import soundfile as sf

    if _SEEDS:
        return list(_SEEDS)
    x, sr = sf.read(str(ROOT / "mlcodec" / "samples" / "sample.flac"), dtype="float32")
    model = api("load_model")(None)
    out = []
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        for bitrate, ms, at in SEED_SETTINGS:
            a = int(at * sr)
            wav, opus = os.path.join(d, "in.wav"), os.path.join(d, "out.opus")
            sf.write(wav, x[a:a + int(SEED_SECONDS * sr)], sr, subtype="PCM_16")
            # a fixed serial: the seeds, hence every mutated input, are the same bytes in every run
            api("encode_file")(wav, opus, model=model, bitrate=bitrate, frame_ms=ms, serial=0x5EED0000 + ms)
            out.append((Path(opus).read_bytes(), SEED_SECONDS))
    _SEEDS.extend(out)
    return out


def _mutated(api, seeds, seed: int, i: int) -> tuple[bytes, float]:
    import fuzz_targets as T

    rng = random.Random((int(seed) << 96) ^ (0xDEC0DE << 40) ^ i)
    data, dur = seeds[rng.randrange(len(seeds))]
    # Most edits go after the two header pages (OpusHead, OpusTags), into the audio pages.
    audio = data.find(b"OggS", data.find(b"OggS", 1) + 1)
    keep = audio if audio > 0 and rng.random() < 0.6 else 0
    out = data[:keep] + T.mutate(rng, data[keep:], [s[keep:] for s, _ in seeds], 1 << 16)
    if rng.random() < 0.7:  # most damage should reach the decoder, not stop at a page CRC
        out = bytes(T.fix_ogg_crcs(bytearray(out), api("ogg_crc32")))
    return out, dur


def _check_output(dst: str, d: str) -> str | None:
    """None if ``d`` holds nothing but (optionally) ``dst`` as a complete, readable WAV."""
    import soundfile as sf

    left = [f for f in os.listdir(d) if f != "in.opus" and os.path.join(d, f) != dst]
    if left:
        return f"leftover files {left}"
    if not os.path.exists(dst):
        return None
    try:
        info = sf.info(dst)
        size = os.path.getsize(dst)
        if info.frames * 2 + 44 != size:
            return f"WAV header says {info.frames} frames, file holds {(size - 44) // 2}"
    except Exception as exc:  # noqa: BLE001
        return f"output is not a readable WAV: {exc}"
    return None


def run_decode_target(api, n: int, seed: int, *, cli_n: int = 40, corpus: Path | None = None, log=None) -> dict:
    from fuzz import peak_rss_mb, rss_mb, save_finding

    import tracemalloc

    MlcodecError = api("MlcodecError")
    decode_file = api("decode_file")
    t_setup = time.perf_counter()
    model = api("load_model")(None)
    seeds = make_decode_seeds(api)
    kw = {"corpus": corpus} if corpus else {}
    unexpected: dict[str, int] = {}
    findings = []
    decoded = partial = rejected = hangs = bad_out = 0
    max_ratio = 0.0
    traced_peak = 0
    rss_marks = []
    base = None
    audio_s = 0.0
    t0 = time.perf_counter()
    last = t0
    state = {"t": None, "i": None, "data": b""}

    def watchdog():  # a decode that never returns: keep the input, report, end the worker
        while True:
            time.sleep(1.0)
            t = state["t"]
            if t is not None and time.perf_counter() - t > STUCK_S:
                save_finding("decode", seed, state["i"], state["data"], f"decode still running after {STUCK_S} s", **kw)
                print(json.dumps({"target": "decode", "hang": {"index": state["i"], "seconds": STUCK_S}}), flush=True)
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.opus"), os.path.join(d, "out.wav")
        for k in range(n + 3):
            i = k - 3  # three unmutated seeds first: warm-up and a sanity check
            data, dur = seeds[k] if k < 3 else _mutated(api, seeds, seed, i)
            tb = ""
            with open(src, "wb") as f:
                f.write(data)
            if os.path.exists(dst):
                os.unlink(dst)
            if k == 3:
                base = rss_mb()
                setup_s = time.perf_counter() - t_setup
                t0 = time.perf_counter()
                tracemalloc.start()
            if 3 <= k < 203:
                tracemalloc.reset_peak()
            ts = time.perf_counter()
            state.update(i=i, data=data, t=ts)
            problem = None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a warning would reach stderr beside the error line
                    st = decode_file(src, dst, model=model)
                decoded += k >= 3
                dur = max(dur, st.duration)
            except MlcodecError as exc:
                if k >= 3 and os.path.exists(dst):
                    partial += 1
                else:
                    rejected += 1
                if "\n" in str(exc) or not exc.reason:
                    problem = "MlcodecError with a multi-line or empty message"
            except Exception as exc:  # noqa: BLE001 - the point of the campaign
                problem = type(exc).__name__
                tb = traceback.format_exc(limit=-4)
            dt = time.perf_counter() - ts
            state["t"] = None
            if k == 202 or (k == n + 2 and k < 203):
                tracemalloc.stop()
            if 3 <= k < 203:
                traced_peak = max(traced_peak, tracemalloc.get_traced_memory()[1])
            if k < 3:
                if problem or not os.path.exists(dst):
                    raise RuntimeError(f"decode seed {k} does not decode: {problem}")
                continue
            audio_s += dur
            ratio = dt / dur
            max_ratio = max(max_ratio, ratio)
            if ratio > 10.0:
                hangs += 1
                save_finding("decode", seed, i, data, f"decode took {dt:.2f} s for {dur:.2f} s of audio", **kw)
            why = _check_output(dst, d)
            if why:
                bad_out += 1
                problem = problem or f"bad output: {why}"
            if problem:
                unexpected[problem] = unexpected.get(problem, 0) + 1
                if unexpected[problem] <= 3:
                    path = save_finding("decode", seed, i, data, f"{problem}\n{tb}", **kw)
                    findings.append({"index": i, "kind": problem, "message": problem, "file": str(path)})
            if (k - 2) % max(n // 10, 1) == 0:
                rss_marks.append(round(rss_mb(), 1))
            now = time.perf_counter()
            if log and now - last > 30:
                last = now
                log(f"decode: {k - 2}/{n} files, {(k - 2) / (now - t0):.1f}/s, unexpected={sum(unexpected.values())}")
        wall = time.perf_counter() - t0
        cli = run_cli_sample(api, seeds, seed, cli_n, d) if cli_n else None
    return {"target": "decode", "seed": seed, "inputs": n, "seconds": round(wall, 1),
            "inputs_per_s": round(n / wall, 2), "decoded": decoded, "partial": partial,
            "rejected": rejected,
            "unexpected": sum(unexpected.values()), "unexpected_kinds": unexpected, "findings": findings,
            "hangs": hangs, "max_ratio": round(max_ratio, 3), "audio_s": round(audio_s, 1),
            "bad_output": bad_out, "setup_s": round(setup_s, 1), "seeds": len(seeds),
            "rss_base_mb": round(base or 0, 1), "rss_marks_mb": rss_marks, "peak_rss_mb": round(peak_rss_mb(), 1),
            "traced_inputs": min(200, n), "traced_peak_kb": round(traced_peak / 1024, 1), "cli": cli}


def run_cli_sample(api, seeds, seed: int, n: int, d: str) -> dict:
    """The first ``n`` corrupted files again, through ``python -m <cli> decode IN OUT``."""
    out = {"runs": n, "rc0": 0, "rc1": 0, "rc_other": 0, "bad_stderr": 0, "tracebacks": 0, "bad_output": 0,
           "max_s": 0.0, "examples": []}
    src, dst = os.path.join(d, "in.opus"), os.path.join(d, "out.wav")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    for i in range(n):
        data, _ = _mutated(api, seeds, seed, i)
        Path(src).write_bytes(data)
        if os.path.exists(dst):
            os.unlink(dst)
        ts = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", api.__globals__["ADAPTERS"]["cli_module"], "decode", src, dst],
                           capture_output=True, text=True, env=env, timeout=300)
        out["max_s"] = max(out["max_s"], round(time.perf_counter() - ts, 2))
        key = {0: "rc0", 1: "rc1"}.get(p.returncode, "rc_other")
        out[key] += 1
        err = p.stderr.strip().splitlines()
        if "Traceback" in p.stderr or "Traceback" in p.stdout:
            out["tracebacks"] += 1
        if p.returncode != 0 and not (len(err) == 1 and err[0].startswith("mlcodec: error: ")):
            out["bad_stderr"] += 1
        if _check_output(dst, d):
            out["bad_output"] += 1
        if len(out["examples"]) < 3 and p.returncode:
            out["examples"].append(p.stderr.strip()[:200])
    return out
