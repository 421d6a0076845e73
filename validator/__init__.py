"""Tessera's validator core: registry, VRF quorums, custody, attestations, certificates (later issue)."""
