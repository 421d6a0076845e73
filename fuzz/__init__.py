"""Hypothesis fuzzing of Tessera's consensus and codecs (built in a later issue)."""
