"""Which Opus frames does every other decoder play as silence? (issue 10 item 2; format v2)

Builds Ogg Opus files (and opus_demo ``.bit`` files) whose packets carry a random mlcodec-like
extension payload next to candidate "silent" frames, decodes them with every decoder found on
the machine and prints the peak of the decoded samples in dBFS (a markdown table).

    PYTHONPATH=$PWD /work/venv/bin/python bench/silence_interop.py [--seconds 3]

Decoders: opusdec (opus-tools), libopus ``opus_demo -d`` (``$OPUS_DEMO`` or
$MLCODEC_LIBOPUS_PREFIX/bin/opus_demo, default ../libopus beside the repo) at decoder complexity 0 and 10, ffmpeg native and ``-c:a
libopus``, the ffmpeg that ``imageio-ffmpeg`` ships, headless Chromium's ``decodeAudioData``.
The functions here are reused by tests/test_interop_silence.py.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mlcodec.bitstream.carrier import build_carrier, carrier_config
from mlcodec.containers.oggopus import OggOpusWriter
from mlcodec.containers.opusdemo import encode_record

EXT_ID = 122
PRE_SKIP = 480
TIMEOUT = 60

#: name -> (silent frame, packet ms, OpusHead output gain (Q7.8 dB))
CANDIDATES = {
    "v1 lost 20ms": ("lost", 20, 0),
    "lost 120ms": ("lost", 120, 0),
    "lost 20ms + gain-128dB": ("lost", 20, -32768),
    "lost 120ms + gain-128dB": ("lost", 120, -32768),
    "silk0 20ms": ("silk0", 20, 0),
    "silk0 60ms": ("silk0", 60, 0),
    "silk0 120ms": ("silk0", 120, 0),
    "celt 20ms": ("celt", 20, 0),
    "celt 120ms": ("celt", 120, 0),
    "silk0 120ms + gain-128dB": ("silk0", 120, -32768),
    "celtlost 20ms": ("celtlost", 20, 0),
    "celtlost 120ms": ("celtlost", 120, 0),
    "celtlost 120ms + gain-128dB": ("celtlost", 120, -32768),
}


def candidate_packets(frame: str, packet_ms: int, seconds: float, seed: int = 1) -> list[bytes]:
    """Carrier packets for ``seconds`` of audio, each with a random 20-60 byte payload."""
    rnd = random.Random(seed)
    n = max(1, int(round(seconds * 1000 / packet_ms)))
    return [build_carrier(packet_ms, [bytes(rnd.randrange(256) for _ in range(rnd.randrange(20, 60)))],
                          EXT_ID, frame=frame) for _ in range(n)]


def ogg_bytes(packets: list[bytes], gain: int = 0) -> bytes:
    """An Ogg Opus file of the packets (mono, 16 kHz input rate, fixed serial)."""
    buf = io.BytesIO()
    w = OggOpusWriter(buf, channels=1, input_sample_rate=16000, pre_skip=PRE_SKIP, serial=0x6D6C,
                      output_gain=gain, tags={"MLCODEC_FORMAT": "2"})
    for p in packets:
        w.write_packet(p)
    w.close()
    return buf.getvalue()


def bit_bytes(packets: list[bytes]) -> bytes:
    """opus_demo .bit records (final range 0 = not checked)."""
    return b"".join(encode_record(p, 0) for p in packets)


def peak_dbfs(x: np.ndarray) -> float:
    """Peak of float samples in dBFS (-inf for digital zero)."""
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * math.log10(m) if m > 0 else -math.inf


# ---------------------------------------------------------------------------------------------
# Decoders: each takes (ogg path, bit path, tmp dir) and returns float samples.

def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    if r.returncode:
        raise RuntimeError(f"{cmd[0]} exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")


def _s16(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), "<i2").astype(np.float64) / 32768.0


def _f32(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), "<f4").astype(np.float64)


def opus_demo_path() -> str | None:
    prefix = os.environ.get("MLCODEC_LIBOPUS_PREFIX") or str(Path(__file__).resolve().parents[2] / "libopus")
    p = os.environ.get("OPUS_DEMO", str(Path(prefix) / "bin" / "opus_demo"))
    return p if os.path.exists(p) else None


def imageio_ffmpeg_path() -> str | None:
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def dec_opusdec(ogg: Path, bit: Path, tmp: Path) -> np.ndarray:
    out = tmp / "opusdec.raw"
    _run(["opusdec", "--quiet", "--rate", "48000", "--float", str(ogg), str(out)])
    return _f32(out)


def _opus_demo(cx: int):
    def dec(ogg: Path, bit: Path, tmp: Path) -> np.ndarray:
        out = tmp / f"demo{cx}.pcm"
        _run([opus_demo_path(), "-d", "48000", "1", "-dec_complexity", str(cx), str(bit), str(out)])
        return _s16(out)
    return dec


def _ffmpeg(exe_fn, codec: str | None):
    def dec(ogg: Path, bit: Path, tmp: Path) -> np.ndarray:
        out = tmp / "ff.f32"
        cmd = [exe_fn(), "-nostdin", "-v", "error", "-y"]
        if codec:
            cmd += ["-c:a", codec]
        _run(cmd + ["-i", str(ogg), "-f", "f32le", "-ac", "1", "-ar", "48000", str(out)])
        return _f32(out)
    return dec


_HTML = """<html><body><pre id=o>pending</pre><script>
const files = %s;
const ctx = new OfflineAudioContext(1, 48000, 48000);
// Headless virtual time skips ahead while the page is idle, but decoding runs on a real thread:
// while it is pending, each virtual 10 ms burns some real CPU time (a counted loop, since
// clocks are virtual too), so --virtual-time-budget cannot expire before the result arrives.
let done = false, sink = 0;
const spin = setInterval(() => { if (done) { clearInterval(spin); return; }
  for (let i = 0; i < 3e6; i++) sink += i; }, 10);
