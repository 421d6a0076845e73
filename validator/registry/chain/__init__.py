"""The chain registry: Tessera's registry contract on an EVM chain, read and written over JSON-RPC
(web3.py), with the local chain (anvil) and compiler (solc) it is built and tested with."""
