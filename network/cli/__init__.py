"""The `das` command line: one module per command group."""
