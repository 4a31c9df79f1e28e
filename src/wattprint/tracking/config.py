"""Where the tracked job runs and how its energy turns into CO2e: location, PUE, grid intensity, store.

Each setting comes from the first of these that gives it (never from the network):

1. the argument (``track(location=..., pue=..., intensity=..., db=...)``, ``wattprint run --location ...``);
2. the environment: ``WATTPRINT_LOCATION``, ``WATTPRINT_PUE`` (a number or a preset name such as
   ``hyperscale``), ``WATTPRINT_INTENSITY`` (gCO2e/kWh), ``WATTPRINT_DB``;
3. a config file: ``$WATTPRINT_CONFIG`` if set, else ``./wattprint.toml``, else
   ``$XDG_CONFIG_HOME/wattprint/config.toml`` (``~/.config/wattprint/config.toml``). Top-level keys
   ``location``, ``pue``, ``intensity``, ``db``, ``interval``, or the same keys under a ``[wattprint]`` table
   (not both: a file with settings at both places is refused, as one of them would be ignored; so is a misspelt key,
   and a table meant for wattprint elsewhere: ``[Wattprint]``, ``[tool.wattprint]``, ``[wattprint.sub]``);
4. defaults: no location (world-average intensity, wide range), PUE from the location's provider or the
   industry average with its range, the default store.

An environment variable set to the empty string is unset (``WATTPRINT_DB= cmd``); one set to spaces only is a
mistake, refused as a blank option is. A location and an intensity both name the grid: the one from the
higher-priority source wins (given at the same level, the number), and the other is said to be unused.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputConflictError, UnknownNameError, WattprintError, shown
from ..footprint import Assumption, Intensity, check_pue
from ..quantities import Range, float_text, is_number

ENV_LOCATION = "WATTPRINT_LOCATION"
ENV_PUE = "WATTPRINT_PUE"
ENV_INTENSITY = "WATTPRINT_INTENSITY"
ENV_DB = "WATTPRINT_DB"
ENV_CONFIG = "WATTPRINT_CONFIG"
KEYS = ("location", "pue", "intensity", "db", "interval")
# an input check, not data: one reading of every sensor and one store write take ~1 ms (bench/overhead.py), so
# an interval much shorter than 10 ms measures mostly the tracker's own work
MIN_INTERVAL_S = 0.01
# an input check, not data: a crash loses at most the readings of one interval, and stop() waits for one; more
# than an hour between readings is most likely milliseconds given as seconds (--interval 1000)
MAX_INTERVAL_S = 3600.0


@dataclass
class TrackConfig:
    """The resolved settings and, for each, where it came from ("argument", "env WATTPRINT_PUE", a file, "default")."""

    location: str | None = None
    pue: float | str | None = None
    intensity: float | None = None
    db: str | None = None
    interval_s: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    # (gCO2e/kWh, its source) of an intensity a location from a higher-priority source overrode: said in the run's
    # assumptions
    intensity_not_used: tuple[float, str] | None = None

    def pue_range(self) -> tuple[Range, Assumption]:
        """PUE (dimensionless, >= 1) with the assumption that says where it comes from."""
        from .. import data

        src = self.sources.get("pue", "default")
        if self.pue is None:
            return data.default_pue(self.location)
        if isinstance(self.pue, (int, float)):
            note = data.given_pue_note(float(self.pue), f"given ({src})")
            return Range.exact(float(self.pue)), note or Assumption("PUE", f"{float(self.pue):g}", f"given ({src})")
        with self.naming_source("pue", keep_type=True):  # a preset from WATTPRINT_PUE or a config file says so
            return data.pue_preset(self.pue)

    def intensity_obj(self) -> Intensity:
        """Grid intensity (gCO2e/kWh) for the location, or the number given."""
        return self.intensity_lookup()[0]

    def intensity_lookup(self) -> tuple[Intensity, list[Assumption]]:
        """:meth:`intensity_obj`, plus the assumptions made in reading the location (a bare cloud region id read
        as provider:region, a year substituted, the world average used), as the estimators give them. A bad
        location from the environment or a file says where it came from."""
        with self.naming_source("location"):
            return self._intensity_lookup()

    @contextlib.contextmanager
    def naming_source(self, key: str, keep_type: bool = False) -> Iterator[None]:
        """An error about setting ``key`` names where the setting came from, unless the caller gave it (a user
        who never typed --location must learn that WATTPRINT_LOCATION or a config file holds it); raised as an
        InputConflictError, or (``keep_type``) as the error it was, its message extended."""
        try:
            yield
        except WattprintError as e:
            src = self.sources.get(key)
            if not src or src == "argument" or src in str(e):
                raise
            if keep_type:
                e.args = (f"{e} ({key} from {src})", *e.args[1:])
                raise
            raise InputConflictError(f"{e} ({key} from {src})") from None

    def _intensity_lookup(self) -> tuple[Intensity, list[Assumption]]:
        from .. import intensity as grid

        given_loc = self.location if self.location and self.location.strip() else None
        if self.intensity is not None:
            note = grid.given_intensity_note(self.intensity)
            where = "given"
            notes: list[Assumption] = []
            if given_loc:  # still a place the user named: it must exist (and sets the PUE default)
                loc, notes = grid.resolve_location_noted(given_loc)
                if loc is not grid.WORLD:  # the number given is not the world average: World names no place
                    where = loc.key
                    notes.append(grid.replaced_grid_note(loc, "given intensity", pue_given=self.pue is not None))
            return Intensity.fixed(
                self.intensity, location=where,
                source=f"given ({self.sources.get('intensity')})" + (f"; {note}" if note else "")), notes

        found, notes = grid.intensity_lookup(given_loc)
        return found, notes + self._overridden_intensity_notes()

    def _overridden_intensity_notes(self) -> list[Assumption]:
        """The intensity a location from a higher-priority source overrode, said where the run's settings are (the
        text output's assumptions), not only in its --json sources: a WATTPRINT_INTENSITY silently unused misleads."""
        if self.intensity_not_used is None:
            return []
        value, src = self.intensity_not_used
        return [Assumption("grid intensity", f"{value:g} gCO2e/kWh from {src}", "",
                           f"not used: the location {self.location!r} from {_said(self.sources.get('location', ''))} "
                           "takes precedence (argument > environment > config file) and names the grid")]


