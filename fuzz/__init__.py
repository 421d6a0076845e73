"""Hypothesis fuzzing of Tessera's consensus (the real cores on a hostile simulated network) and codecs."""
