"""Tessera's durable-storage plumbing, below every package that keeps state on disk.

It imports nothing else of Tessera's, so the sampling core (`sampling.store`), the validator daemon
(`validator.daemon.store`) and the embedded registry (`validator.registry.sqlite`) share it without
importing each other; `da/` stays free of I/O.
"""
