"""`das`, Tessera's command line: argparse and printing over the library packages; nothing imports it."""

import time as _time

PROCESS_STARTED = _time.perf_counter()
"""`perf_counter()` when the CLI package was first imported: the start of a `das` process, for
the start-up time commands report."""
