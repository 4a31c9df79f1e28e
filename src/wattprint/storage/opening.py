"""Opening a store file: what is at the path before anything touches it (missing, empty, ours, or another file,
left untouched), the SQLite connection that creates, checks, migrates and switches a store to WAL (or reads it
without ever writing), and what an SQLite error says about a store file (damaged, locked, read-only, on a full or
failing disk).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

from . import schema
from .records import StoreError, StoreLockedError

CACHE_KIB = 256  # SQLite page cache per connection, KiB
# the -wal file is cut back to this size once a checkpoint has merged it (SQLite's default keeps its largest size):
# a reader holding a long transaction makes it grow while the runs write on, and that size stayed on disk until the
# last writer closed; 4 MiB is about what SQLite's automatic checkpoint (1,000 pages) lets it reach otherwise
WAL_KEEP_BYTES = 4 * 1024 * 1024


def is_locked(e: BaseException) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


def is_readonly(e: BaseException) -> bool:
    """SQLite may not write the file, or create its -wal/-shm files beside it (the file or folder is read-only)."""
    text = str(e).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def is_damaged(e: BaseException) -> bool:
    text = str(e).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def is_disk_error(e: BaseException) -> bool:
    """The device failed SQLite, not the file: an I/O error or a full disk (the store itself may be sound)."""
    text = str(e).lower()
    return "disk i/o error" in text or "disk is full" in text


def is_no_space(path: str, e: BaseException) -> bool:
    """Whether ``e`` is SQLite failing for want of space on the device holding ``path``. A full device reads as
    "database or disk is full", or as "disk I/O error" where the -shm file beside the store could not grow
    (SQLITE_IOERR_SHMSIZE, the usual case when a store is opened on a full disk)."""
    if not is_disk_error(e):
        return False
    if "disk is full" in str(e).lower() or getattr(e, "sqlite_errorname", "") == "SQLITE_IOERR_SHMSIZE":
        return True
    try:  # Python 3.10 has no error names: ask the device
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except OSError:
        return False


def store_problem(path: str, e: BaseException) -> StoreError | None:
    """A one-line StoreError for an SQLite error that says what is wrong with a file known to be ours (damaged,
    locked, on a full or failing device, read-only), or None for any other error."""
    if is_damaged(e):
        return StoreError(f"the store {path} is damaged ({e}); it was left untouched (restore it from a copy, or "
                          "point --db at another file)")
    if is_locked(e):
        return StoreLockedError(f"the store {path} is locked by another process ({e}); try again when it is free")
    if is_no_space(path, e):
        return StoreError(f"no space left on the device holding {path} ({e}); the store was left untouched: free "
                          "some space there and try again")
    if is_disk_error(e):
        detail = getattr(e, "sqlite_errorname", "")  # Python 3.11+
        return StoreError(f"could not read {path}: disk I/O error{f' ({detail})' if detail else ''}; the device "
                          "holding it failed, and the store was left untouched")
    if is_readonly(e):
        return StoreError(f"the store {path} cannot be written ({e}): this user may not write the file or its folder "
                          "(SQLite keeps its -wal and -shm files beside it); `wattprint runs` can still read it")
    return None


def file_state(path: str, reread_delay_s: float) -> str:
    """'missing', 'empty' (0 bytes), or 'ours'; raises StoreError for anything else. Never writes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        raise StoreError(f"cannot read the store {path}: {e.strerror or e}") from e
    if not os.path.isfile(path):
        raise StoreError(f"{path} is not a file, so it cannot be a wattprint store")
    if st.st_size == 0:
        return "empty"
    try:
        return _classify_header(path)
    except StoreError:
        # another wattprint process may be writing the very first page right now: look once more
        time.sleep(reread_delay_s)
        return _classify_header(path)


def _classify_header(path: str) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(schema.HEADER_SIZE)
    except OSError as e:
        raise StoreError(f"cannot read the store {path}: {e.strerror or e}") from e
    if len(head) == 0:
        return "empty"
    if len(head) < schema.HEADER_SIZE or not head.startswith(schema.SQLITE_MAGIC):
        raise StoreError(f"{path} is not a wattprint store (not an SQLite database); it was left untouched")
    off = schema.APPLICATION_ID_OFFSET
    app_id = int.from_bytes(head[off:off + 4], "big")
    if app_id == schema.APPLICATION_ID:
        return "ours"
    if app_id != 0:
        raise StoreError(
            f"{path} is another application's SQLite database (application_id {app_id:#x}), "
            "not a wattprint store; it was left untouched"
        )
    # An SQLite file without our mark in its header (our stores get it in their first commit): list its
    # tables to say what it is. immutable=1 reads the main file only, with no locks and no -wal/-shm files.
    try:
        ro = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro&immutable=1", uri=True)
        try:
            tables = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            ro.close()
    except sqlite3.Error as e:
        raise StoreError(f"{path} is not a readable wattprint store ({e}); it was left untouched") from e
    if schema.META_TABLE in tables:
        return "ours"  # marked by its table though not by its header (e.g. application_id reset by a tool)
    what = "tables " + ", ".join(sorted(tables)[:5]) if tables else "no tables"
    raise StoreError(f"{path} is an SQLite database without wattprint's marks ({what}), not a wattprint store; "
                     "it was left untouched")


