"""Keep the previous build's profile_identities, so profile ids survive from build to build.

Why a snapshot model: stable ids need the last build's answer, but cdp.profile_identities
is rebuilt later in the same build; reading it through this copy keeps the dependency
graph acyclic. A full refresh starts from an empty snapshot.
"""

from __future__ import annotations

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

PREVIOUS = ("cdp", "profile_identities")
COLUMNS = {"profile_id": "VARCHAR", "id_type": "VARCHAR", "id_value": "VARCHAR", "first_seen_at": "TIMESTAMPTZ"}


def write_previous_profile_identities(model: Model, context: BuildContext, engine: Engine) -> None:
    engine.create_table(model.target, COLUMNS)
    if context.full_refresh or not engine.table_exists(*PREVIOUS):
        return
    names = ", ".join(COLUMNS)
    engine.run(f'INSERT INTO {model.target} ({names}) SELECT {names} FROM "cdp"."profile_identities"')
