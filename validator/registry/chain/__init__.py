"""The chain registry: Tessera's registry contract on an EVM chain, read and written over JSON-RPC
(web3.py), with the local chain (anvil) it is tested with. The contracts, their compiled artifact and
the tools that build them (solc, anvil) are in `contracts/`, reached through `contracts.toolchain`."""
