"""Bitstream layer: Opus packet framing (RFC 6716 s3), extensions (draft-ietf-mlcodec-opus-extension), range coder (RFC 6716 s4.1/s5.1)."""
