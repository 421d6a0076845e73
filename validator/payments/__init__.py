"""Paid dispersal: signed payment promises (EIP-712), the prices and escrows they are checked against,
and the port through which a node reads escrows and settles (specs/validator.md, "Payments")."""
