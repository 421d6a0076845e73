"""Protocol constants of the DA layer; `specs/das-core.md` is their normative home (checked by a test)."""

from typing import Final

# --- KZG / EIP-7594 cell layout ---------------------------------------------------------------
FIELD_ELEMENTS_PER_ROW: Final = 4096
BYTES_PER_FIELD_ELEMENT: Final = 32
FIELD_ELEMENTS_PER_CELL: Final = 64
CELLS_PER_ROW: Final = 128
BYTES_PER_CELL: Final = FIELD_ELEMENTS_PER_CELL * BYTES_PER_FIELD_ELEMENT
BYTES_PER_ROW: Final = FIELD_ELEMENTS_PER_ROW * BYTES_PER_FIELD_ELEMENT
BYTES_PER_COMMITMENT: Final = 48
BYTES_PER_PROOF: Final = 48
BYTES_PER_ROOT: Final = 32
CELLS_NEEDED_TO_RECOVER_ROW: Final = CELLS_PER_ROW // 2

# --- Packing --------------------------------------------------------------------------------
USABLE_BYTES_PER_FIELD_ELEMENT: Final = 31
USABLE_BYTES_PER_ROW: Final = FIELD_ELEMENTS_PER_ROW * USABLE_BYTES_PER_FIELD_ELEMENT
LENGTH_PREFIX_BYTES: Final = 8

# --- Blob header and data root ----------------------------------------------------------------
MAX_ROWS_PER_BLOB: Final = 512
DEFAULT_MAX_BLOB_BYTES: Final = 32 * 1024 * 1024
MAX_SUPPORTED_BLOB_BYTES: Final = MAX_ROWS_PER_BLOB * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES
BLOB_HEADER_FIELD_COUNT: Final = 3
# Merkle depth of a row commitment's root under the data root: container (2) + length mix-in (1)
# + list of MAX_ROWS_PER_BLOB (9).
COMMITMENT_BRANCH_DEPTH: Final = 12