def _said(source: str) -> str:
    """A setting's source as a message names it: "the argument", "env WATTPRINT_PUE", "config file ..."."""
    return "the argument" if source == "argument" else source


def _parse_pue(text: Any, source: str) -> float | str:
    """A PUE from ``source``: a number (an argument's of any numeric type, its type checked by
    :func:`check_setting_types`; a file's int or float), or text: a number or a preset name."""
    if not isinstance(text, str):
        try:
            value = float(text)  # not via str(): a Fraction's "6/5" was read as a preset name
        except OverflowError:
            raise InputConflictError(f"PUE from {source} {shown(text)} is too large: it leaves the floating-point "
                                     "range") from None
    else:
        s = text.strip()
        try:
            value = float_text(s)
        except OverflowError as e:  # 1e400, 1e-400: said as given, not as the inf or 0 float() makes of it
            raise InputConflictError(f"PUE from {source} {e}") from None
        except ValueError:
            if not s:
                raise InputConflictError(f"empty PUE from {source}") from None
            return s  # a preset name, resolved by wattprint.data.pue_preset
    return check_pue(value, source)


def _as_given(value: float) -> str:
    """A number for a message with every digit it was given (0.009999999, not the "0.01" of ``:g`` that reads as the
    bound it missed); imported here only, as its module costs a tracker's start-up ~1 ms."""
    from ..estimate.common import number_text

    return number_text(value)


