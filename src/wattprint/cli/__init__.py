"""wattprint: measure, predict and cut the carbon footprint of ML training and serving.

Each module in this package that defines ``register(subparsers)`` adds
one command group (estimate, data, run, runs, demo ...); user mistakes exit 2 with one line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import pkgutil
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

from ..errors import WattprintError
from ._args import Once


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, but the help column is placed with each sub-command's name measured at its own indent: argparse
    measures it at its group's, two columns short, so a 9-letter name ("inference" under `estimate`) went onto a
    line of its own, its help below it."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            for sub in self._iter_indented_subactions(action):  # indents while it yields
                self._action_max_length = max(self._action_max_length,
                                              len(self._format_action_invocation(sub)) + self._current_indent)


class _Parser(argparse.ArgumentParser):
    """One-line usage errors; an option given twice with different values is one (``_args.given_once``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", None, Once)
        self.register("action", "store", Once)
        self.given_values: dict[str, object] = {}
        self.set_defaults(_prog=self.prog)  # the command a leftover word is reported against (parse_args)
        # "-7e9", "-7B" or "-inf" is a (negative) value, which the option's own check refuses by name; argparse's
        # own pattern (Python < 3.13) knows only "-7" and "-.5" and would call the rest an unknown option
        self._negative_number_matcher = re.compile(r"^-(\.?\d|(inf|infinity|nan)$)", re.IGNORECASE)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.given_values = {}  # what this parse was given, option by option
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, but words left over are refused by the command that was given them ("wattprint data
        models: error: unrecognized arguments: foo"), not by the top level: each parser leaves its prog in the
        namespace, the innermost last."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = getattr(parsed, "_prog", self.prog)
            self.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extras)}\n")
        return parsed

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        """As argparse's, but --help or --version that cannot be written to stdout (a full disk) is an error, as for
        every command's output, not a silent exit 0 (argparse ignores it)."""
        if message:
            stream = file or sys.stderr
            stream.write(message)
            stream.flush()


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


class _Diagnostics:
    """``sys.stderr`` while a command runs: a note or error that cannot be written (stderr on a full disk, a closed
    pipe) is dropped, with all later ones; it never changes the exit code or stops the data going to stdout."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self.stream.write(text)
            except (OSError, ValueError):
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._lose()

    def _lose(self) -> None:
        """Drop what the stream still holds (its flush at exit would fail again, and exit 120): flushed into
        /dev/null, then the file descriptor is put back, so a command started later keeps the stderr it was given."""
        self.lost = True
        with contextlib.suppress(Exception):
            fd = self.stream.fileno()
            saved, null = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
                with contextlib.suppress(OSError, ValueError):
                    self.stream.flush()
            finally:
                os.dup2(saved, fd)
                os.close(saved)
                os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _stderr_even_if_closed() -> TextIO:
    """The stream for notes and errors. With fd 2 closed (`2>&-`) Python has no ``sys.stderr`` and
    ``print(file=sys.stderr)`` writes to stdout, into the --json data: /dev/null goes on fd 2 instead (so no file
    wattprint opens lands there either) and the notes are dropped. It is not inherited: the command of
    `wattprint run` gets fd 2 closed, as it was given."""
    try:
        os.fstat(2)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)  # not inheritable (PEP 446)
        if null != 2:  # fds 0 or 1 were closed too
            os.dup2(null, 2, inheritable=False)
            os.close(null)
    if sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    return sys.stderr


def _output_that_cannot_fail_on_a_character() -> None:
    """A terminal or pipe whose encoding lacks a character of the output (a Latin-1 locale has no en dash,
    PYTHONIOENCODING=ascii no accented run name) shows it as "?" rather than ending the command with a traceback."""
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and out.errors == "strict":
        with contextlib.suppress(Exception):
            out.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    stderr = _stderr_even_if_closed()
    diagnostics = _Diagnostics(stderr)
    sys.stderr = cast(TextIO, diagnostics)
    _output_that_cannot_fail_on_a_character()
    try:
        return _main(argv)
    finally:
        if sys.stderr is diagnostics:
            sys.stderr = stderr


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help, --version: their output can fail as a command's can
        handler = getattr(args, "handler", None)
        if handler is None:  # no command: the usage, as an error is said (stderr, exit 2), as `wattprint runs` does
            parser.print_help(sys.stderr)
            return 2
        return int(handler(args) or 0)
    except WattprintError as e:
        print(f"wattprint: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into e.g. `head` that exited: not an error; silence the flush at exit too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        import errno

        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            raise
        # the output's disk is full (`wattprint runs list > file`): one line, not a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        with contextlib.suppress(OSError):
            print(f"wattprint: error: cannot write the output: {e.strerror or e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
