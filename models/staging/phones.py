"""Phone numbers to E.164, with the `phonenumbers` library, kept as a lookup table.

Why a lookup table filled from Python: E.164 needs libphonenumber's per-country rules,
which neither engine has in SQL, and a DuckDB Python UDF would not exist on PostgreSQL.
A table of (raw value, default country) -> E.164 works on every engine, and each build
parses only raw values it has never seen, so the Python part stays proportional to new
distinct numbers, not to events. The parsing rule itself is `headwater.phones`, which the
synthetic world's truth uses too.
"""

from __future__ import annotations

from headwater.phones import region, to_e164
from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

COLUMNS = {"raw_value": "VARCHAR", "country_hint": "VARCHAR", "default_country": "VARCHAR", "e164": "VARCHAR"}


def write_phone_numbers(model: Model, context: BuildContext, engine: Engine) -> None:
    """Add the E.164 form of every raw phone value not parsed before for this country."""
    country = context.config.identity.default_country
    if context.full_refresh or not engine.table_exists(model.schema, model.name):
        engine.create_table(model.target, COLUMNS)
    new_values = engine.run(
        f"SELECT DISTINCT candidates.raw_value, candidates.country_hint FROM ({model.sql}) AS candidates "
        f"WHERE candidates.raw_value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {model.target} AS known "
        f"WHERE known.raw_value = candidates.raw_value AND known.country_hint = candidates.country_hint "
        f"AND known.default_country = %s)", [country])
    engine.insert_rows(model.target, list(COLUMNS), [
        (row["raw_value"], row["country_hint"], country,
         to_e164(row["raw_value"], region(row["country_hint"], country), country)) for row in new_values])