def _parse_positive(text: Any, what: str, source: str, allow_zero: bool = False) -> float:
    """A number from ``source``: an argument's own (checked by :func:`check_setting_types`), or the text of the
    environment or a config file; finite and > 0 (>= 0 with ``allow_zero``)."""
    try:
        if isinstance(text, bool):  # True is no interval or intensity (float(True) would make it 1)
            raise TypeError
        value = float_text(text) if isinstance(text, str) else float(text)  # text: 1e400 is too large, not inf
    except OverflowError as e:
        said = e if isinstance(text, str) else f"{shown(text)} is too large: it leaves the floating-point range"
        raise InputConflictError(f"{what} from {source} {said}") from None
    except (TypeError, ValueError):
        raise InputConflictError(f"{what} from {source} must be a number, got {shown(text)}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputConflictError(f"{what} from {source} must be a finite number {'>= 0' if allow_zero else '> 0'}, "
                                 f"got {shown(text)}")
    return value + 0.0  # -0.0 (typed "-0") is zero: it would print as "-0"


def check_setting_types(location: Any = None, intensity: Any = None, db: Any = None, interval_s: Any = None,
                        pue: Any = None) -> None:
    """The settings given as arguments (``track()``, ``wattprint run``) are of the right type, as the estimators
    want theirs: numbers are real numbers (int, float, numpy scalars; not a bool, not text: the environment and
    the config file give text, an argument does not), names are text, a PUE either; None is "not given". Their
    values are checked where they are resolved (:func:`load_config`)."""
    for what, arg in (("grid intensity (gCO2e/kWh)", intensity), ("sampling interval (s)", interval_s)):
        if arg is None or (isinstance(arg, (int, float)) and not isinstance(arg, bool)):
            continue
        if not is_number(arg):
            raise InputConflictError(f"{what} must be a number, got {shown(arg)}")
    plain_number = isinstance(pue, (int, float)) and not isinstance(pue, bool)
    # True was read as the preset name 'True'; as the estimators say it
    if pue is not None and not isinstance(pue, str) and not plain_number and not is_number(pue):
        raise InputConflictError(f"PUE must be a number (e.g. 1.1) or a preset name, got {shown(pue)}")
    # names read as text: a number or a list is a mistake, not a name (str(['FR']) read as France, db=5 made a store
    # file "5" in the working directory); a store may be a path object
    for what, arg, kinds in (("location", location, (str,)), ("db", db, (str, os.PathLike))):
        if arg is not None and not isinstance(arg, kinds):
            raise InputConflictError(f"{what} must be {'text' if what == 'location' else 'a path or URL'}, got "
                                     f"{shown(arg)}")
    if isinstance(db, str) and not db.strip():  # as --db '' and a config file's db = "" are: not the next source's
        raise InputConflictError(f"db must be a path or URL, got {shown(db)}: give one, or leave it out")


def check_run_options(handle_signals: Any = True, quiet: Any = False, notify: Any = None, readers: Any = None,
                      pid: Any = None, state_dir: Any = None, meta: Any = None, ledger: Any = None) -> None:
    """The extra keywords of ``track()`` (see :class:`~wattprint.tracking.Run`) are of the right type, checked when it
    is called, as :func:`check_setting_types` checks the settings: before anything is measured or stored (a
    ``state_dir=5`` failed after the run's record was written, leaving a 'failed' run in the store; ``notify=5`` failed
    at the first note; ``quiet="no"`` was read as true). None is "not given", but for the two switches."""
    for what, flag in (("handle_signals", handle_signals), ("quiet", quiet)):
        if not isinstance(flag, bool):  # "no" is truthy
            raise InputConflictError(f"{what} must be True or False, got {shown(flag)}")
    if notify is not None and not callable(notify):
        raise InputConflictError("notify must be a function that takes each one-line note (e.g. print, or a list's "
                                 f"append), got {shown(notify)}")
    if readers is not None:
        _check_readers(readers)
    if pid is not None:
        _check_pid(pid)
    folder = os.fspath(state_dir) if isinstance(state_dir, (str, os.PathLike)) else None
    if state_dir is not None and not (isinstance(folder, str) and folder.strip()):  # "" was read as not given
        raise InputConflictError(f"state_dir (the node ledger folder) must be a path, got {shown(state_dir)}")
    if meta is not None:
        check_meta(meta)
    if ledger is not None:
        from .ledger import Ledger

        if not isinstance(ledger, Ledger):
            raise InputConflictError(f"ledger must be a wattprint.tracking.ledger.Ledger, got {shown(ledger)}")


