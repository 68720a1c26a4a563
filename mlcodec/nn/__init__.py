"""Fixed-point inference core: libopus weights blobs, layers bound by name, numba kernels."""
