"""Shipped model blobs (package data): codec_v2.bin, the latent coder, trained on pitch-network
features (docs/training.md), and codec_v1.bin, its predecessor on classic pitch, kept so its
streams still decode; codec_ctx_vN.bin, their format-3 context tables (docs/format.md s3.3,
train/fit_contexts.py); plc_v1.bin, the feature concealer (docs/loss.md); pitch_v1.bin, the
pitch network (docs/features.md); vocoder_v2.bin, the neural vocoder (docs/vocoder.md)."""
