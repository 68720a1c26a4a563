"""Seeds, mutator and one-input runners of the fuzz targets (bench/fuzz.py drives them).

Every entry point comes through ``api(name)`` (bench/fuzz.py's ADAPTERS table). Seeds are valid
inputs: made here with the library's own writers (no files needed), the shipped opusenc sample
(mlcodec/samples/sample.opus) and, when ``$MLCODEC_VECTORS`` (or ../shared/vectors) exists,
libopus's vectors. Targets whose entry point takes an argument besides the bytes read it from
the input's first byte (``hdr = 1``); the mutator mostly leaves that byte alone.
"""
from __future__ import annotations

import io
import json
import os
import random
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LEN = 1 << 16
INTERESTING8 = (0, 1, 2, 3, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF)
INTERESTING32 = (0, 1, 2, 16, 63, 64, 65, 127, 128, 255, 256, 1275, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def vectors_dir() -> Path | None:
    env = os.environ.get("MLCODEC_VECTORS")
    d = Path(env) if env else ROOT.parent / "shared" / "vectors"
    return d if d.is_dir() else None


def _jsonl(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


# ---------------------------------------------------------------------------------------------
# Mutations (what they do is listed in docs/reliability.md)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes], max_len: int = MAX_LEN) -> bytes:
    """1 to 6 stacked edits: bit flips, interesting/random bytes, truncations (end or front),
    deletions, insertions, +-1..35 on a 1/2/4-byte integer (LE or BE), a 2/4-byte field set to a
    boundary value (0, 255, 1275, 2^31, 2^32-1, the input length...), range duplication, zeroed
    words and splices with another seed."""
    rnd = rng.random
    b = bytearray(data)
    for _ in range((1, 1, 1, 2, 2, 3, 4, 6)[int(rnd() * 8)]):
        n = len(b)
        op = int(rnd() * 12)
        if op == 0 and n:
            b[int(rnd() * n)] ^= 1 << int(rnd() * 8)
        elif op == 1 and n:
            b[int(rnd() * n)] = INTERESTING8[int(rnd() * len(INTERESTING8))]
        elif op == 2 and n:
            b[int(rnd() * n)] = int(rnd() * 256)
        elif op == 3:
            del b[int(rnd() * (n + 1)):]
        elif op == 4 and n:
            a = int(rnd() * n)
            del b[a:a + 1 + int(rnd() * min(64, n - a))]
        elif op == 5:
            a = int(rnd() * (n + 1))
            b[a:a] = rng.randbytes(1 + int(rnd() * 16))
        elif op == 6 and n >= 4:
            w = (1, 2, 4)[int(rnd() * 3)]
            a = int(rnd() * (n - w + 1))
            f = ("<", ">")[rnd() < 0.5] + {1: "B", 2: "H", 4: "I"}[w]
            v = struct.unpack_from(f, b, a)[0] + (1 + int(rnd() * 35)) * (1 if rnd() < 0.5 else -1)
            struct.pack_into(f, b, a, v % (1 << (8 * w)))
        elif op == 7 and n >= 4:
            w = 2 if rnd() < 0.5 else 4
            a = int(rnd() * (n - w + 1))
            vals = INTERESTING32 + (n, n - a, n + 1)
            v = vals[int(rnd() * len(vals))]
            struct.pack_into(("<", ">")[rnd() < 0.5] + ("H" if w == 2 else "I"), b, a, v % (1 << (8 * w)))
        elif op == 8 and seeds:
            o = seeds[int(rnd() * len(seeds))]
            b = b[:int(rnd() * (n + 1))] + o[int(rnd() * (len(o) + 1)):]
        elif op == 9 and n:
            a = int(rnd() * n)
            piece = b[a:a + 1 + int(rnd() * 64)]
            c = int(rnd() * (n + 1))
            b[c:c] = piece * (1, 1, 2, 8)[int(rnd() * 4)]
        elif op == 10 and n:
            del b[:1 + int(rnd() * min(n, 32))]
        elif op == 11 and n:
            a = int(rnd() * n)
            b[a:a + 4] = bytes(4)
    return bytes(b[:max_len])


def fix_ogg_crcs(b: bytearray, crc32) -> bytearray:
    """Recompute the CRC of every whole page found at an 'OggS', so edits reach past the check."""
    p = b.find(b"OggS")
    while 0 <= p and p + 27 <= len(b):
        nseg = b[p + 26]
        end = p + 27 + nseg + sum(b[p + 27:p + 27 + nseg])
        if end > len(b) or p + 27 + nseg > len(b):
            break
        b[p + 22:p + 26] = bytes(4)
        b[p + 22:p + 26] = struct.pack("<I", crc32(bytes(b[p:end])))
        p = b.find(b"OggS", end)
    return b


class Target:
    """One parser under test: seeds, how to run one input, optional post-mutation fix-up."""

    def __init__(self, name, seeds, run, *, hdr=0, fixup=None, max_len=MAX_LEN):
        self.name, self.seeds, self.run, self.hdr, self.fixup, self.max_len = name, seeds, run, hdr, fixup, max_len
        if not seeds:
            raise RuntimeError(f"fuzz target {name}: no seeds")


class InputGen:
    """Input ``i`` = seed ``i``-chosen, mutated with random.Random((seed, target, i)): replayable."""

    def __init__(self, tgt: Target, seed: int):
        self.tgt, self.seed = tgt, int(seed)
        self.salt = int.from_bytes(tgt.name.encode()[:8].ljust(8, b"\0"), "little")
        self.bodies = [x[tgt.hdr:] for x in tgt.seeds[:64]]

    def make(self, i: int) -> bytes:
        t = self.tgt
        rng = random.Random((self.seed << 96) ^ (self.salt << 40) ^ i)
        s = t.seeds[int(rng.random() * len(t.seeds))]
        if rng.random() < 0.02:  # occasionally pure noise
            return rng.randbytes(int(rng.random() * 64))
        if t.hdr:
            head, body = s[:t.hdr], s[t.hdr:]
            if rng.random() < 0.05:
                head = rng.randbytes(1)
            out = head + mutate(rng, body, self.bodies, t.max_len)
        else:
            out = mutate(rng, s, self.bodies, t.max_len)
        if t.fixup is not None:
            out = t.fixup(rng, out)
        return out


# ---------------------------------------------------------------------------------------------
# Seeds


def _sample_opus() -> bytes:
    return (ROOT / "mlcodec" / "samples" / "sample.opus").read_bytes()


def ogg_packets(api, data: bytes, limit: int = 400) -> list[bytes]:
    out = []
    for p in api("read_ogg_opus")(io.BytesIO(data)).packets():
        out.append(bytes(p.data))
        if len(out) >= limit:
            break
    return out


def _own_packets(api) -> list[bytes]:
    """Packets of every code and frame count with short/long/repeat extensions (own writer)."""
    build, Ext = api("build_packet"), api("Extension")
    rng = random.Random(7)
    out = []
    for config in (0, 9, 11, 16, 31):
        for nf in (1, 2, 3, 6):
            frames = [bytes(rng.randrange(256) for _ in range(rng.choice((0, 3, 20, 300)))) for _ in range(nf)]
            if config >= 16 and nf > 2:
                frames = frames[:2]
            exts = [Ext(0, 5, b"\x11"), Ext(len(frames) - 1, 40, b"abc" * rng.randint(0, 90)), Ext(0, 122, b"\x01xy")]
            for e in ([], exts[:1], exts):
                try:
                    out.append(build(config, frames, extensions=e))
                except Exception:  # noqa: BLE001 - a shape the writer refuses is simply not a seed
                    pass
    return out


def _vector_packets() -> list[bytes]:
    v = vectors_dir()
    if v is None:
        return []
    out = [bytes.fromhex(c["packet"]) for n in ("valid.jsonl", "malformed.jsonl")
           for c in _jsonl(v / "packets" / n) if isinstance(c.get("packet"), str)]
    return [p for p in out if len(p) <= 4000]


def _opus_files() -> list[bytes]:
    files = [_sample_opus()]
    v = vectors_dir()
    if v is not None:
        files += [p.read_bytes()[:20000] for p in sorted((v / "streams" / "ogg").glob("*.opus"))]
    return files


def seeds_packet(api) -> list[bytes]:
    pk = _own_packets(api) + _vector_packets() + ogg_packets(api, _sample_opus(), 120)
    sd = api("to_self_delimited")
    out = [b"\0" + p for p in pk]
    for p in pk[:200]:
        try:
            out.append(b"\1" + sd(p))
        except Exception:  # noqa: BLE001
            pass
    return out


def seeds_extensions(api) -> list[bytes]:
    out = []
    v = vectors_dir()
    if v is not None:
        for n in ("valid.jsonl", "invalid.jsonl"):
            for c in _jsonl(v / "extensions" / n):
                area = c.get("bytes", c.get("encoded"))
                if isinstance(area, str) and c.get("nb_frames"):
                    out.append(bytes([(int(c["nb_frames"]) - 1) % 48]) + bytes.fromhex(area))
    # areas cut out of own packets: the padding after the frames (a code-3 packet's tail)
    parse = api("parse_packet")
    for p in _own_packets(api) + ogg_packets(api, _sample_opus(), 60):
        try:
            pk = parse(p)
        except Exception:  # noqa: BLE001
            continue
        pad = getattr(pk, "padding", None)
        if pad:
            out.append(bytes([(len(pk.frames) - 1) % 48]) + bytes(pad))
    out += [bytes([k]) + a for k, a in ((0, b"\x0b\x07"), (3, b"\x02\x03\x01\x05\x41\x02ab"), (1, b"\x04\x06x"))]
    return out


def seeds_ogg(api) -> list[bytes]:
    return _opus_files() + [f for f in _decode_seed_files()]


def seeds_framing(api) -> list[bytes]:
    pk = _own_packets(api) + ogg_packets(api, _sample_opus(), 40)
    rec = api("bit_record")
    out = [b"".join(rec(p, 0x12345678 * (k + 1) & 0xFFFFFFFF) for k, p in enumerate(pk[a:a + 6]))
           for a in range(0, len(pk), 6)]
    raw = []
    for a in range(0, len(pk), 6):
        f = io.BytesIO()
        w = api("RawWriter")(f)
        for p in pk[a:a + 6]:
            w.write_packet(p)
        raw.append(f.getvalue())
    v = vectors_dir()
    bits = []
    if v is not None:
        for p in sorted((v / "streams").glob("*.bit"))[:6] + sorted((v / "dred" / "bit").glob("*.bit"))[:2]:
            bits.append(p.read_bytes()[:6000])
    return out + raw + bits


def seeds_weights(api) -> list[bytes]:
    import numpy as np

    to_bytes = api("weights_to_bytes")
    rng = np.random.default_rng(3)
    own = [to_bytes({"a_float": rng.normal(size=5).astype(np.float32),
                     "b_int": rng.integers(-9, 9, 7).astype(np.int32),
                     "c_int8": rng.integers(-100, 100, 70).astype(np.int8)}),
           to_bytes({"w": rng.normal(size=40).astype(np.float32)})]
    out = list(own)
    v = vectors_dir()
    if v is not None:
        out += [bytes.fromhex(c["blob"]) for c in _jsonl(v / "nnet" / "blob_parse.jsonl") if isinstance(c.get("blob"), str)]
        w = v / "nnet" / "weights.bin"
        if w.is_file():
            out.append(w.read_bytes()[:8192])
    for m in sorted((ROOT / "mlcodec" / "models").glob("*.bin")):
        out.append(m.read_bytes()[:8192])
    return out


def _decode_seed_files() -> list[bytes]:
    """mlcodec streams (1 s of the shipped sample at each bit-rate/packet size), made once."""
    from fuzz_decode import make_decode_seeds

    import fuzz  # the ADAPTERS table

    return [d for d, _ in make_decode_seeds(fuzz.api)]


def seeds_payload(api) -> list[bytes]:
    out = []
    for f in _decode_seed_files():
        pk = ogg_packets(api, f, 200)
        out += [bytes([(k % 3) | (0x40 if k % 2 else 0)]) + p for k, p in enumerate(pk)]
    return out


def seeds_wav() -> list[bytes]:
    import numpy as np

    rng = np.random.default_rng(5)

    def wav(tag, ch, rate, bits, frames, *, extensible=False, extra=b"", open_size=False, odd=False):
        n = frames * ch
        if tag == 3:
            body = rng.normal(0, 0.3, n).astype("<f4" if bits == 32 else "<f8").tobytes()
        elif bits == 8:
            body = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        elif bits == 24:
            body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in rng.integers(-2**23, 2**23, n))
        else:
            body = rng.integers(-2**(bits - 1), 2**(bits - 1), n).astype(f"<i{bits // 8}").tobytes()
        align = ch * bits // 8
        if extensible:
            fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, ch, rate, rate * align, align, bits, 22, bits, 0,
                              struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
        else:
            fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * align, align, bits)
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
        size = 0xFFFFFFFF if open_size else len(body)
        if odd:
            body += b"\x01"
        data = chunks + b"data" + struct.pack("<I", size) + body
        return b"RIFF" + struct.pack("<I", 0xFFFFFFFF if open_size else 4 + len(data)) + b"WAVE" + data

    lst = b"LIST" + struct.pack("<I", 9) + b"INFOabcde\0"
    return [wav(1, 1, 16000, 16, 300), wav(1, 2, 48000, 16, 200), wav(1, 1, 8000, 8, 301),
            wav(1, 1, 16000, 24, 150), wav(1, 1, 22050, 32, 100), wav(3, 1, 16000, 32, 120),
            wav(3, 2, 44100, 64, 60), wav(1, 1, 16000, 16, 200, extensible=True),
            wav(3, 1, 16000, 32, 100, extensible=True), wav(1, 1, 16000, 16, 200, extra=lst),
            wav(1, 1, 16000, 16, 250, open_size=True), wav(1, 1, 16000, 24, 11, odd=True)]


