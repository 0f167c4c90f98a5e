"""Phone numbers to E.164, with the `phonenumbers` library, kept as a lookup table.

Why a lookup table filled from Python: E.164 needs libphonenumber's per-country rules,
which neither engine has in SQL, and a DuckDB Python UDF would not exist on PostgreSQL.
A table of (raw value, default country) -> E.164 works on every engine, and each build
parses only raw values it has never seen, so the Python part stays proportional to new
distinct numbers, not to events.
"""

from __future__ import annotations

import phonenumbers

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

COLUMNS = {"raw_value": "VARCHAR", "country_hint": "VARCHAR", "default_country": "VARCHAR", "e164": "VARCHAR"}


def region(country_hint: str | None, default_country: str) -> str:
    """The row's country when it is an ISO region phonenumbers knows, else the default."""
    hint = (country_hint or "").strip().upper()
    return hint if hint in phonenumbers.SUPPORTED_REGIONS else default_country


def _valid_e164(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_e164(raw: str, region_first: str, default_country: str | None = None) -> str | None:
    """'(415) 555-0132' -> '+14155550132'; None when it is not a valid number.

    Read in `region_first` (the row's country), then in the default country, then, for
    '00…', as an international number (00 is the exit code of most of the world).
    """
    text = raw.strip()
    for region in dict.fromkeys(r for r in (region_first, default_country) if r):
        found = _valid_e164(text, region)
        if found:
            return found
    digits = text.replace(" ", "").replace("-", "").replace(".", "")
    return _valid_e164("+" + digits[2:], None) if digits.startswith("00") else None


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
