"""Training recipes (PyTorch, optional extra). The latent coder: train.train / train.export (docs/training.md)."""
