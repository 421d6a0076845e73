"""Tessera's validator. The pure core: `core` (the protocol state machine), `quorums` and `vrf`,
`custody`, `aggregation` and `certificate`, `keys` and `keystore`, `presets`, `wire`. Around it: the
registry port and its backends (`registry/`), the daemon (`daemon/`), a local devnet (`devnet`)."""
