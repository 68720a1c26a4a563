"""Generate (or check) mlcodec's own conformance vectors. See test_vectors/README.md.

    python test_vectors/generate.py            # (re)make streams + expected outputs (inputs kept)
    python test_vectors/generate.py --inputs   # also re-make the inputs (needs espeak-ng)
    python test_vectors/generate.py --check    # decode/re-encode and compare, exit 1 on failure

Every vector is produced with the shipped model on the fixed-point (int8) path.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mlcodec.codec.compare import compare_audio, compare_features  # noqa: E402
from mlcodec.codec.files import decode_stream, encode_stream  # noqa: E402

#: Ogg serial number of every vector stream (fixed, so the streams are reproducible).
SERIAL = 0x6D6C6376  # "mlcv"
RATE = 16000
#: The default model, loaded by path so that every vector (1.5k ones too) uses it.
SHIPPED_PATH = HERE.parent / "mlcodec" / "models" / "codec_v2.bin"

_EN = ("espeak", "en-us", "The quick brown fox jumps over the lazy dog.")
_DE = ("espeak", "de", "Bitte rufen Sie mich morgen um acht Uhr an.")
_ES = ("espeak", "es", "El cielo estaba despejado aquella tarde.")
#: name -> (how the input is made, bitrate, packet ms, format version). Format-1 vectors stay
#: (v1 files must still decode, and the format-1 writer must still make them bit-exactly).
CASES = {
    "speech_en_3k_20ms": (_EN, "3k", 20, 1),
    "speech_de_1.5k_60ms": (_DE, "1.5k", 60, 1),
    "speech_es_6k_40ms": (_ES, "6k", 40, 1),
    "harmonics_3k_20ms": (("harmonics",), "3k", 20, 1),
    "noise_silence_1.5k_20ms": (("noise_silence",), "1.5k", 20, 1),
    "v2_speech_en_3k_120ms": (_EN, "3k", 120, 2),
    "v2_speech_de_1.5k_120ms": (_DE, "1.5k", 120, 2),
    "v2_speech_es_6k_20ms": (_ES, "6k", 20, 2),
    "v2_speech_en_2.5k_60ms": (_EN, "2.5k", 60, 2),
    "v2_noise_silence_3k_120ms": (("noise_silence",), "3k", 120, 2),
    "v3_speech_en_3k_120ms": (_EN, "3k", 120, 3),
    "v3_speech_de_1.5k_120ms": (_DE, "1.5k", 120, 3),
    "v3_speech_es_6k_20ms": (_ES, "6k", 20, 3),
    "v3_noise_silence_1.5k_120ms": (("noise_silence",), "1.5k", 120, 3),
}


def make_input(spec) -> np.ndarray:
    """16 kHz int16 samples of one input."""
    kind = spec[0]
    if kind == "espeak":
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SystemExit("espeak-ng is needed to make the speech inputs")
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "e.wav"
            subprocess.run([exe, "-v", spec[1], "-w", str(wav), spec[2]], check=True)
            from mlcodec.dsp.audio import read_audio, to_int16

            return to_int16(read_audio(wav) * 0.7)
    n = RATE  # 1 s
    t = np.arange(n) / RATE
    if kind == "harmonics":
        # a voiced-like tone: f0 glides 120 -> 240 Hz, 20 harmonics with 1/k amplitudes, fades
        f0 = 120 * 2 ** t
        ph = 2 * np.pi * np.cumsum(f0) / RATE
        x = sum(np.sin(k * ph) / k for k in range(1, 21) if k * 240 < 7800)
        x *= np.sin(np.pi * t) ** 2 * 6000
    elif kind == "noise_silence":
        rng = np.random.default_rng(7)
        x = np.zeros(n)
        x[4800:11200] = rng.normal(0, 2500, 6400) * np.hanning(6400)
    else:
        raise ValueError(kind)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def encode_bytes(x: np.ndarray, bitrate: str, frame_ms: int, model, format_version: int = 1) -> bytes:
    """The stream of ``x`` (format 2: two-pass VBR with DTX, the file encoder's default)."""
    buf = io.BytesIO()
    encode_stream([np.asarray(x, np.float32)], buf, model=model, bitrate=bitrate, frame_ms=frame_ms,
                  serial=SERIAL, fixed_point=True, format_version=format_version)
    return buf.getvalue()


def vocoder_checksum() -> str | None:
    """SHA-256 of the shipped neural vocoder blob (None when it is not installed)."""
    from mlcodec.vocoder.fargan import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        return None
    import hashlib

    return hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()


def decode_bytes(data: bytes, model, vocoder: str = "reference") -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 20) float32, audio int16) of a stream.

    ``audio`` is made with the reference synthesizer (deterministic DSP, independent of the
    trained vocoder) unless ``vocoder="neural"``: the "audio_neural" expectation."""
    audio, feats = [], []
    res = decode_stream(io.BytesIO(data), audio.append, model=model, fixed_point=True, feature_sink=feats.append,
                        vocoder=vocoder)
    if res.truncated:
        raise RuntimeError(f"vector stream truncated: {res.truncated}")
    from mlcodec.dsp.audio import to_int16

    return np.concatenate(feats).astype(np.float32), to_int16(np.concatenate(audio))


def files(name: str) -> dict[str, Path]:
    base = name.removeprefix("v2_").removeprefix("v3_")
    return {"input": HERE / "inputs" / f"{base.rsplit('_', 2)[0]}.flac", "stream": HERE / "streams" / f"{name}.opus",
            "features": HERE / "expected" / f"{name}.f32", "audio": HERE / "expected" / f"{name}.flac",
            "audio_neural": HERE / "expected" / f"{name}.neural.flac"}


def read_input(path: Path) -> np.ndarray:
    x, rate = sf.read(path, dtype="int16")
    assert rate == RATE and x.ndim == 1, path
    return x


def generate(make_inputs: bool, model_path=None) -> None:
    from mlcodec.codec.model import load_model

    model = load_model(model_path or SHIPPED_PATH)  # by path: the same model at every preset
    from mlcodec.codec.contexts import model_contexts

    ctx = model_contexts(model)
    manifest = {"model": model.name, "model_checksum": model.checksum, "vocoder_checksum": vocoder_checksum(),
                "ctx_checksum": ctx.checksum if ctx is not None else None, "serial": SERIAL, "vectors": {}}
    for sub in ("inputs", "streams", "expected"):
        (HERE / sub).mkdir(exist_ok=True)
    for name, (spec, bitrate, frame_ms, version) in CASES.items():
        f = files(name)
        if make_inputs or not f["input"].exists():
            sf.write(f["input"], make_input(spec), RATE, subtype="PCM_16")
        x = read_input(f["input"])
        data = encode_bytes(x, bitrate, frame_ms, model, version)
        f["stream"].write_bytes(data)
        feats, audio = decode_bytes(data, model)
        feats.astype("<f4").tofile(f["features"])
        sf.write(f["audio"], audio, RATE, subtype="PCM_16")
        if manifest["vocoder_checksum"]:
            sf.write(f["audio_neural"], decode_bytes(data, model, "neural")[1], RATE, subtype="PCM_16")
        manifest["vectors"][name] = {
            "input": str(f["input"].relative_to(HERE)), "stream": str(f["stream"].relative_to(HERE)),
            "features": str(f["features"].relative_to(HERE)), "audio": str(f["audio"].relative_to(HERE)),
            **({"audio_neural": str(f["audio_neural"].relative_to(HERE))} if manifest["vocoder_checksum"] else {}),
            "bitrate": bitrate, "frame_ms": frame_ms, "format": version, "input_samples": int(len(x)),
            "stream_bytes": len(data), "feature_frames": int(feats.shape[0]),
            "source": " ".join(spec),
        }
        print(f"{name}: {len(x) / RATE:.2f} s, {len(data)} bytes, {feats.shape[0]} feature frames")
    (HERE / "vectors.json").write_text(json.dumps(manifest, indent=1) + "\n")


def check(model_path=None) -> bool:
    """Decode every stream and re-encode every input; compare with the expected files."""
    from mlcodec.codec.model import load_model

    model = load_model(model_path or SHIPPED_PATH)  # by path: the same model at every preset
    manifest = json.loads((HERE / "vectors.json").read_text())
    ok = True
    if manifest["model_checksum"] != model.checksum:
        print("the vectors were made with another model; regenerate them")
        return False
    for name, v in manifest["vectors"].items():
        feats, audio = decode_bytes((HERE / v["stream"]).read_bytes(), model)
        fr = compare_features(np.fromfile(HERE / v["features"], "<f4"), feats)
        ar = compare_audio(sf.read(HERE / v["audio"], dtype="int16")[0], audio)
        same = encode_bytes(read_input(HERE / v["input"]), v["bitrate"], v["frame_ms"], model,
                            v.get("format", 1)) == \
            (HERE / v["stream"]).read_bytes()
        print(f"{name}: features {fr}; audio {ar}; re-encoded stream {'identical' if same else 'DIFFERS'}")
        ok &= fr.ok and ar.ok and same
        if "audio_neural" in v and manifest.get("vocoder_checksum") == vocoder_checksum():
            nr = compare_audio(sf.read(HERE / v["audio_neural"], dtype="int16")[0],
                               decode_bytes((HERE / v["stream"]).read_bytes(), model, "neural")[1])
            print(f"{name}: neural-vocoder audio {nr}")
            ok &= nr.ok
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", action="store_true", help="re-make the inputs too (espeak-ng)")
    ap.add_argument("--check", action="store_true", help="check instead of generating")
    ap.add_argument("--model", default=None, help="model blob (default: the shipped one)")
    a = ap.parse_args()
    if a.check:
        raise SystemExit(0 if check(a.model) else 1)
    generate(a.inputs, a.model)


if __name__ == "__main__":
    main()
