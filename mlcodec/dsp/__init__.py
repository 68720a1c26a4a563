"""Speech analysis and synthesis: audio input, LPCNet features, pitch, reference synthesizer."""
