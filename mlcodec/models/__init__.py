"""Shipped model blobs (package data): codec_v1.bin, the latent coder (docs/training.md);
codec_ctx_v1.bin, its format-3 context tables (docs/format.md s3.3, train/fit_contexts.py);
plc_v1.bin, the feature concealer (docs/loss.md); vocoder_v1.bin, the neural vocoder."""
