"""What an integration needs installed: an import of one without its framework says how to install it."""

from __future__ import annotations

from typing import NoReturn

from ..errors import WattprintError


class MissingFrameworkError(WattprintError, ModuleNotFoundError):
    """An integration imported where its framework is not installed. A ModuleNotFoundError whose ``name`` is the
    missing module's, as the import's own error was (tools that read it still can), raised from that error."""


def missing_framework(e: ImportError, integration: str, framework: str, install: str,
                      packages: tuple[str, ...]) -> NoReturn:
    """Raise, from ``e``, a :class:`MissingFrameworkError` that says ``integration`` needs ``framework`` and how
    to get it (``install``: the pip command), where ``e`` is one of ``packages`` (or a module in one) not found;
    any other import error as it is (a framework installed but too old, or missing a dependency of its own,
    is not fixed by installing it again: its own error says what is wrong)."""
    name = e.name or ""
    if not isinstance(e, ModuleNotFoundError) or name.partition(".")[0] not in packages:
        raise e
    raise MissingFrameworkError(f"{integration} needs {framework}: {install}", name=name) from e
