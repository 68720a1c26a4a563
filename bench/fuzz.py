#!/usr/bin/env python3
"""Fuzzing campaign over mlcodec's input parsers and ``mlcodec decode`` (issue 15, item 5).

Each target gets ``--n`` inputs, each made from a valid seed (our encoder, opusenc's sample, the
``$MLCODEC_VECTORS`` sets when present) by a seeded mutator (bench/fuzz_mutate.py). Input ``i``
of target ``T`` under ``--seed S`` is a pure function of (S, T, i), so any finding replays with
``--replay i``. Per target it records inputs/s, exceptions that are not ``MlcodecError`` (must be
0), hangs (must be 0), peak memory (RSS, and tracemalloc over a sample of inputs). Each target runs
in its own worker process (``-j`` at a time) so the memory figures are its own.

    python bench/fuzz.py --target all --n 1000000 --decode-n 2000 --seed 1 -j 2 \
        --report docs/reliability.md
    python bench/fuzz.py --target packet --seed 1 --replay 12345 --save /tmp/x.bin
"""
from __future__ import annotations

# --- Entry points under test: "module:attribute". A moved import is retargeted here, one line. ---
ADAPTERS = {
    "MlcodecError": "mlcodec.errors:MlcodecError",
    "parse_packet": "mlcodec.bitstream.packet:parse_packet",
    "packet_extensions": "mlcodec.bitstream.packet:packet_extensions",
    "build_packet": "mlcodec.bitstream.packet:build_packet",
    "to_self_delimited": "mlcodec.bitstream.packet:to_self_delimited",
    "Extension": "mlcodec.bitstream.extensions:Extension",
    "parse_extensions": "mlcodec.bitstream.extensions:parse_extensions",
    "iter_pages": "mlcodec.containers.ogg:iter_pages",
    "ogg_crc32": "mlcodec.containers.ogg:crc32",
    "read_ogg_opus": "mlcodec.containers.oggopus:read_ogg_opus",
    "iter_bit": "mlcodec.containers.opusdemo:iter_bit",
    "bit_record": "mlcodec.containers.opusdemo:encode_record",
    "iter_raw": "mlcodec.containers.rawframe:iter_raw",
    "RawWriter": "mlcodec.containers.rawframe:RawWriter",
    "read_weights": "mlcodec.nn.weights:read_weights",
    "weights_to_bytes": "mlcodec.nn.weights:weights_to_bytes",
    "read_payload": "mlcodec.codec.payload:read_payload",
    "read_payload_v2": "mlcodec.codec.payload:read_payload_v2",
    "model_contexts": "mlcodec.codec.contexts:model_contexts",
    "carrier_payload": "mlcodec.codec.format:carrier_payload",
    "CodingTables": "mlcodec.codec.payload:CodingTables",
    "split_codec_packet": "mlcodec.codec.format:split_codec_packet",
    "latents_per_packet": "mlcodec.codec.format:latents_per_packet",
    "wav_stream": "mlcodec.io.wav:wav_stream",  # (fileobj, first 12 bytes, name) -> chunks
    "encode_file": "mlcodec.io.transcode:encode_file",
    "decode_file": "mlcodec.io.transcode:decode_file",
    "load_model": "mlcodec.codec.model:load_model",
    "cli_module": "mlcodec_cli.main",  # the real CLI runs as `python -m <this> decode IN OUT`
}

import argparse  # noqa: E402
import hashlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

_api_cache: dict = {}


def api(name: str):
    """The object ADAPTERS names (imported on first use)."""
    if name not in _api_cache:
        mod, _, attr = ADAPTERS[name].partition(":")
        m = importlib.import_module(mod)
        _api_cache[name] = getattr(m, attr) if attr else m
    return _api_cache[name]


PARSER_TARGETS = ("packet", "extensions", "ogg", "framing", "weights", "payload", "wav")
ALL_TARGETS = PARSER_TARGETS + ("decode",)
#: One parser input taking this long is a hang (inputs are at most 64 KiB).
PARSER_HANG_S = 2.0
#: A decode taking longer than this many times the audio's duration is a hang (issue 15).
DECODE_HANG_RATIO = 10.0
CORPUS = HERE / "fuzz_corpus"
BEGIN, END = "<!-- fuzz:begin -->", "<!-- fuzz:end -->"


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------
# Worker side


