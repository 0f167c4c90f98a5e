"""The check every config section with named entries makes: no name is used twice.

Sources, destinations, syncs and computed traits are all looked up by name (a source's name
is its schema, a trait's its column), so a repeated name is a config error, reported with the
first name repeated. Imports nothing, so the section schemas that headwater.config imports may
import it back without a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable


def check_unique_names(names: Iterable[str], what: str, why: str = "") -> None:
    """Raise ValueError("<what> name 'x' is used twice[; why]") for the first repeated name."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} name {name!r} is used twice" + (f"; {why}" if why else ""))
        seen.add(name)
