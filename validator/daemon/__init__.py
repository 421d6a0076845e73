"""The validator daemon: one process joining the libp2p service, the validator core, a durable store,
the HTTP API, an encoder pool and metrics (`das validator run --config FILE`)."""
