"""Tessera's I/O shell: libp2p host, protocols, gossip, the HTTP API and the `das` command line."""
