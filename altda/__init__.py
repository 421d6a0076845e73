"""Tessera for OP Stack rollups: the Alt-DA commitment, the derivation's check of it, and the DA
server that op-batcher and op-node talk to (`das altda serve`; specs/altda.md)."""