def _check_readers(readers: Any) -> None:
    """``readers``: a collection of device readers, each with a ``read()`` (see
    :class:`wattprint.devices.base.DeviceReader`); not a generator, which the check would use up (and a decorated
    function's second call would find empty)."""
    what = "readers must be a list of device readers (objects with a read() method, see wattprint.devices)"
    if isinstance(readers, (str, bytes, Mapping)) or not isinstance(readers, Collection):
        raise InputConflictError(f"{what}, got {shown(readers)}")
    for r in readers:
        if not callable(getattr(r, "read", None)):
            raise InputConflictError(f"{what}; {shown(r)} has no read()")


def _check_pid(pid: Any) -> None:
    """``pid``: a whole number naming a process that exists now (its tree is the one attributed)."""
    try:
        if isinstance(pid, bool):  # True is no process (operator.index would make it 1)
            raise TypeError
        n = operator.index(pid)  # int or a numpy integer; not "123" nor 12.0
    except TypeError:
        raise InputConflictError(f"pid (whose process tree the run is attributed) must be a process id, a whole "
                                 f"number, got {shown(pid)}") from None
    if n < 1:
        raise InputConflictError(f"pid must be a process id (> 0), got {shown(pid)}")
    try:
        os.kill(n, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: beyond any pid (2**64)
        raise InputConflictError(f"pid {n} names no running process") from None
    except OSError:  # PermissionError: another user's process, which exists
        pass


def check_meta(meta: Any) -> None:
    """``meta`` (extra JSON stored with the run): a mapping with text keys, none of them one the tracker stores
    itself (:data:`.record.RESERVED_META_KEYS`): ``meta={"pid": 1}`` made a killed run read as still running, and
    ``meta={"wattprint_version": ...}`` was stored as the version that measured it."""
    if not isinstance(meta, Mapping):
        raise InputConflictError(f"meta (extra JSON stored with the run) must be a mapping, e.g. {{'lr': 3e-4}}, got "
                                 f"{shown(meta)}")
    if bad := [k for k in meta if not isinstance(k, str)]:
        raise InputConflictError(f"meta's keys must be text (as JSON's are), got {shown(bad[0])}")
    from .record import RESERVED_META_KEYS

    if taken := [k for k in meta if k in RESERVED_META_KEYS]:
        raise InputConflictError(
            f"meta {', '.join(map(repr, taken))}: {'a key' if len(taken) == 1 else 'keys'} the tracker stores itself; "
            f"give yours another name (e.g. {'user_' + taken[0]!r}); the reserved keys are "
            + ", ".join(RESERVED_META_KEYS))


def _env_text(env: Mapping[str, str], name: str) -> str | None:
    """The value of environment variable ``name``, stripped; None if unset or empty (``VAR= cmd`` unsets it, as
    for XDG variables). Spaces only are refused, as a blank option is: not read as unset (the next source)."""
    raw = env.get(name, "")
    if raw and not raw.strip():
        raise InputConflictError(f"environment variable {name}: given an empty value ({shown(raw)}): give one, or "
                                 "unset it")
    return raw.strip() or None


def config_file(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> str | None:
    """The config file that applies, if any exists (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    explicit = _env_text(env, ENV_CONFIG)
    if explicit:
        p = os.path.expanduser(explicit)
        if not os.path.isfile(p):
            raise WattprintError(f"{ENV_CONFIG}={explicit} does not name a file")
        return p
    if cwd is None:
        try:
            cwd = os.getcwd()
        except FileNotFoundError:  # the working directory was removed (`rm -rf build` under the shell): no local file
            cwd = None
    local = os.path.join(cwd, "wattprint.toml") if cwd else None
    if local is not None and os.path.isfile(local):
        return local
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".config")
    user = os.path.join(base, "wattprint", "config.toml")
    return user if os.path.isfile(user) else None


# what each key of the file may hold (TOML has types: a list or a boolean is a mistake, not a value to coerce)
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "location": (str,), "db": (str,), "pue": (int, float, str), "intensity": (int, float, str),
    "interval": (int, float, str),
}


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The wattprint settings in a TOML file (top level, or a ``[wattprint]`` table)."""
    doc, table = _settings_table(path)
    # settings both at the top level and in [wattprint]: those at the top would be ignored, their errors unseen
    top = [k for k, v in doc.items() if not isinstance(v, dict)] if table is not doc else []
    if top:
        raise InputConflictError(f"config file {path} has settings both at the top level ({', '.join(top)}) and in "
                                 "its [wattprint] table: put them all in one place")
    # a misspelt key would silently fall back to the defaults; other tools' tables in a shared file are theirs
    unknown = [k for k, v in table.items() if k not in KEYS and not isinstance(v, dict)]
    if unknown:
        raise UnknownNameError("setting", unknown[0], KEYS, hint=f"in the config file {path}; the settings are "
                               + ", ".join(KEYS))
    out = {k: table[k] for k in KEYS if k in table}
    for k, v in out.items():
        if isinstance(v, bool) or not isinstance(v, _FILE_TYPES[k]):
            kinds = " or ".join("text" if t is str else "a number" for t in _FILE_TYPES[k] if t is not int)
            raise InputConflictError(f"{k} in the config file {path} must be {kinds}, got {v!r}")
    # a number a float cannot hold goes on as its text, as the environment's does: refused as given, where it is used
    return {k: v.written if isinstance(v, _Unheld) else v for k, v in out.items()}


class _Unheld(float):
    """A config file's number that a float cannot hold (``pue = 1e400``, which the TOML readers make inf; ``1e-400``,
    which they make 0), kept as written: a message then says it as the file has it, not "got inf"."""

    written: str

    def __new__(cls, written: str) -> _Unheld:
        self = super().__new__(cls, float(written))
        self.written = written
        return self

    def __repr__(self) -> str:  # "location in the config file ... must be text, got 1e400"
        return self.written


def _file_float(text: str) -> float:
    """A TOML float as written (the TOML readers' ``parse_float``): :class:`_Unheld` where a float cannot hold it."""
    try:
        return float_text(text)
    except OverflowError:
        return _Unheld(text)


def _settings_table(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the TOML document in ``path``, the table of its wattprint settings: ``[wattprint]`` if it has one, else the
    document); a file that cannot be read, or is not UTF-8 TOML, is a one-line error naming it."""
    try:
        with open(path, encoding="utf-8-sig") as f:  # a BOM (Windows editors write one) is no part of the TOML
            text = f.read()
    except OSError as e:
        raise WattprintError(f"cannot read the config file {path}: {e}") from e
    except UnicodeDecodeError:
        raise WattprintError(f"config file {path} is not UTF-8 text (TOML must be)") from None
    try:
        doc = _loads_toml(text)
    except ValueError as e:
        raise WattprintError(f"config file {path} is not valid TOML: {e}") from e
    sub = doc.get("wattprint")
    table = sub if isinstance(sub, dict) else doc
    _refuse_misplaced_tables(path, doc, table)
    return doc, table


# an input check, not data: how close (difflib's ratio, 0 to 1) a table's name must be to "wattprint" to be taken for
# it misspelt: "wattprnt" and "watprint" are 0.94; other tools' tables ("tool", "project", "ruff") are far below
_NEAR_WATTPRINT = 0.8


def _refuse_misplaced_tables(path: str | os.PathLike[str], doc: dict[str, Any], table: dict[str, Any]) -> None:
    """A table that looks meant for wattprint but is not where its settings are read is an error, as a misspelt
    setting is: a sub-table of ``[wattprint]`` (``[wattprint.sub]``), and a table named like it elsewhere
    (``[Wattprint]``, ``[tool.wattprint]``), whose settings were silently unused. Other tools' tables are theirs."""
    for name in _table_names(doc):
        if name == ("wattprint",) and table is not doc:
            continue
        if table is not doc and name[0] == "wattprint":
            why = "the [wattprint] table has no sub-tables: put its settings in it"
        elif any(_near_wattprint(part) for part in name):
            why = "settings are read at the top level or in a [wattprint] table"
            if name[0] == "tool":  # pyproject.toml's form
                why += " (a pyproject.toml's [tool.wattprint] is not read: put them in wattprint.toml)"
        else:
            continue
        raise UnknownNameError("config table", f"[{'.'.join(name)}]", ["[wattprint]"], ranked=True,
                               hint=f"in the config file {path}: {why}")


def _table_names(doc: dict[str, Any], above: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The dotted name of each table in ``doc`` (("tool", "wattprint") for ``[tool.wattprint]``), outer ones first."""
    for key, value in doc.items():
        if isinstance(value, dict):
            yield (*above, key)
            yield from _table_names(value, (*above, key))


def _near_wattprint(name: str) -> bool:
    """Whether a table's name is "wattprint" in another case or misspelt (``Wattprint``, ``wattprnt``)."""
    low = name.strip().lower()
    if low == "wattprint":
        return True
    import difflib  # only for a file with tables of other names

    return difflib.SequenceMatcher(None, low, "wattprint").ratio() >= _NEAR_WATTPRINT


def _loads_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text, parse_float=_file_float)
    try:
        import tomli

        return dict(tomli.loads(text, parse_float=_file_float))
    except ImportError:
        return _tiny_toml(text)


def _tiny_toml(text: str) -> dict[str, Any]:
    """Enough TOML for this file on Python 3.10 without tomli: [tables], key = "string" | number | bool."""
    doc: dict[str, Any] = {}
    table = doc
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            table = doc
            for part in line[1:-1].split("."):  # [tool.wattprint] is "wattprint" in "tool", as TOML reads it
                table = table.setdefault(part.strip(), {})
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise ValueError(f"line {n}: expected key = value")
        v = value.strip()
        if v[:1] in "\"'":
            end = v.find(v[0], 1)
            if end < 0:
                raise ValueError(f"line {n}: unterminated string")
            table[key.strip()] = v[1:end]
            continue
        v = v.split("#", 1)[0].strip()
        if v in ("true", "false"):
            table[key.strip()] = v == "true"
            continue
        try:
            table[key.strip()] = int(v) if v.lstrip("+-").isdigit() else _file_float(v)
        except ValueError:
            raise ValueError(f"line {n}: unsupported value {v!r}") from None
    return doc


def _db_from_file(db: Any, path: Any) -> str:
    """A config file's ``db``: a relative path is the file's neighbour (read against the working directory, a user
    config made one store per directory); an empty one is refused, as ``--db ''`` is."""
    if not isinstance(db, str) or not db.strip():
        raise InputConflictError(f"db in config file {path} must be a path or URL, got {shown(db)}")
    from ..storage.url import relative_path

    if not relative_path(db):  # a URL (file:/abs/x.db), or one db_path refuses: as given, not under the file's folder
        return db
    return os.path.join(os.path.dirname(os.path.abspath(os.fspath(path))), db)


def store_setting(db: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None,
                  cwd: str | None = None) -> str | None:
    """The store setting alone, as :func:`load_config` resolves it (argument > ``WATTPRINT_DB`` > the config file's
    ``db``); None: the default store. For the readers of the store (``wattprint runs``), whom the tracker's other
    settings do not concern: a bad PUE, intensity or interval, in the environment or a config file, must not keep
    the stored runs from being read. An argument ends the search (nothing else is read); of a config file only
    ``db`` is read, and a file that is not TOML is still an error, since it may hold the ``db``."""
    check_setting_types(db=db)
    if db is not None:
        return os.fspath(db)
    env = os.environ if environ is None else environ
    if (text := _env_text(env, ENV_DB)) is not None:
        return text
    path = config_file(env, cwd)
    if path is None:
        return None
    doc, table = _settings_table(path)
    if table is not doc and "db" in doc:  # one of the two would be ignored, as read_config_file says
        raise InputConflictError(f"config file {path} has db both at the top level and in its [wattprint] table: "
                                 "put it in one place")
    return _db_from_file(table["db"], path) if "db" in table else None


def _rank(source: str) -> int:
    """Priority of a setting's source: argument 0 > environment 1 > config file 2."""
    return 0 if source == "argument" else 1 if source.startswith("env ") else 2


def load_config(
    location: str | None = None,
    pue: float | str | None = None,
    intensity: float | None = None,
    db: str | None = None,
    interval_s: float | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> TrackConfig:
    """Resolve the settings: arguments > environment > config file > defaults (see the module docstring)."""
    env = os.environ if environ is None else environ
    cfg = TrackConfig()
    path = config_file(env, cwd)
    file_values = read_config_file(path) if path else {}
    file_src = f"config file {path}"

    def pick(key: str, arg: Any, env_name: str | None) -> tuple[Any, str] | None:
        if arg is not None and arg != "":
            return arg, "argument"
        if env_name and (text := _env_text(env, env_name)) is not None:
            return text, f"env {env_name}"
        if key in file_values:
            return file_values[key], file_src
        return None

    check_setting_types(location, intensity, db, interval_s, pue)
    if (got := pick("location", location, ENV_LOCATION)) is not None:
        cfg.location, cfg.sources["location"] = str(got[0]), got[1]
    if (got := pick("pue", pue, ENV_PUE)) is not None:
        cfg.pue, cfg.sources["pue"] = _parse_pue(got[0], got[1]), got[1]
    if (got := pick("intensity", intensity, ENV_INTENSITY)) is not None:
        # 0 is a supply with no location-based emissions, a what-if the estimators take too
        cfg.intensity = _parse_positive(got[0], "grid intensity (gCO2e/kWh)", got[1], allow_zero=True)
        cfg.sources["intensity"] = got[1]
        # both name the grid: the one from the higher-priority source wins (at the same level, the number does);
        # a location given as an argument is not overridden by an intensity from the environment or a file
        if cfg.location and _rank(cfg.sources["location"]) < _rank(got[1]):
            cfg.intensity_not_used, cfg.intensity = (cfg.intensity, got[1]), None
            cfg.sources["intensity"] = f"not used: {got[1]} is overridden by the location ({cfg.sources['location']})"
    if (got := pick("db", db, ENV_DB)) is not None:
        cfg.db, cfg.sources["db"] = os.fspath(got[0]), got[1]
        if got[1] == file_src and path:
            cfg.db = _db_from_file(cfg.db, path)
    if (got := pick("interval", interval_s, None)) is not None:
        cfg.interval_s = _parse_positive(got[0], "sampling interval (s)", got[1])
        if cfg.interval_s < MIN_INTERVAL_S:
            raise InputConflictError(
                f"sampling interval {_as_given(cfg.interval_s)} s (from {got[1]}) is below {MIN_INTERVAL_S:g} s: the "
                "tracker would mostly measure its own readings")
        if cfg.interval_s > MAX_INTERVAL_S:
            raise InputConflictError(
                f"sampling interval {_as_given(cfg.interval_s)} s (from {got[1]}) is above {MAX_INTERVAL_S:g} s: a "
                "crash would lose up to that much of the measurement (milliseconds given as seconds?)")
        cfg.sources["interval"] = got[1]
    return cfg
