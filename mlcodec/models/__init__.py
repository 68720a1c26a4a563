"""Shipped model blobs (package data): codec_v1.bin, the latent coder (docs/training.md);
plc_v1.bin, the feature concealer (docs/loss.md)."""