def _uri_path(path: str) -> str:
    """Escape the characters that would end the path part of an SQLite ``file:`` URI (no urllib: import cost)."""
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (trigger bodies hold semicolons of their own)."""
    out: list[str] = []
    buf = ""
    for part in sql.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


def connect(path: str, *, timeout_s: float, busy_ms: int, initialise: bool,
            notes: list[str] | None = None) -> sqlite3.Connection:
    """A read-write connection to the store file ``path``, schema created first where ``initialise``. What opening
    it did beyond that (marks a copy of the store had lost, restored) is said in ``notes``."""
    try:
        conn = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        folder = os.path.dirname(os.path.abspath(path))
        why = (f": this user may not create files in {folder}" if not os.path.exists(path) and os.path.isdir(folder)
               and not os.access(folder, os.W_OK | os.X_OK) else "")
        raise StoreError(f"cannot open the store {path}: {e}{why}") from e
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        if initialise:
            _initialise(conn, path)
        version = _verify(conn, path)
        # only now that the file is known to be ours may anything be written to it
        _enable_wal(conn, path, timeout_s)
        restored = _migrate(conn, path, version)
        if restored and notes is not None:
            notes.append(restored)
        conn.execute("PRAGMA synchronous = NORMAL")
        # writes are appends: a small page cache keeps a long run's memory flat (SQLite's default is 2 MiB)
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as e:
        conn.close()
        problem = store_problem(path, e)
        raise problem or StoreError(f"{path} is not a usable wattprint store ({e})") from e
    return conn


def connect_readonly(path: str, *, timeout_s: float) -> sqlite3.Connection:
    """A connection that never writes the store or its folder. A WAL store needs its -shm file, which SQLite cannot
    create in a folder it may not write (or on a full device): then the file is read alone, as immutable, or,
    where its -wal holds writes not yet merged into it (immutable would ignore them and show runs missing), a
    private copy of both is read. A store another process holds locked is an error (StoreLockedError), never read
    without its WAL: that would show stale runs; a damaged file is an error too."""
    try:
        conn = _connect_checked(f"file:{_uri_path(path)}?mode=ro", timeout_s)
    except sqlite3.Error as e:
        if is_locked(e) or not (is_readonly(e) or is_no_space(path, e)):
            raise _read_problem(path, e) from e
        conn = _connect_without_shm(path, timeout_s)
    try:
        if _verify(conn, path) < schema.SCHEMA_VERSION:
            raise StoreError(f"{path} was written by an older wattprint; open it once where it can be "
                             "written (any `wattprint run --db` on it) to upgrade it")
    except sqlite3.Error as e:
        conn.close()
        raise _read_problem(path, e) from e
    except BaseException:
        conn.close()
        raise
    return conn


def _read_problem(path: str, e: sqlite3.Error) -> StoreError:
    """What stops a read (not store_problem's "cannot be written" for a folder a reader may not write)."""
    if is_damaged(e) or is_locked(e) or is_disk_error(e):
        return store_problem(path, e) or StoreError(f"cannot read the store {path}: {e}")
    return StoreError(f"cannot read the store {path}: {e}")


def _connect_checked(uri: str, timeout_s: float, factory: type[sqlite3.Connection] = sqlite3.Connection,
                     ) -> sqlite3.Connection:
    """A read connection to ``uri`` that has read the schema (SQLite opens files lazily: errors show only then)."""
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False,
                           factory=factory)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_without_shm(path: str, timeout_s: float) -> sqlite3.Connection:
    """Read a store whose -shm file cannot be made: the file alone, or a copy of it and its -wal (see above)."""
    wal = f"{path}-wal"
    try:
        pending = os.path.getsize(wal) > 0
    except OSError:  # no -wal: all is in the file
        pending = False
    try:
        if not pending:  # immutable=1 reads the main file only, with no locks and no -wal/-shm files
            return _connect_checked(f"file:{_uri_path(path)}?mode=ro&immutable=1", timeout_s)
        return _connect_copy(path, wal, timeout_s)
    except sqlite3.Error as e:
        raise _read_problem(path, e) from e


class _CopyConnection(sqlite3.Connection):
    """A connection to a private copy of a store, whose folder is removed when it is closed."""

    copy_dir = ""
    copy_pid = 0

    def close(self) -> None:
        super().close()
        if self.copy_dir and self.copy_pid == os.getpid():  # a forked child does not remove its parent's copy
            import shutil

            shutil.rmtree(self.copy_dir, ignore_errors=True)
        self.copy_dir = ""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, what close() needs may be gone already
            self.close()


