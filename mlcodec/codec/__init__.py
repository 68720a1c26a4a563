"""The neural speech codec: stream format, latent coder, encode/decode pipelines."""
