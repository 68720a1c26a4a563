"""Neural vocoder (FARGAN-lite, specs 08 s1): features -> 16 kHz speech on the fixed-point core."""
from mlcodec.vocoder.fargan import NeuralVocoder, SYNTH_DELAY, load_vocoder, synthesize

__all__ = ["NeuralVocoder", "SYNTH_DELAY", "load_vocoder", "synthesize"]
