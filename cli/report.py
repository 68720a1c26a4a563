"""What the codec commands print: one summary line per file, a batch total, the speed."""
from __future__ import annotations

from .common import STDOUT_NAME, display_name

#: Shortest run whose coding speed is printed: a run's fixed start-up (model and kernel
#: loading) dominates shorter ones, so "N x real time" would say nothing about the codec.
MIN_TIMED_SECONDS = 1.0


def speed(st, compiled: bool = False) -> str:
    """``", 42x real time"`` with two significant digits, or "" when the run is too short to
    time, reads stdin (its pace is then the producer's) or compiled the kernels first."""
    if compiled or st.seconds < MIN_TIMED_SECONDS or st.input == "-":
        return ""
    s = st.duration / st.seconds
    text = f"{s:.0f}" if s >= 10 else f"{s:.2g}"
    return f", {text}x real time"


def summary(kind: str, st, compiled: bool = False) -> str:
    """The line printed after one encode or decode."""
    src, dst = display_name(st.input), display_name(st.output, STDOUT_NAME)
    if kind == "encode":
        return (f"{src} -> {dst}: {st.duration:.2f} s, target {st.bitrate}, "
                f"{st.frame_ms} ms packets: whole file {st.file_kbps:.2f} kb/s ({st.file_bytes} bytes), "
                f"payload {st.payload_kbps:.2f} kb/s"
                + (f", redundancy {st.redundancy_ms} ms {st.redundancy_kbps:.2f} kb/s"
                   if getattr(st, "redundancy_ms", 0) else "") + speed(st, compiled))
    return (f"{src} -> {dst}: {st.duration:.2f} s decoded; stream target {st.bitrate or '?'}: "
            f"whole file {st.file_kbps:.2f} kb/s, payload {st.payload_kbps:.2f} kb/s{loss(st)}{speed(st, compiled)}")


def loss(st) -> str:
    """``"; simulated loss: 12 of 400 packets (3.0 %), 240 ms concealed"`` (decode), or ""
    when nothing was lost or concealed."""
    lost, ms = getattr(st, "lost_packets", 0), getattr(st, "concealed_ms", 0.0)
    if not lost and not ms:
        return ""
    more = getattr(st, "unlevelled_packets", 0)
    total = st.packets + lost + more
    rate = f" ({100 * lost / total:.1f} %)" if total else ""
    extra = f" (and {more} that lost their level with it)" if more else ""
    rb = getattr(st, "rebuilt_ms", 0.0)
    rebuilt = f" ({rb:.0f} ms of it rebuilt from redundancy)" if rb else ""
    return f"; simulated loss: {lost} of {total} packets{rate}{extra}, {ms:.0f} ms concealed{rebuilt}"


def total(stats) -> str | None:
    """The batch total line (None for fewer than two files)."""
    if len(stats) < 2:
        return None
    dur = sum(s.duration for s in stats)
    pay = sum(s.payload_bytes for s in stats) * 8 / dur / 1000 if dur else 0
    whole = sum(s.file_bytes for s in stats) * 8 / dur / 1000 if dur else 0
    return f"total: {len(stats)} files, {dur:.2f} s: whole file {whole:.2f} kb/s, payload {pay:.2f} kb/s"


#: ``--report FILE.jsonl`` fields, in order (docs/batch.md; stable: fields are only ever added).
REPORT_FIELDS = ("input", "output", "status", "duration", "seconds", "payload_kbps", "file_kbps", "file_bytes",
                 "error", "lost_packets", "concealed_ms")


def report_record(src: str, dst: str, status: str, st=None, error: str | None = None) -> dict:
    """One ``--report`` line: ``status`` is ok, skipped or error; numbers from the run's stats
    (or, for a skipped file, from the existing output) and null when unknown."""
    def num(v, nd=3):
        return None if v is None else round(float(v), nd)

    return {"input": src, "output": dst, "status": status,
            "duration": num(getattr(st, "duration", None)),
            "seconds": num(getattr(st, "seconds", None)),
            "payload_kbps": num(getattr(st, "payload_kbps", None)),
            "file_kbps": num(getattr(st, "file_kbps", None)),
            "file_bytes": getattr(st, "file_bytes", None),
            "error": error,
            "lost_packets": getattr(st, "lost_packets", None),
            "concealed_ms": num(getattr(st, "concealed_ms", None), 1)}


class JsonlReport:
    """``--report FILE.jsonl``: one JSON object per input, written (and flushed) as each input
    finishes, so a killed batch leaves the lines of what it finished. ``-`` is stdout."""

    def __init__(self, path: str | None):
        import sys

        self.f = None
        if path == "-":
            self.f, self._close = sys.stdout, False
        elif path:
            self.f, self._close = open(path, "w", encoding="utf-8"), True

    def write(self, record: dict) -> None:
        import json

        if self.f is not None:
            self.f.write(json.dumps(record) + "\n")
            self.f.flush()

    def close(self) -> None:
        if self.f is not None and self._close:
            self.f.close()
        self.f = None
