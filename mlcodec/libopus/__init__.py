"""libopus's neural models on our core: weights import (:mod:`.sources`), the user model
cache (:mod:`.store`) and the models themselves (one module each). Nothing is imported
eagerly: ``import mlcodec.libopus.store`` costs only what it needs."""
