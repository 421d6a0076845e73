"""c-kzg-4844's official KZG vectors: `kzg/<function>/kzg-mainnet/<case>/data.yaml`.

They are read from an unpacked tree when one is given (`$TESSERA_VECTORS`, else `../shared/vectors/`
beside the repo), else from the archive committed under `tests/vectors/` (its provenance, licence and
sha256 beside it), unpacked once per test session. Cases are named by their path inside the tree, so a
test can be parametrized at collection, before anything is unpacked.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = REPO_ROOT / "tests" / "vectors" / "c-kzg-4844-v2.1.8.tar.xz"
PROVENANCE = ARCHIVE.parent / "PROVENANCE.txt"
VECTORS_ENV = "TESSERA_VECTORS"
MISSING = (
    f"official vectors not found: no ${VECTORS_ENV} or ../shared/vectors folder, and no "
    f"{ARCHIVE.relative_to(REPO_ROOT)}"
)


@dataclass(frozen=True, slots=True)
class VectorSource:
    """Where the vectors are: a folder holding `kzg/`, or an archive of that `kzg/` tree."""

    path: Path
    packed: bool

    def cases(self, function: str) -> list[str]:
        """The paths, inside the tree, of `function`'s cases (sorted; empty when none matches)."""
        pattern = f"kzg/{function}/kzg-mainnet/*/data.yaml"
        if self.packed:
            depth = len(PurePosixPath(pattern).parts)  # `match` anchors at the right end only
            return sorted(
                name
                for name in _archive_names(self.path)
                if len(PurePosixPath(name).parts) == depth and PurePosixPath(name).match(pattern)
            )
        return sorted(path.relative_to(self.path).as_posix() for path in self.path.glob(pattern))

    def unpack(self, into: Path) -> Path:
        """The folder holding `kzg/`: this one, or the archive unpacked into `into`."""
        if not self.packed:
            return self.path
        with tarfile.open(self.path, "r:xz") as archive:
            archive.extractall(into, filter="data")
        return into


def find_vector_source() -> VectorSource | None:
    """`$TESSERA_VECTORS` if set, else `../shared/vectors`, when that is a folder; else the archive."""
    configured = os.environ.get(VECTORS_ENV)
    folder = Path(configured) if configured else REPO_ROOT.parent / "shared" / "vectors"
    if folder.is_dir():
        return VectorSource(folder, packed=False)
    if ARCHIVE.is_file():
        return VectorSource(ARCHIVE, packed=True)
    return None


@cache
def _archive_names(archive: Path) -> tuple[str, ...]:
    with tarfile.open(archive, "r:xz") as opened:
        return tuple(member.name for member in opened.getmembers() if member.isfile())


def compute_archive_sha256() -> str:
    """The archive's sha256, hex."""
    return hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()


def get_recorded_sha256() -> str:
    """The sha256 that PROVENANCE.txt records for the archive (its `sha256 <hex>  <name>` line)."""
    line = rf"^sha256 ([0-9a-f]{{64}})  {re.escape(ARCHIVE.name)}$"
    recorded = re.findall(line, PROVENANCE.read_text(), re.MULTILINE)
    if len(recorded) != 1:
        raise ValueError(f"{PROVENANCE} has {len(recorded)} sha256 lines for {ARCHIVE.name}, not one")
    return recorded[0]