def save_finding(target: str, seed: int, index: int, data: bytes, what: str, corpus: Path = CORPUS) -> Path:
    """Keep a finding as bench/fuzz_corpus/<target>/<sha1>.bin plus a .txt saying how to replay it."""
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()[:16]
    (d / f"{h}.bin").write_bytes(data)
    (d / f"{h}.txt").write_text(f"target={target} seed={seed} index={index}\n"
                                f"replay: python bench/fuzz.py --target {target} --seed {seed} --replay {index}\n"
                                f"{what}\n")
    return d / f"{h}.bin"


def run_parser_target(target: str, n: int, seed: int, *, start: int = 0, trace_sample: int = 2000,
                      corpus: Path = CORPUS, progress_s: float = 30.0, log=None, exit_on_hang: bool = False) -> dict:
    """Run inputs [start, start+n) of a parser target in this process; return its figures.

    An input still running after PARSER_HANG_S is kept in the corpus and counted as a hang; the
    worker process then exits (``exit_on_hang``), else the main thread is interrupted and the
    run goes on (what the in-process smoke test wants)."""
    import _thread
    import threading
    import tracemalloc
    import traceback
    import warnings

    import fuzz_targets as T

    MlcodecError = api("MlcodecError")
    t_setup = time.perf_counter()
    tgt = T.make_target(target, api)
    gen = T.InputGen(tgt, seed)
    base = None
    setup_s = time.perf_counter() - t_setup
    state = {"i": None, "t": 0.0}
    hang: dict = {}

    def watchdog():
        while not hang.get("done"):
            time.sleep(0.25)
            t, i = state["t"], state["i"]
            if i is not None and time.perf_counter() - t > PARSER_HANG_S:
                hang.update(index=i, seconds=time.perf_counter() - t)
                data = gen.make(i)
                save_finding(target, seed, i, data, f"hang: > {PARSER_HANG_S} s", corpus)
                if exit_on_hang:
                    print(json.dumps({"target": target, "hang": hang}), flush=True)
                    os._exit(3)
                state["i"] = None
                _thread.interrupt_main()

    # The watchdog stops a hung input with interrupt_main(), which does nothing while SIGINT is
    # ignored (a background job, or a library that changed it earlier in the same process).
    import signal

    in_main = threading.current_thread() is threading.main_thread()
    old_sigint = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main else None
    threading.Thread(target=watchdog, daemon=True).start()
    unexpected: dict[str, int] = {}
    findings: list[dict] = []
    accepted = rejected = hangs = 0
    max_s = 0.0
    traced_peak = 0
    rss_marks = []
    t0 = time.perf_counter()
    last = t0
    ntrace = min(trace_sample, n)
    if ntrace:
        tracemalloc.start()
    perf = time.perf_counter
    # A warning would reach the user's stderr beside the one error line: count it as a finding.
    wctx = warnings.catch_warnings()
    wctx.__enter__()
    warnings.simplefilter("error")
    for k in range(n):
        i = start + k
        data = gen.make(i)
        if k < ntrace:
            tracemalloc.reset_peak()
        ts = perf()
        state["t"], state["i"] = ts, i
        try:
            tgt.run(data)
            accepted += 1
        except MlcodecError as exc:
            rejected += 1
            if "\n" in str(exc) or not exc.reason:
                kind = "MlcodecError with a multi-line or empty message"
                unexpected[kind] = unexpected.get(kind, 0) + 1
                if len(findings) < 20:
                    findings.append({"index": i, "kind": kind, "message": str(exc)[:300]})
        except KeyboardInterrupt:
            if hang.get("index") != i:
                raise
            hangs += 1
            hang.pop("index")
        except Exception as exc:  # noqa: BLE001 - the point of the campaign
            kind = f"{type(exc).__name__}"
            unexpected[kind] = unexpected.get(kind, 0) + 1
            if unexpected[kind] <= 3:
                tb = traceback.format_exc(limit=-3)
                path = save_finding(target, seed, i, data, tb, corpus)
                findings.append({"index": i, "kind": kind, "message": str(exc)[:300], "file": str(path)})
        dt = perf() - ts
        state["i"] = None
        if k == min(49, n - 1):  # memory baseline once imports and caches are warm
            base = rss_mb()
        if dt > max_s:
            max_s = dt
        if k < ntrace:
            traced_peak = max(traced_peak, tracemalloc.get_traced_memory()[1])
            if k == ntrace - 1:
                tracemalloc.stop()
        if (k + 1) % 1000 == 0:
            now = perf()
            if now - last > progress_s and log:
                last = now
                log(f"{target}: {k + 1}/{n} inputs, {(k + 1) / (now - t0):.0f}/s, "
                    f"unexpected={sum(unexpected.values())}, rss={rss_mb():.0f} MiB")
            if (k + 1) % max(n // 10, 1000) == 0:
                rss_marks.append(round(rss_mb(), 1))
    hang["done"] = True
    if in_main:
        signal.signal(signal.SIGINT, old_sigint)
    wctx.__exit__(None, None, None)
    wall = time.perf_counter() - t0
    return {"target": target, "seed": seed, "start": start, "inputs": n, "seconds": round(wall, 1),
            "inputs_per_s": round(n / wall, 1) if wall else None, "accepted": accepted, "rejected": rejected,
            "unexpected": sum(unexpected.values()), "unexpected_kinds": unexpected, "findings": findings,
            "hangs": hangs, "max_input_ms": round(max_s * 1e3, 2), "setup_s": round(setup_s, 1),
            "seeds": len(tgt.seeds), "rss_base_mb": round(base, 1), "rss_marks_mb": rss_marks,
            "peak_rss_mb": round(peak_rss_mb(), 1), "traced_inputs": ntrace,
            "traced_peak_kb": round(traced_peak / 1024, 1)}


def _worker_main(args) -> int:
    if args.target == "decode":
        import fuzz_decode

        res = fuzz_decode.run_decode_target(api, args.decode_n, args.seed, cli_n=args.cli_n,
                                            corpus=Path(args.corpus), log=_log)
    else:
        res = run_parser_target(args.target, args.n, args.seed, start=args.start, corpus=Path(args.corpus),
                                log=_log, exit_on_hang=True)
    print(json.dumps(res), flush=True)
    return 0


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Parent side: one worker process per target, -j at a time


def run_campaign(targets, args) -> list[dict]:
    pending = list(targets)
    running: dict = {}
    results = []
    while pending or running:
        while pending and len(running) < args.jobs:
            t = pending.pop(0)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--target", t, "--n", str(args.n),
                   "--seed", str(args.seed), "--start", str(args.start), "--decode-n", str(args.decode_n),
                   "--cli-n", str(args.cli_n), "--corpus", args.corpus]
            running[t] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True), time.time())
            _log(f"started {t}")
        time.sleep(0.5)
        for t, (p, t0) in list(running.items()):
            if p.poll() is None:
                continue
            del running[t]
            out = p.stdout.read().strip().splitlines()
            try:
                res = json.loads(out[-1])
            except (IndexError, json.JSONDecodeError):
                res = {"target": t, "error": f"worker exited {p.returncode} without figures"}
            if "hang" in res:
                res = {"target": t, "inputs": None, "hangs": 1, "hang": res["hang"],
                       "error": f"hang at input {res['hang']['index']}"}
            res["worker_rc"] = p.returncode
            res["command"] = "python bench/fuzz.py " + " ".join(sys.argv[1:])
            res["finished"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            results.append(res)
            if args.json:  # as each target ends, so a cut-short campaign keeps its figures
                with open(args.json, "a") as f:
                    f.write(json.dumps(res) + "\n")
            _log(f"finished {t} in {time.time() - t0:.0f} s: {json.dumps(res)[:400]}")
    order = {t: k for k, t in enumerate(ALL_TARGETS)}
    return sorted(results, key=lambda r: order.get(r["target"], 99))


def _fmt_n(x) -> str:
    return "-" if x is None else f"{x:,}"


def report_section(results: list[dict], args, started: str, wall: float) -> str:
    cmd = results[0].get("command") if results else "python bench/fuzz.py " + " ".join(sys.argv[1:])
    lines = [BEGIN, "## Campaign figures", "",
             (f"Run {started} UTC on this machine (2 cores shared with other jobs), wall {wall / 60:.1f} min,"
              if wall else "Targets finished " + ", ".join(f"{r['target']} {r.get('finished', '?')}" for r in results)
              + " UTC, on this machine (2 cores shared with other jobs),")
             + f" python {sys.version.split()[0]}. Command:", "", "```", cmd, "```", "",
             "| target | inputs | inputs/s | accepted / rejected | non-MlcodecError | hangs | slowest input |"
             " peak RSS (base -> end) | tracemalloc peak/input |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        if "error" in r and r.get("inputs") is None:
            lines.append(f"| {r['target']} | - | - | - | - | {r.get('hangs', '-')} | - | - | {r['error']} |")
            continue
        if r["target"] == "decode":
            slow = f"{r['max_ratio']:.2f}x audio"
            acc = f"{r['decoded']:,} / {r['rejected']:,} (+{r['partial']:,} partial)"
        else:
            slow = f"{r['max_input_ms']:.1f} ms"
            acc = f"{r['accepted']:,} / {r['rejected']:,}"
        marks = r.get("rss_marks_mb") or []
        rss = f"{r['peak_rss_mb']:.0f} MiB ({r['rss_base_mb']:.0f} -> {marks[-1] if marks else '-'})"
        lines.append(f"| {r['target']} | {_fmt_n(r['inputs'])} | {r['inputs_per_s']:,.0f} | {acc} | "
                     f"{r['unexpected']} | {r['hangs']} | {slow} | {rss} | {r['traced_peak_kb']:,.0f} KiB |")
    dec = next((r for r in results if r["target"] == "decode" and r.get("cli")), None)
    if dec:
        c = dec["cli"]
        lines += ["", f"Real CLI (`python -m {ADAPTERS['cli_module']} decode`, one subprocess each) on "
                  f"{c['runs']} of the corrupted files: exit 0 {c['rc0']}, exit 1 {c['rc1']}, other exit codes "
                  f"{c['rc_other']}; stderr not one `mlcodec: error:` line on failure: {c['bad_stderr']}; "
                  f"tracebacks: {c['tracebacks']}; half-written or leftover outputs: {c['bad_output']}; "
                  f"slowest {c['max_s']:.1f} s (start-up included)."]
    finds = [(r["target"], f) for r in results for f in r.get("findings", [])]
    lines += ["", "Unexpected exceptions found in this run: " + ("none." if not finds else "")]
    for t, f in finds:
        lines.append(f"- {t} input {f['index']}: {f['kind']}: {f['message']}")
    lines += ["", "Raw figures (JSON, one line per target):", "", "```"]
    lines += [json.dumps({k: v for k, v in r.items() if k != "findings"}) for r in results]
    lines += ["```", END, ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="all", help="all, or comma-separated of: " + ", ".join(ALL_TARGETS))
    ap.add_argument("--n", type=int, default=100_000, help="inputs per parser target")
    ap.add_argument("--start", type=int, default=0, help="first input index (resume a campaign)")
    ap.add_argument("--decode-n", type=int, default=2000, help="corrupted files through decode_file")
    ap.add_argument("--cli-n", type=int, default=40, help="of those, how many also through the real CLI")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--report", help="markdown file whose fuzz section gets the figures")
    ap.add_argument("--json", help="append each target's figures here (JSON Lines) as it ends")
    ap.add_argument("--from-json", help="only write --report from figures a campaign appended to this file")
    ap.add_argument("--corpus", default=str(CORPUS), help="where findings are kept")
    ap.add_argument("--replay", type=int, help="rebuild input REPLAY of --target, run it, show the outcome")
    ap.add_argument("--save", help="with --replay: write the input bytes here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker_main(args)
    if args.replay is not None:
        import fuzz_targets as T

        tgt = T.make_target(args.target, api)
        data = T.InputGen(tgt, args.seed).make(args.replay)
        if args.save:
            Path(args.save).write_bytes(data)
        print(f"{len(data)} bytes: {data[:64].hex()}{'...' if len(data) > 64 else ''}")
        tgt.run(data)  # raises whatever it raises, with its traceback
        print("accepted")
        return 0
    if args.from_json:
        from common import write_section

        order = {t: k for k, t in enumerate(ALL_TARGETS)}
        results = sorted((json.loads(x) for x in Path(args.from_json).read_text().splitlines() if x.strip()),
                         key=lambda r: order.get(r["target"], 99))
        write_section(Path(args.report), BEGIN, END, report_section(results, args, "(see JSON)", 0.0),
                      "# Reliability\n")
        return 0
    targets = ALL_TARGETS if args.target == "all" else tuple(args.target.split(","))
    bad = [t for t in targets if t not in ALL_TARGETS]
    if bad:
        ap.error(f"unknown target(s) {bad}")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.time()
    results = run_campaign(targets, args)
    wall = time.time() - t0
    if args.report:
        from common import write_section

        write_section(Path(args.report), BEGIN, END, report_section(results, args, started, wall),
                      "# Reliability\n")
    print(json.dumps(results, indent=1))
    bad = sum(r.get("unexpected", 0) or 0 for r in results) + sum(r.get("hangs", 0) or 0 for r in results)
    return 1 if bad or any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
