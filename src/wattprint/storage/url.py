"""Where the run store lives: a URL (``sqlite:///abs/path.db``, or a file URI: ``file:///abs/path.db``,
``file:/abs/path.db``) or a plain path, else the default file.

Precedence: the explicit argument (``--db``), then ``WATTPRINT_DB``, then
``$XDG_DATA_HOME/wattprint/wattprint.db`` (``~/.local/share/wattprint/wattprint.db`` when
``XDG_DATA_HOME`` is unset or not absolute, as the XDG Base Directory spec says).
"""

from __future__ import annotations

import os
import re

from ..errors import WattprintError

ENV_VAR = "WATTPRINT_DB"
SQLITE_SCHEME = "sqlite://"
DEFAULT_FILE = ("wattprint", "wattprint.db")  # under the XDG data directory

# a scheme has >= 2 characters, so a Windows drive letter ("C:\\runs.db") reads as a path
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
# a file URI without its authority ("file:/abs/runs.db", RFC 8089's shortest form, as Java writes it)
_FILE_NO_AUTHORITY = re.compile(r"^file:(?!//)", re.IGNORECASE)
# a Windows path with its drive ("C:\\runs.db", "C:/runs.db"): on POSIX a relative file of that odd name
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_POSTGRES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}


def default_db_path() -> str:
    """``$XDG_DATA_HOME/wattprint/wattprint.db``, falling back to ``~/.local/share/...``."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, *DEFAULT_FILE)


def resolve_db_url(url: str | None = None) -> str:
    """The store URL to use: ``url`` > ``$WATTPRINT_DB`` > the default file; always ``sqlite:///<absolute path>``.

    Plain paths (``~`` expanded, relative to the working directory) are turned into sqlite URLs;
    unsupported schemes raise :class:`WattprintError`.
    """
    text = (url or "").strip() or os.environ.get(ENV_VAR, "").strip()
    path = db_path(text) if text else default_db_path()
    # '%', '?' and '#' are percent-encoded so the URL reads back to the same path (see db_path)
    return SQLITE_SCHEME + str(path).replace("%", "%25").replace("?", "%3F").replace("#", "%23")


def db_path(url: str) -> str:
    """The absolute file path a store URL (or plain path) names (a str: pathlib costs ~5 ms of import on the
    tracker's start path)."""
    if "\x00" in url:
        raise WattprintError(f"store URL or path {url!r} holds a NUL character, which no file name can")
    if url.strip() == ":memory:":  # SQLite's in-memory name: a store must outlive the process that writes it
        raise WattprintError("':memory:' is not a store that outlives this process (it would be a file of that name "
                             "here); give a file path, e.g. --db runs.db")
    m = _SCHEME.match(url) or _FILE_NO_AUTHORITY.match(url)
    if m is None:
        if url.startswith("sqlite:"):
            raise WattprintError(f"malformed store URL {url!r}: write sqlite:///absolute/path.db or a plain path")
        if os.name != "nt" and _WINDOWS_DRIVE.match(url):  # made a file named 'C:\runs.db' in the working directory
            raise WattprintError(f"store path {url!r} is a Windows path (drive {url[0]}:), and this system has no "
                                 "drives: give a path here, e.g. ~/runs.db")
        path = os.path.expanduser(url)
        if path.endswith(("/", os.sep)) or os.path.basename(path) in (".", ".."):
            raise WattprintError(f"store path {url!r} names a folder, not a database file: give a file in it, "
                                 f"e.g. {os.path.join(url.rstrip('/' + os.sep) or '/', 'runs.db')!r}")
        try:
            return os.path.abspath(path)
        except FileNotFoundError:  # a relative path, and the working directory was removed since the shell entered it
            raise WattprintError(f"store path {url!r} is relative to the working directory, which no longer exists; "
                                 "give an absolute path") from None
    scheme = m.group(1).lower() if m.groups() else "file"
    if scheme in _POSTGRES:
        raise WattprintError(
            f"PostgreSQL support is not available yet ({url.split('@')[-1]!r}); "
            "use sqlite:///absolute/path.db or a file path"
        )
    rest = url[m.end():]
    if "?" in rest or "#" in rest:
        raise WattprintError(f"store URL {url!r} has query parameters or a fragment, which are not supported; "
                             "give a plain path, or write '?' as %3F and '#' as %23")
    if "%" in rest:
        from urllib.parse import unquote  # only here: it costs import time

        try:
            rest = unquote(rest, errors="strict")
        except UnicodeDecodeError:  # unquote's default would name another file, with U+FFFD in place of the byte
            raise WattprintError(f"store URL {url!r} has %-escapes that are not UTF-8 text; give the plain path "
                                 "instead") from None
        if "\x00" in rest:
            raise WattprintError(f"store URL {url!r} holds a NUL character (%00), which no file name can")
    if scheme == "sqlite" or scheme == "file":
        if not rest.startswith("/"):
            raise WattprintError(
                f"store URL {url!r} needs an absolute path: {scheme}:///absolute/path.db (three slashes), or give a "
                "plain path"
            )
        if rest.strip("/") == "" or rest.endswith("/"):
            raise WattprintError(f"store URL {url!r} names a folder, not a database file")
        if rest.lstrip("/").startswith("~"):
            raise WattprintError(f"store URL {url!r}: '~' is not expanded in a URL (it would be a folder named '~' in "
                                 "the filesystem root); give the plain path instead, e.g. ~/runs.db")
        path = os.path.normpath("/" + rest.lstrip("/"))
        top = "/" + path.lstrip("/").split("/", 1)[0]
        if os.path.dirname(path) != "/" and not rest.startswith("//") and not os.path.exists(top):
            # as below: SQLAlchemy's relative sqlite:///sub/runs.db, read here as a new folder in the root (four
            # slashes, sqlite:////sub/runs.db, are absolute to SQLAlchemy too: taken as written)
            raise WattprintError(
                f"store URL {url!r} names {path}, under {top}, a folder the filesystem root does not have; for a "
                f"path relative to the working directory give the plain path {path.lstrip('/')!r} (sqlite:/// is "
                "followed by an absolute path)")
        if os.path.dirname(path) == "/" and not os.path.exists(path):
            # SQLAlchemy (MLflow, Optuna) reads sqlite:///runs.db as ./runs.db; here the path after the scheme is
            # absolute, so that would be a new file in the filesystem root: almost certainly not what was meant
            raise WattprintError(
                f"store URL {url!r} names {path}, a file in the filesystem root; for a file in the working "
                f"directory give the plain path {path.lstrip('/')!r} (sqlite:/// is followed by an absolute path)")
        return path
    raise WattprintError(f"unsupported store URL scheme {scheme!r} in {url!r}; use sqlite:///absolute/path.db")


def relative_path(text: str) -> bool:
    """Whether ``text`` is a plain path relative to the working directory: not absolute (``~`` expanded), and no
    store URL, well formed or not (``file:/x``, ``sqlite:x``), Windows path or ``:memory:``, which
    :func:`db_path` takes or refuses as written (a config file's relative ``db`` is read against the file's folder)."""
    t = text.strip()
    if _SCHEME.match(t) or _FILE_NO_AUTHORITY.match(t) or t.startswith("sqlite:") or t == ":memory:":
        return False
    if os.name != "nt" and _WINDOWS_DRIVE.match(t):
        return False
    return not os.path.isabs(os.path.expanduser(t))


def spill_dir(store_path: str) -> str:
    """The folder of the runs a store at ``store_path`` refused at their end (see :mod:`wattprint.storage.spill`)."""
    return f"{store_path}.unsaved"


def fallback_spill_dir(store_path: str) -> str:
    """Where such runs go when the folder beside the store cannot be written (read-only, or a full scratch disk
    while the home folder has room): ``$XDG_STATE_HOME/wattprint/unsaved/<hash of the store's real path>``
    (``~/.local/state/...`` when ``XDG_STATE_HOME`` is unset or not absolute), one folder per store."""
    import hashlib  # here: a few ms to import, and no store needs it until a run waits in a fallback folder

    key = hashlib.sha256(os.path.realpath(store_path).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(fallback_spill_root(), key)


def fallback_spill_root() -> str:
    """The folder holding every store's fallback spill folder; it exists only while a run waits in one."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "wattprint", "unsaved")


def spill_dirs(store_path: str) -> tuple[str, ...]:
    """The folders a store's refused runs may wait in: beside it, then its fallback folder where runs wait in any
    (the common case, none, costs one stat and no hashing)."""
    if not os.path.isdir(fallback_spill_root()):
        return (spill_dir(store_path),)
    return spill_dir(store_path), fallback_spill_dir(store_path)
