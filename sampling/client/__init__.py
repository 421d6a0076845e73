"""The light client's I/O shell: trio drivers around the pure sampling core (`sampling/`).

- `assignment`: what a certificate (or an epoch and quorum) says about a blob, checked against the registry;
- `directory`: who holds each column of a blob (the public custody function) and how to reach them;
- `headers`: getting a header (HTTP node, libp2p peers) and checking it against the data root;
- `rounds`: sampling rounds: parallel batched requests, one KZG batch check per round, retries;
- `request`: what `check` is told (libp2p-free); `check`: `das light check` end to end;
- `follow`: `das light follow` (gossip, backlog, store);
- `status_http`: the small JSON status API of `follow`, served by hypercorn on trio;
- `defaults`: the client defaults (specs/sampling.md);
- `commands`: the two commands as plain functions, for `cli.light`.

A light client is a plain trio program: one `NetworkService` host, no aiohttp, no portal thread.
"""
