"""Error codes and one-line reasons of the packet and extension parsers (one table).

The reference parsers (:mod:`.packet`, :mod:`.extensions`) raise with these codes and
messages (``exc.num``, ``exc.reason``); the numba bulk scanner (:mod:`mlcodec.inspect.kernels`)
stores the same codes per row. Codes 1..31: packet framing (RFC 6716 s3, rules R1-R7,
Appendix B; specs 01 s4.2); 32..47: extension area (specs 02 s3, s5, s9); 48..: multistream
and container-level packet problems. ``MS_FLAG`` is or-ed onto a framing code met while
splitting a multistream packet (RFC 7845 s3).
"""
from __future__ import annotations

OK = 0
P_EMPTY, P_CODE0_R2, P_CODE1_ODD, P_CODE2_NOLEN, P_CODE2_LEN2, P_CODE2_OVER = 1, 2, 3, 4, 5, 6
P_CODE3_NOCOUNT, P_CODE3_ZERO, P_CODE3_120MS, P_PAD_RUN, P_PAD_EXCEED = 7, 8, 9, 10, 11
P_VBR_MISSING, P_VBR_LEN2, P_VBR_OVER, P_VBR_OVERRUN, P_CBR_SPLIT = 12, 13, 14, 15, 16
P_SD_MISSING, P_SD_LEN2, P_SD_OVER, P_SD_CBR_OVER, P_SD_LAST_OVER, P_LAST_R2 = 17, 18, 19, 20, 21, 22
X_LONG_LEN, X_LONG_PAYLOAD, X_SHORT_MISSING, X_SEP_MISSING, X_SEP_RANGE = 32, 33, 34, 35, 36
X_RTE_SHORT, X_RTE_TRAILING, X_RTE_LEN, X_RTE_PAYLOAD, X_FRAMES = 37, 38, 39, 40, 41
MS_NO_BYTES, MS_DURATION, ZERO_BYTE = 48, 49, 50
MS_FLAG = 64

#: Reason template per code. ``{a}``..``{f}`` are integer parameters; ``{A}``..``{F}`` the same
#: written as byte counts ("1 byte", "N bytes"); ``{ms}`` is a frame or stream duration in ms.
REASONS: dict[int, str] = {
    P_EMPTY: "empty packet: no TOC byte (R1)",
    P_CODE0_R2: "code 0 frame of {A} exceeds 1275 (R2)",
    P_CODE1_ODD: "code 1 payload of {A} cannot split into two equal frames (R3)",
    P_CODE2_NOLEN: "code 2 packet has no first-frame length (R4)",
    P_CODE2_LEN2: "code 2 packet: first-frame length needs a second byte (R4)",
    P_CODE2_OVER: "code 2 first frame of {A} exceeds the {B} left (R4)",
    P_CODE3_NOCOUNT: "code 3 packet has no frame-count byte (R6)",
    P_CODE3_ZERO: "code 3 frame count is 0 (R5)",
    P_CODE3_120MS: "code 3 packet of {a} x {ms} ms frames exceeds 120 ms (R5)",
    P_PAD_RUN: "padding length runs past the end of the packet ({a} padding bytes so far)",
    P_PAD_EXCEED: "{a} padding bytes exceed the packet (R6/R7)",
    P_VBR_MISSING: "length of frame {a} is missing (R7)",
    P_VBR_LEN2: "length of frame {a} needs a second byte (R7)",
    P_VBR_OVER: "frame {a} of {B} exceeds the {C} left (R7)",
    P_VBR_OVERRUN: "VBR frames overrun the packet by {A} (R7)",
    P_CBR_SPLIT: "CBR code 3: payload of {A} does not split into {b} equal frames (R6)",
    P_SD_MISSING: "self-delimited length is missing",
    P_SD_LEN2: "self-delimited length needs a second byte",
    P_SD_OVER: "self-delimited frame length {a} exceeds the {B} left",
    P_SD_CBR_OVER: "{a} self-delimited frames of {B} exceed the {C} left",
    P_SD_LAST_OVER: "self-delimited last frame of {A} exceeds the {B} left",
    P_LAST_R2: "last frame of {A} exceeds 1275 (R2)",
    X_LONG_LEN: "extension ID {b} at offset {a}: length field runs past the end of the area",
    X_LONG_PAYLOAD: "extension ID {b} at offset {a}: payload of {C} runs past the end of the area "
                    "({d} left)",
    X_SHORT_MISSING: "extension ID {b} at offset {a}: missing its 1 payload byte",
    X_SEP_MISSING: "frame separator at offset {a}: missing its increment byte",
    X_SEP_RANGE: "frame separator at offset {a} moves to frame {b}, but the packet has {c} frame(s)",
    X_RTE_SHORT: "repeat at offset {a}: frame {b} copy of extension ID {c} is missing its payload byte",
    X_RTE_TRAILING: "repeat at offset {a}: no room for the {b} trailing short payload byte(s)",
    X_RTE_LEN: "repeat at offset {a}: frame {b} copy of extension ID {c}: length field runs past "
               "the end",
    X_RTE_PAYLOAD: "repeat at offset {a}: frame {b} copy of extension ID {c} at offset {d}: payload "
                   "of {E} runs past the end ({f} left)",
    X_FRAMES: "frame count {a} outside 1..48",
    MS_NO_BYTES: "stream {a} of {b}: no bytes left",
    MS_DURATION: "stream {a} lasts {ms} ms but stream 0 lasts {ms0} ms",
    ZERO_BYTE: "zero-byte packet",
}


def nbytes(n: int) -> str:
    """'1 byte' / 'N bytes'."""
    return f"{n} byte" if n == 1 else f"{n} bytes"


def reason(code: int, a: int = 0, b: int = 0, c: int = 0, d: int = 0, e: int = 0, f: int = 0,
           ms: float = 0.0, ms0: float = 0.0) -> str:
    """The one-line reason of ``code`` with its parameters filled in."""
    t = REASONS[code & ~MS_FLAG]
    if "{" not in t:
        return t
    return t.format(a=a, b=b, c=c, d=d, e=e, f=f, A=nbytes(a), B=nbytes(b), C=nbytes(c),
                    D=nbytes(d), E=nbytes(e), F=nbytes(f), ms=f"{ms:g}", ms0=f"{ms0:g}")


def kind(code: int) -> str:
    """Which layer a code belongs to: 'packet', 'extensions' or 'multistream packet'."""
    if code & MS_FLAG or code in (MS_NO_BYTES, MS_DURATION):
        return "multistream packet"
    if 32 <= code < 48:
        return "extensions"
    return "packet"
