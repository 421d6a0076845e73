"""Tessera's light client: sampling cells to decide availability (built in a later issue)."""
