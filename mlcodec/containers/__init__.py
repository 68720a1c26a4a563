"""Containers: Ogg pages (RFC 3533), Ogg Opus (RFC 7845), opus_demo .bit, raw length-prefixed framing."""
