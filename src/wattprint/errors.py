"""User-facing errors: the CLI prints them on one line and exits with status 2, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterable

SUGGESTIONS = 5  # closest names an unknown-name message lists
ECHO_LIMIT = 60  # characters of user text repeated in a message: enough to recognise it, never a wall of it


def echo(text: object, limit: int = ECHO_LIMIT) -> str:
    """``repr`` of user text for a message, cut to ``limit`` characters with an ellipsis (a 5000-character
    --location must not come back in full)."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > limit:
        return repr(s[:limit]) + f"... ({len(s)} characters)"
    return repr(s)


def shown(value: object) -> str:
    """``repr`` of a value the user passed (a number, a bool, an object), cut short for a message: a 400-digit
    integer is no help there. User *text* goes through :func:`echo`."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


class WattprintError(Exception):
    """A mistake in the user's input or environment that wattprint can explain in one line."""

    exit_code = 2


class UnknownNameError(WattprintError, LookupError):
    """A name (GPU, region, preset, run id ...) that is not in the catalogue; lists the closest valid names."""

    def __init__(
        self, kind: str, name: str, candidates: Iterable[str], hint: str = "", examples: Iterable[str] = (),
        ranked: bool = False, shown: Iterable[str] | None = None,
    ) -> None:
        """``candidates``: valid names, ranked here by closeness to ``name``, or already ranked by the caller
        (``ranked``: a lookup that knows better, e.g. by model words only); ``shown``: how the message writes each
        suggestion (a key with its display name beside it), default the names themselves."""
        self.kind = kind
        self.name = name
        self.suggestions = list(candidates)[:SUGGESTIONS] if ranked else closest_names(name, candidates)
        msg = f"unknown {kind} {echo(name)}"
        if self.suggestions:
            words = list(shown)[:len(self.suggestions)] if shown is not None else self.suggestions
            msg += "; closest valid names: " + ", ".join(words)
        elif shown := list(examples)[:8]:  # nothing is close: show what valid names look like instead
            msg += "; valid names include " + ", ".join(shown)
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class AmbiguousNameError(UnknownNameError):
    """A name that matches several different catalogue entries (e.g. "TPU", "Gaudi"): lists them all."""

    def __init__(self, kind: str, name: str, matches: Iterable[str], hint: str = "",
                 shown: Iterable[str] | None = None) -> None:
        """``shown``: how the message writes each match (what it is beside its name), default the names."""
        names = list(dict.fromkeys(matches))
        words = list(shown) if shown is not None else names
        listed = ", ".join(words[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        msg = f"ambiguous {kind} {echo(name)}: it matches {len(names)} different entries ({listed}); name one"
        if hint:
            msg += f" ({hint})"
        Exception.__init__(self, msg)  # not UnknownNameError's: the matches are the suggestions, all of them
        self.kind = kind
        self.name = name
        self.suggestions = names


class WattprintWarning(UserWarning):
    """Something on the footprint side went wrong where raising would break the user's work (a training):
    what was not done, and why. Filter it with ``warnings.simplefilter("ignore", WattprintWarning)``."""


class InputConflictError(WattprintError, ValueError):
    """Inputs that are impossible (negative, NaN) or contradict each other.

    ``advice`` (what the user can do) is appended to the message; ``reason`` is the message without it, for a
    caller that resolves the conflict itself and says so in its own words."""

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        super().__init__(f"{message}; {advice}" if advice else message)
        self.reason = message


_NOT_ALNUM = re.compile(r"[\W_]+")  # \W is "not str.isalnum()" (and not '_') for str patterns


def normalise_name(text: str) -> str:
    """Lower-case, drop punctuation, spaces and accents, fold full-width and other compatibility forms:
    'NVIDIA A100-SXM4 80GB' -> 'nvidiaa100sxm480gb', 'Côte d'Ivoire' -> 'cotedivoire', 'Ａ100' -> 'a100'."""
    return _NOT_ALNUM.sub("", fold_text(text).lower())


def fold_text(text: str) -> str:
    """Accents dropped and compatibility forms folded ('Côte' -> 'Cote', full-width 'Ａ100' -> 'A100'); ASCII
    text is returned as is."""
    if text.isascii():
        return text
    import unicodedata  # only for non-ASCII names

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def closest_names(name: str, candidates: Iterable[str], n: int = SUGGESTIONS) -> list[str]:
    """Closest candidates by substring match first, then by similarity of their normalised forms."""
    import difflib  # only on the error path: keeps importing wattprint cheap

    cands = list(dict.fromkeys(candidates))
    key = normalise_name(name)
    by_norm: dict[str, str] = {}
    for c in cands:
        by_norm.setdefault(normalise_name(c), c)
    picked: list[str] = []
    if key:
        picked = [c for c in cands if key in normalise_name(c)][:n]
    for m in difflib.get_close_matches(key, list(by_norm), n=n, cutoff=0.4):
        if by_norm[m] not in picked:
            picked.append(by_norm[m])
    return picked[:n]
