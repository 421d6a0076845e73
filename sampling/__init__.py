"""Tessera's light client. The pure core decides availability from sampled cells: `confidence` (the
exact confidence of k distinct samples), `sampler` (which cells to draw and what the answers mean),
`backlog` (bounded lag under bursts), `store` (durable results). `client/` runs it over libp2p."""
