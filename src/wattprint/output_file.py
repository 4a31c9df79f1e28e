"""Writing a file the user named (``wattprint runs export -o FILE``, a model card) as a Unix tool writes it.

* A symbolic link is written through to the file it names, never replaced by a file.
* A name that is not a regular file is written to in place, never replaced: a terminal, ``/dev/null``, a FIFO.
  Replacing one would put a plain file where a device or pipe was (as root, ``/dev/null`` for the whole system)
  and give whatever reads it nothing. ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` (bash's ``>(cmd)``) are the
  descriptors this process has open, written through a duplicate of it as the shell's ``> /dev/fd/N`` does:
  ``/dev/stdout`` is stdout itself.
* A FIFO is opened to write as any Unix tool opens it: the open waits for a reader (said on stderr first, so that
  the wait does not read as a hang). Nothing here opens a FIFO or a device to read it.
* A regular file is written whole or not at all: written beside it, then renamed over it, with its mode (and, where
  allowed, its owner) kept, so that a failed write leaves the old file as it was. A file with more than one hard
  link is rewritten in place instead, once the new text is whole beside it: a rename would part it from its other
  names.
* A folder, a block device (a disk: a slip such as ``-o /dev/sda`` must not overwrite one) and a socket are not
  written: :meth:`Output.refusal` says why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

# the names of a descriptor this process has open: /dev/stdout, /dev/fd/N (Linux: links into /proc/self/fd)
_DESCRIPTOR_NAME = re.compile(r"/dev/std(?P<std>in|out|err)|/dev/fd/(?P<fd>\d+)"
                              r"|/proc/(?P<pid>self|thread-self|\d+)/fd/(?P<proc_fd>\d+)")
_STD_FD = {"in": 0, "out": 1, "err": 2}
_MAX_LINKS = 40  # links followed to find a descriptor's name, as the kernel's own bound (ELOOP)


@dataclass(frozen=True)
class Output:
    """Where a named output goes (:func:`resolve_output`): ``name`` as given (for messages), ``path`` with its
    symbolic links resolved, ``descriptor`` the open descriptor of this process it names (``/dev/stdout``: 1;
    None for any other file) and ``status`` the file's (links followed; None where it does not exist yet)."""

    name: str
    path: str
    descriptor: int | None
    status: os.stat_result | None

    @property
    def is_regular(self) -> bool:
        """A regular file that exists: the only kind read, or replaced."""
        return self.status is not None and stat.S_ISREG(self.status.st_mode)

    def refusal(self) -> str | None:
        """Why the output cannot be written ("is a folder", ...), None where it can."""
        if self.descriptor is not None or self.status is None:
            return None
        mode = self.status.st_mode
        if stat.S_ISDIR(mode):
            return "is a folder"
        if stat.S_ISBLK(mode):
            return "is a block device (a disk or partition)"
        if stat.S_ISSOCK(mode):
            return "is a socket"
        return None


def resolve_output(name: str | os.PathLike[str]) -> Output:
    """The output ``name`` stands for. Raises OSError where its folder cannot be read (not a folder, no access)."""
    given = os.fspath(name)
    fd = _descriptor(given)
    if fd is not None:
        return Output(given, given, fd, None)
    path = os.path.realpath(given)
    try:
        status: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        status = None
    return Output(given, path, None, status)


def read_head(out: Output, size: int) -> bytes:
    """The first ``size`` bytes of a regular file (b"" for anything else, never opened: a FIFO's open would wait
    for a writer)."""
    if not out.is_regular:
        return b""
    # O_NONBLOCK: should the file be swapped for a FIFO since it was looked at, the open still returns at once
    fd = os.open(out.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as fh:
        return fh.read(size)


def write_output(out: Output, write: Callable[[TextIO], object], *, prefix: str = ".wattprint-",
                 suffix: str = "") -> None:
    """Call ``write`` with a UTF-8 text stream (no newline translation) that goes to ``out`` (see the module's
    docstring). A temporary file beside a regular one is named ``prefix`` ... ``suffix`` and is removed whatever
    happens. Raises OSError (and whatever ``write`` raises)."""
    if (why := out.refusal()) is not None:
        raise OSError(errno.EISDIR if why == "is a folder" else errno.EINVAL, why, out.name)
    if out.descriptor is not None:
        _write_descriptor(out.descriptor, write)
    elif out.status is None or out.is_regular:
        _write_whole(out, write, prefix, suffix)
    else:
        _write_in_place(out, write)


def _descriptor(name: str) -> int | None:
    """The descriptor ``name`` names (``/dev/stdout``, ``/dev/fd/3``, a link to one), None for any other name."""
    path = os.path.abspath(name)
    for _ in range(_MAX_LINKS):
        if (m := _DESCRIPTOR_NAME.fullmatch(path)) is not None:
            if m["std"]:
                return _STD_FD[m["std"]]
            if m["fd"]:
                return int(m["fd"])
            if m["pid"] in ("self", "thread-self", str(os.getpid())):
                return int(m["proc_fd"])
            return None  # another process's: a file like any other
        try:
            link = os.readlink(path)
        except OSError:  # not a link, or not there
            return None
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    return None


def _write_descriptor(fd: int, write: Callable[[TextIO], object]) -> None:
    if fd == 1:  # stdout itself, after what was printed to it before: as "-o -"
        write(sys.stdout)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    with open(os.dup(fd), "w", encoding="utf-8", newline="") as fh:  # the shell's redirection as it is (append...)
        write(fh)


def _write_in_place(out: Output, write: Callable[[TextIO], object]) -> None:
    """A device or FIFO: opened to write (not created, not truncated) and written."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    assert out.status is not None
    if stat.S_ISFIFO(out.status.st_mode):
        try:
            fd = os.open(out.path, flags | os.O_NONBLOCK)  # fails at once (ENXIO) where no process reads it
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            print(f"wattprint: waiting for a process to read the FIFO {out.name}", file=sys.stderr, flush=True)
            fd = os.open(out.path, flags)
        else:
            os.set_blocking(fd, True)  # writes wait for the reader, as a pipe's do
    else:
        fd = os.open(out.path, flags)
    with open(fd, "w", encoding="utf-8", newline="") as fh:
        write(fh)


def _write_whole(out: Output, write: Callable[[TextIO], object], prefix: str, suffix: str) -> None:
    """A regular file, or a new one: written beside it, then renamed over it (rewritten in place where it has other
    hard links); the old file stays as it was until the new text is whole."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=os.path.dirname(out.path))
    try:
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
            fh.flush()
            _take_mode(fh.fileno(), out.status)
        if out.status is not None and out.status.st_nlink > 1:
            with open(tmp, "rb") as src, open(out.path, "wb") as dst:  # same inode: its names and mode kept
                shutil.copyfileobj(src, dst)
        else:
            os.replace(tmp, out.path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _take_mode(fd: int, old: os.stat_result | None) -> None:
    """The replaced file's mode and, where allowed (root; a group of the user's), its owner; a new file's mode as
    open() would give it (0o666 less the umask: mkstemp's is 0o600)."""
    if old is None:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    for uid in (old.st_uid, -1):  # the user as well where allowed, else the group alone
        with contextlib.suppress(OSError):
            os.fchown(fd, uid, old.st_gid)
            break
    os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears set-user-ID bits


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
