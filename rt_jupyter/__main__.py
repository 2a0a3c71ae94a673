"""Command line: ``rt-jupyter serve`` runs the local realtime service."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rt-jupyter`` command."""
    parser = argparse.ArgumentParser(prog="rt-jupyter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "version":
        from rt_jupyter import __version__

        print(__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