# ---------------------------------------------------------------------------------------------
# Targets


def make_target(name: str, api) -> Target:
    BytesIO = io.BytesIO
    if name == "packet":
        parse, exts = api("parse_packet"), api("packet_extensions")

        def run(d):
            exts(parse(d[1:], self_delimited=bool(d[:1] == b"\1")))
        return Target(name, seeds_packet(api), run, hdr=1, max_len=8000)
    if name == "extensions":
        parse = api("parse_extensions")

        def run(d):
            parse(d[1:], 1 + (d[0] if d else 0) % 48)
        return Target(name, seeds_extensions(api), run, hdr=1, max_len=4000)
    if name == "ogg":
        pages, reader, crc = api("iter_pages"), api("read_ogg_opus"), api("ogg_crc32")

        def run(d):
            for _ in pages(BytesIO(d), file="fuzz", check_crc=False):
                pass
            for _ in reader(BytesIO(d), file="fuzz").packets():
                pass

        def fixup(rng, d):  # most edits should get past the CRC to the structure behind it
            return bytes(fix_ogg_crcs(bytearray(d), crc)) if rng.random() < 0.7 else d
        return Target(name, seeds_ogg(api), run, fixup=fixup, max_len=40000)
    if name == "framing":
        bit, raw = api("iter_bit"), api("iter_raw")

        def run(d):  # the reader `mlcodec inspect` would pick: raw framing has a magic, .bit none
            for _ in (raw if d[:4] == b"OPKT" else bit)(BytesIO(d), file="fuzz"):
                pass
        return Target(name, seeds_framing(api), run, max_len=12000)
    if name == "weights":
        read = api("read_weights")

        def run(d):
            try:
                read(d, file="fuzz", strict=False)
            finally:
                read(d, file="fuzz", strict=True)
        return Target(name, seeds_weights(api), run, max_len=12000)
    if name == "payload":
        split, read, lpp = api("split_codec_packet"), api("read_payload"), api("latents_per_packet")
        carrier, read2 = api("carrier_payload"), api("read_payload_v2")
        model = api("load_model")(None)
        levels = sorted(set(int(v) for v in model.PRESETS.values())) if hasattr(model, "PRESETS") else [0]
        tables = [model.quant_tables(lv) for lv in levels]
        nb = int(getattr(model, "nb_levels", len(levels)))
        MlcodecError = api("MlcodecError")
        ctx = api("model_contexts")(model)
        ctx_of = ctx.level if ctx is not None else None

        def run(d):
            # header byte: bit 7 picks format 1 (split + read_payload) or 2/3 (carrier + v2 reader,
            # with or without a level already in force; bit 5: format 3's context tables); the low
            # bits pick tables/latent counts
            a = d[0] if d else 0
            if a & 0x80:
                t = tables[a % len(tables)]
                try:
                    ms, payload = split(d[1:])
                    read(payload, lpp(ms), t)
                except MlcodecError:  # not a packet: read the bytes as a bare payload as well
                    read(d[1:], 1 + a % 3, t)
                    raise
                return
            n, payload = carrier(d[1:])
            if payload is not None:
                read2(payload, n, model.quant_tables, level=(a % nb) if a & 0x40 else None, nb_levels=nb,
                      ctx_of=ctx_of if a & 0x20 else None)
        return Target(name, seeds_payload(api), run, hdr=1, max_len=2000)
    if name == "wav":
        stream = api("wav_stream")

        def run(d):
            for _ in stream(BytesIO(d[12:]), d[:12], "fuzz"):
                pass
        return Target(name, seeds_wav(), run, max_len=8000)
    raise KeyError(f"unknown parser target {name!r}")
