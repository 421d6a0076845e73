"""Tessera's Solidity contracts (`src/core`, `src/integrations`, `src/libraries`), their compiled
artifact (`artifacts/contracts.json`), the npm packages of the compiler and the local chain
(`package.json`, `package-lock.json`), and the Python toolchain that finds and compiles them
(`contracts.toolchain`, the one module other packages import)."""
