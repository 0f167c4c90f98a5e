"""cdp_staging.suppressed_profiles: who the privacy step suppressed, as this build's profile ids.

Why hashes, matched here: the privacy step keeps only SHA-256 hashes of a person's identifiers
(cdp.privacy_suppressions, never the values), and a person's profile id can change between
builds (merges, a deleted person's data pulled again from a vendor). Matching each build's
identity graph against the hashes catches them under any id. The table is written even
before any privacy request (empty), so cdp.profiles can always read it.
"""

from __future__ import annotations

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

SUPPRESSIONS = ("cdp", "privacy_suppressions")
NOBODY = "SELECT profile_id FROM cdp.profile_identities WHERE 1 = 0"


def suppressed_profiles_sql(engine: Engine) -> str:
    if not engine.table_exists(*SUPPRESSIONS):
        return NOBODY
    return ("SELECT DISTINCT identities.profile_id FROM cdp.profile_identities AS identities "
            "WHERE SHA256(identities.id_value) IN "
            "(SELECT identifier_hash FROM cdp.privacy_suppressions WHERE active)")


def write_suppressed_profiles(model: Model, context: BuildContext, engine: Engine) -> None:
    engine.replace_table(model.target, suppressed_profiles_sql(engine))
