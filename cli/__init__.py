"""`das`, Tessera's command line: argparse and printing over the library packages; nothing imports it."""
