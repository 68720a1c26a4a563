"""Inspect layer: reports of Opus packets and their extensions (docs/inspect-extensions.md,
docs/architecture-inspect.md).

* :mod:`.report` - the records (:class:`PacketReport`, :class:`SummaryReport`, ...), one
  ``to_json`` each; :class:`Summary` accumulates counts.
* :mod:`.reference` - :func:`inspect_input`: one PacketReport per packet (the reference path).
* :mod:`.batch` - :func:`iter_json` / :func:`summarize`: the same output for long inputs,
  numpy-batched, streaming.
* :mod:`.decoders` - extension decoders by ID (names, descriptions; the DRED hook).
* :mod:`.table` (+ :mod:`.kernels`, :mod:`.walk_ogg`, :mod:`.walk_bit`, :mod:`.messages`) -
  the numba bulk scanner: a whole input as a columnar :class:`PacketTable`.

Names are imported on first use, so ``import mlcodec.inspect`` costs nothing and only the
scanner pulls in numba.
"""
from __future__ import annotations

from mlcodec._lazy import lazy_exports

_EXPORTS = {
    "SCHEMA_VERSION": "report", "PacketReport": "report", "ExtensionReport": "report",
    "TocReport": "report", "StreamReport": "report", "SummaryReport": "report",
    "IdCount": "report", "Summary": "report",
    "inspect_input": "reference", "inspect_path": "reference", "report_packet": "reference",
    "iter_json": "batch", "summarize": "batch",
    "ExtensionDecoder": "decoders", "register_decoder": "decoders",
    "PacketTable": "table", "scan": "table", "scan_packets": "table",
    "error_message": "messages", "error_kind": "messages", "summary": "messages",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