Promise.all(files.map(b64 => {
  const raw = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  return ctx.decodeAudioData(raw.buffer).then(buf => {
    let m = 0; const d = buf.getChannelData(0);
    for (let i = 0; i < d.length; i++) { const a = Math.abs(d[i]); if (a > m) m = a; }
    return 'PEAK ' + m + ' LEN ' + d.length;
  }, err => 'ERROR ' + err);
})).then(r => { done = true; document.getElementById('o').textContent = r.join('\\n'); });
</script></body></html>"""


def chromium_peaks(oggs: list[bytes], tmp: Path) -> list[float]:
    """Peaks of several files decoded by headless Chromium's decodeAudioData (one launch)."""
    html = tmp / "decode.html"
    html.write_text(_HTML % json.dumps([base64.b64encode(o).decode() for o in oggs]))
    for _ in range(4):      # a dump before the result ("pending") is retried
        r = subprocess.run([chromium_path(), "--headless", "--no-sandbox", "--disable-gpu",
                            "--virtual-time-budget=60000", f"--user-data-dir={tmp / 'chrome'}",
                            "--dump-dom", html.as_uri()], capture_output=True, timeout=TIMEOUT)
        m = re.search(r'<pre id="o">([^<]*)</pre>', r.stdout.decode(errors="replace"))
        if m and m.group(1) != "pending":
            break
    if not m or m.group(1) == "pending":
        raise RuntimeError(f"chromium: {m.group(1) if m else r.stderr.decode(errors='replace')[-300:]}")
    out = []
    for line in m.group(1).splitlines():
        if not line.startswith("PEAK "):
            raise RuntimeError(f"chromium: {line}")
        p = float(line.split()[1])
        out.append(20 * math.log10(p) if p > 0 else -math.inf)
    return out


def dec_chromium(ogg: Path, bit: Path, tmp: Path) -> np.ndarray:
    p = chromium_peaks([ogg.read_bytes()], tmp)[0]
    return np.array([10 ** (p / 20) if p > -math.inf else 0.0])


def decoders() -> dict:
    """name -> (decoder, reason it is unavailable or None)."""
    demo = opus_demo_path()
    iio = imageio_ffmpeg_path()
    ff = shutil.which("ffmpeg")
    return {
        "opusdec": (dec_opusdec, None if shutil.which("opusdec") else "opusdec not installed"),
        "opus_demo cx0": (_opus_demo(0), None if demo else "opus_demo not found ($OPUS_DEMO)"),
        "opus_demo cx10": (_opus_demo(10), None if demo else "opus_demo not found ($OPUS_DEMO)"),
        "ffmpeg native": (_ffmpeg(lambda: ff, None), None if ff else "ffmpeg not installed"),
        "ffmpeg libopus": (_ffmpeg(lambda: ff, "libopus"), None if ff else "ffmpeg not installed"),
        "imageio-ffmpeg native": (_ffmpeg(lambda: iio, None), None if iio else "imageio-ffmpeg not installed"),
        "chromium": (dec_chromium, None if chromium_path() else "chromium not installed"),
    }


def decode_peak(name: str, ogg: bytes, bit: bytes) -> float:
    """Peak dBFS of ``ogg``/``bit`` decoded by decoder ``name``."""
    fn, why = decoders()[name]
    if why:
        raise RuntimeError(why)
    with tempfile.TemporaryDirectory(prefix="mlc-sil-") as d:
        tmp = Path(d)
        (tmp / "f.opus").write_bytes(ogg)
        (tmp / "f.bit").write_bytes(bit)
        return peak_dbfs(fn(tmp / "f.opus", tmp / "f.bit", tmp))


def decode_peaks(name: str, files: list[tuple[bytes, bytes]]) -> list[float]:
    """Peak dBFS of several (ogg, bit) files; Chromium decodes them all in one launch."""
    if name != "chromium":
        return [decode_peak(name, o, b) for o, b in files]
    if decoders()[name][1]:
        raise RuntimeError(decoders()[name][1])
    with tempfile.TemporaryDirectory(prefix="mlc-sil-") as d:
        return chromium_peaks([o for o, _ in files], Path(d))


def framing_kbps(frame: str, packet_ms: int) -> float:
    """Silent-frame + carrier bytes per second (excluding the payload), in kb/s."""
    pk = build_carrier(packet_ms, [b"\x55" * 40], EXT_ID, frame=frame)
    return (len(pk) - 40) * 8 / packet_ms


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    decs = decoders()
    names = [n for n, (_, why) in decs.items() if why is None]
    for n, (_, why) in decs.items():
        if why:
            print(f"# skipped {n}: {why}", file=sys.stderr)
    print("| candidate | carrier B/packet (w/o payload) | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for cand, (frame, ms, gain) in CANDIDATES.items():
        pk = candidate_packets(frame, ms, args.seconds)
        ogg, bit = ogg_bytes(pk, gain), bit_bytes(pk)
        cells = []
        for n in names:
            try:
                p = decode_peak(n, ogg, bit)
                cells.append("−inf" if p == -math.inf else f"{p:.1f}")
            except Exception as exc:  # noqa: BLE001 - a bench reports, it does not stop
                cells.append(f"ERR {str(exc)[:40]}")
        over = framing_kbps(frame, ms)
        print(f"| {cand} | {over * ms / 8:.0f} B = {over:.2f} kb/s | " + " | ".join(cells) + " |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
