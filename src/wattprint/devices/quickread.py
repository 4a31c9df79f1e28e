"""Small reads (procfs, sysfs, the node ledger) that keep the GIL: ``read_at(fd, size, offset)``.

CPython releases the GIL around every system call. When the tracked program is a busy Python thread, the
sampler then has to take the GIL back from it: a forced thread switch each time, up to the interpreter's
switch interval later, plus a context switch and cold caches for the program. Reading ``/proc/stat`` or a
state file takes microseconds, less than that hand-off, so these reads call libc's ``pread`` through
``ctypes.PyDLL`` (which, unlike ``CDLL``, does not release the GIL). Where that is unavailable (not an LP64
libc, no ``pread`` symbol) it is plain :func:`os.pread`; the result is the same bytes either way.

    >>> fd = os.open("/proc/stat", os.O_RDONLY)        # doctest: +SKIP
    >>> read_at(fd, 4096).split(b"\\n", 1)[0]          # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_read: Callable[[int, int, int], bytes] | None = None
MAX_BUFFERS = 64  # cached read buffers (thread x size); beyond it a read allocates its own


def read_at(fd: int, size: int, offset: int = 0) -> bytes:
    """Up to ``size`` bytes of ``fd`` from ``offset`` (as :func:`os.pread`, OSError on failure)."""
    return (_read or _load())(fd, size, offset)


def _load() -> Callable[[int, int, int], bytes]:
    global _read
    _read = _libc_pread() or os.pread
    return _read


def _libc_pread() -> Callable[[int, int, int], bytes] | None:
    """libc pread called with the GIL held, or None where that cannot be set up safely."""
    try:
        import ctypes

        if ctypes.sizeof(ctypes.c_long) != 8:  # off_t is a long only on LP64; elsewhere keep os.pread
            return None
        c_pread = ctypes.PyDLL(None, use_errno=True).pread
    except (ImportError, OSError, AttributeError):
        return None
    # No argtypes: the size and offset go as ready-made C values (kept with each buffer), the descriptor as
    # a plain int (a C int, the default); converting four arguments on every call cost ~15 us in a cold cache.
    c_pread.restype = ctypes.c_ssize_t
    c_size, c_off = ctypes.c_size_t, ctypes.c_long
    at_start = c_off(0)
    get_errno, get_ident = ctypes.get_errno, threading.get_ident
    # one buffer per (thread, size), reused: the sampler reads the same few files every interval, and several
    # threads (runs) may read at once; bounded so odd sizes cannot grow it. Each is (the C view the call fills,
    # a memoryview of the same bytes, so one copy of what was read comes out; the size as a C size_t).
    buffers: dict[tuple[int, int], tuple[Any, memoryview, Any]] = {}

    def read(fd: int, size: int, offset: int) -> bytes:
        key = (get_ident(), size)
        buf = buffers.get(key)
        if buf is None:
            data = bytearray(size)
            buf = ((ctypes.c_char * size).from_buffer(data), memoryview(data), c_size(size))
            if len(buffers) < MAX_BUFFERS:
                buffers[key] = buf
        n = c_pread(fd, buf[0], buf[2], at_start if offset == 0 else c_off(offset))
        if n < 0:
            err = get_errno()
            raise OSError(err, os.strerror(err))
        return buf[1][:n].tobytes()

    return read
