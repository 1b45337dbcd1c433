"""``arca``: one entry point; each part registers its own sub-commands.

Exit codes: 0 ok, 1 rejected input (the message names what is wrong), 2 usage error, 141 the reader
of the output closed the pipe (``arca ... | head``: no traceback).
Sub-command modules expose ``register(subparsers)`` and set ``func(args) -> int`` on their parsers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arca.app.settings import ArcaSettings

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
EXIT_CLOSED_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader closed the pipe."""

COMMAND_MODULES = (
    "arca.app.cli.core",
    "arca.collector.cli",
    "arca.analyzer.cli",
    "arca.decider.cli",
    "arca.enforcer.cli",
    "arca.testbed.cli",
    "arca.app.cli.ops",
    "arca.app.demo.cli",
    "arca.app.cli.bench",
    "arca.app.cli.fuzz",
    "arca.app.cli.standalone",
)
"""Modules whose ``register(subparsers)`` adds commands (missing ones are skipped)."""


class CliError(Exception):
    """Rejected input: printed to stderr, exit code 1."""


def version() -> str:
    """The installed distribution's version (``arca --version``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("arca")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def add_output_options(p: argparse.ArgumentParser, what: str) -> None:
    """The same two options on every command that reports a JSON document: ``--json`` prints it on
    stdout, ``-o FILE`` writes it to FILE. ``--json FILE`` (the former spelling) still writes FILE,
    with a deprecation line, for one release."""
    p.add_argument("--json", nargs="?", const=True, default=None, metavar="FILE",
                   help=f"Print {what} as JSON on stdout. (--json FILE: deprecated, use -o FILE.)")
    p.add_argument("-o", "--output", metavar="FILE", help=f"Write {what} as JSON to FILE.")


def output_options(args: argparse.Namespace, command: str) -> tuple[bool, str | None]:
    """(print the JSON document on stdout, the file to write it to) from ``add_output_options``."""
    if isinstance(args.json, str):
        print(f"arca {command}: --json FILE is deprecated and will be removed; use -o {args.json}",
              file=sys.stderr)
        if args.output and args.output != args.json:
            raise CliError(f"--json {args.json} and -o {args.output}: two files; give -o only")
        return False, args.json
    return bool(args.json), args.output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arca", description="ARCA autonomic resource controller for SDN/NFV."
    )
    parser.add_argument("--version", action="version", version=f"arca {version()}")
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


EARLY_NOTES = {"demo": "arca demo: starting — loading the loop, the testbed and the timelines …"}
"""Said at once on a terminal by long commands, before the sub-command modules are imported (that
takes a second or more: flask, yangson, openstacksdk, scikit-learn, matplotlib)."""


def settings() -> ArcaSettings:
    """The settings (``ARCA_*`` variables, ``ARCA_CONFIG_FILE``); a bad file or value is a ``CliError``."""
    import os
    import tomllib

    from pydantic import ValidationError

    from arca.app.settings import ArcaSettings

    path = os.environ.get("ARCA_CONFIG_FILE")
    if path and not Path(path).is_file():
        raise CliError(f"ARCA_CONFIG_FILE {path}: not a file")
    try:
        return ArcaSettings()
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"ARCA_CONFIG_FILE {path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise CliError(f"ARCA_CONFIG_FILE {path}: cannot read: {exc.strerror}") from None
    except ValidationError as exc:
        where = f"ARCA_CONFIG_FILE {path} or the ARCA_* variables" if path else "the ARCA_* variables"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CliError(f"invalid settings in {where}: {problems}") from None
    except ValueError as exc:  # a secret file (``ARCA_<G>__<F>_FILE``) missing or unreadable
        raise CliError(f"invalid settings: {' '.join(str(exc).split())}") from None


def _early_note(argv: Sequence[str]) -> None:
    note = EARLY_NOTES.get(argv[0]) if argv else None
    quiet = any(a in ("-q", "--quiet", "-h", "--help") for a in argv)
    if note and not quiet and sys.stderr.isatty():
        print(note, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # inside the try: a reader gone before the last buffer is a closed pipe too
    except BrokenPipeError:
        return closed_pipe()
    return code


def _run(argv: Sequence[str] | None) -> int:
    _early_note(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"arca: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return 130


def closed_pipe() -> int:
    """The reader of our output went away (``arca policy history --show 1 | head``): stop quietly.

    The Python documentation's recipe (library/signal, "Note on SIGPIPE"): point stdout at devnull so
    the interpreter's final flush cannot raise again, and exit as a shell reports a process killed by
    SIGPIPE (128 + 13), with no traceback.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_CLOSED_PIPE


def read_file(path: str) -> bytes:
    """Read a user-named file or raise ``CliError`` naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc


if __name__ == "__main__":
    # Run the imported module, not ``__main__``: sub-commands raise ``arca.app.cli.main.CliError``.
    sys.exit(importlib.import_module("arca.app.cli.main").main())
