"""wattprint: measure, predict and cut the carbon footprint of ML training and serving.

Each module in this package that defines ``register(subparsers)`` adds
one command group (estimate, data, run, runs, demo ...); user mistakes exit 2 with one line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import WattprintError
from ._args import Once


class _Parser(argparse.ArgumentParser):
    """One-line usage errors; an option given twice with different values is one (``_args.given_once``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, Once)
        self.register("action", "store", Once)
        self.given_values: dict[str, object] = {}

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.given_values = {}  # what this parse was given, option by option
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wattprint", description=(__doc__ or "").split("\n")[0])
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"wattprint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:  # no command: the usage, as an error is said (stderr, exit 2), as `wattprint runs` does
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except WattprintError as e:
        print(f"wattprint: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into e.g. `head` that exited: not an error; silence the flush at exit too
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        import errno
        import os

        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            raise
        # the output's disk is full (`wattprint runs list > file`): one line, not a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        with contextlib.suppress(OSError):
            print(f"wattprint: error: cannot write the output: {e.strerror or e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