def _connect_copy(path: str, wal: str, timeout_s: float) -> sqlite3.Connection:
    """Read the store and its -wal from a private temporary copy (there SQLite can build the -shm index)."""
    import shutil
    import tempfile

    folder = ""
    try:
        folder = tempfile.mkdtemp(prefix="wattprint-read-")
        copy = os.path.join(folder, "store.db")
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, f"{copy}-wal")
        conn = _connect_checked(f"file:{_uri_path(copy)}?mode=ro", timeout_s, _CopyConnection)
    except OSError as e:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(f"the store {path} holds writes in {wal} that cannot be read where it is (its folder is "
                         f"read-only or full), and copying it to a temporary folder failed ({e.strerror or e}); copy "
                         "the store with its -wal file to a writable folder and read it there") from e
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    assert isinstance(conn, _CopyConnection)
    conn.copy_dir, conn.copy_pid = folder, os.getpid()
    return conn


def _header_marks(conn: sqlite3.Connection) -> tuple[int, int]:
    """(application_id, user_version) as the file's header holds them."""
    return (int(conn.execute("PRAGMA application_id").fetchone()[0]),
            int(conn.execute("PRAGMA user_version").fetchone()[0]))


def _migrate(conn: sqlite3.Connection, path: str, version: int) -> str | None:
    """Bring a store of schema ``version`` (see _verify) written by an older wattprint to the current schema, in one
    transaction, which also restores the header marks a copy of the store lost (see .lost_marks). Returns a note
    that says which marks were restored, or None."""
    if _header_marks(conn) == (schema.APPLICATION_ID, schema.SCHEMA_VERSION):
        return None
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, header = _header_marks(conn)  # another process may have done it
        if header != 0:  # 0: lost, and _verify read the version from the tables
            version = header
        if not schema.upgradable(version):  # never a version with no way to the current schema
            raise StoreError(f"{path} claims store schema {version}, which this wattprint cannot upgrade; it was "
                             "left untouched")
        for v in range(version, schema.SCHEMA_VERSION):
            for sql in schema.MIGRATIONS[v]:
                for stmt in _statements(sql):
                    conn.execute(stmt)
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
        conn.execute(f"UPDATE {schema.META_TABLE} SET value = ? WHERE key = 'schema_version'",
                     (str(schema.SCHEMA_VERSION),))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    upgraded = f", and it was upgraded to schema {schema.SCHEMA_VERSION}" if version < schema.SCHEMA_VERSION else ""
    if header == 0:
        return (f"the store {path} had lost wattprint's marks from its SQLite header (user_version and "
                "application_id read 0, as after `sqlite3 .dump` into a new file); its wattprint_meta table and "
                f"tables show a store of schema {version}, and the marks were restored{upgraded}")
    if app_id != schema.APPLICATION_ID:
        return f"the store {path} had lost wattprint's application_id from its SQLite header; it was restored{upgraded}"
    return None


def _enable_wal(conn: sqlite3.Connection, path: str, timeout_s: float) -> None:
    """Switch to WAL. The switch needs an exclusive lock and SQLite does not always wait for it (several
    ranks opening a brand-new store at once), so retry while another process holds the file."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            if time.monotonic() > deadline:
                raise StoreError(f"the store {path} stayed locked by another process for "
                                 f"{timeout_s:g} s ({e})") from e
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _initialise(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema in one transaction (rollback journal, so the file's first state carries our marks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if schema.META_TABLE not in tables:
            if tables:
                raise StoreError(f"{path} is an SQLite database of another program, not a wattprint store; "
                                 "it was left untouched")
            from .. import __version__

            conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
            for stmt in _statements(schema.CREATE):
                conn.execute(stmt)
            conn.executemany(
                f"INSERT INTO {schema.META_TABLE} (key, value) VALUES (?, ?)",
                [("application", schema.APPLICATION_NAME), ("schema_version", str(schema.SCHEMA_VERSION)),
                 ("created_by", f"wattprint {__version__}"), ("created_at", str(time.time()))],
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _verify(conn: sqlite3.Connection, path: str) -> int:
    """Check the marks that make the file a wattprint store, of a schema this version reads or upgrades; returns
    that schema version (the header's, or where a copy of the store lost it, the one its tables show)."""
    try:
        meta = dict(conn.execute(f"SELECT key, value FROM {schema.META_TABLE}").fetchall())
    except sqlite3.Error as e:
        # the header says the file is ours (checked before it was opened): say what stops its being read
        raise store_problem(path, e) or StoreError(
            f"{path} is not a wattprint store ({e}); it was left untouched") from e
    if meta.get("application") != schema.APPLICATION_NAME:
        raise StoreError(f"{path} is not a wattprint store (no application marker); it was left untouched")
    try:
        version = int(meta.get("schema_version", "0"))
    except ValueError:
        version = 0
    version = max(version, int(conn.execute("PRAGMA user_version").fetchone()[0]))
    if version > schema.SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer wattprint (store schema {version}, this version "
                         f"reads {schema.SCHEMA_VERSION}); upgrade wattprint")
    header = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if header == 0:  # e.g. `sqlite3 .dump` restored into a new file: known by its tables, or refused
        from .lost_marks import recognised_version  # only then: no part of a usual opening

        return recognised_version(conn, path, meta)
    if not schema.upgradable(header):
        raise StoreError(f"{path} claims store schema {header} (its PRAGMA user_version), which no wattprint "
                         "wrote, so it cannot be read or upgraded; it was left untouched")
    return header

