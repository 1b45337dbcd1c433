"""``arca``: one entry point; each part registers its own sub-commands.

Exit codes: 0 ok, 1 rejected input (the message names what is wrong), 2 usage error.
Sub-command modules expose ``register(subparsers)`` and set ``func(args) -> int`` on their parsers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from arca.settings import ArcaSettings

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

COMMAND_MODULES = (
    "arca.cli.core",
    "collector.cli",
    "analyzer.cli",
    "decider.cli",
    "enforcer.cli",
    "testbed.cli",
    "arca.cli.ops",
    "arca.demo.cli",
    "arca.cli.bench",
    "arca.cli.fuzz",
)
"""Modules whose ``register(subparsers)`` adds commands (missing ones are skipped)."""


class CliError(Exception):
    """Rejected input: printed to stderr, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arca", description="ARCA autonomic resource controller for SDN/NFV."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def settings() -> ArcaSettings:
    """The configured settings; a bad value or secret file is a one-line error (exit 1)."""
    try:
        return ArcaSettings()
    except ValueError as exc:  # pydantic's ValidationError and SecretFileError
        raise CliError(f"invalid settings: {' '.join(str(exc).split())}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"arca: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return 130


def read_file(path: str) -> bytes:
    """Read a user-named file or raise ``CliError`` naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc


if __name__ == "__main__":
    # Run the imported module, not ``__main__``: sub-commands raise ``arca.cli.main.CliError``.
    sys.exit(importlib.import_module("arca.cli.main").main())
