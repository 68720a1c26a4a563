"""Training recipe of the redundancy codebook (mlcodec/models/redundancy_v1.npz, docs/loss.md s5)."""
