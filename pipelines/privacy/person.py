"""Resolve a request's identifiers to the whole person through the identity graph.

Why the graph: a person asks with the email they remember, but their data is keyed by a
device id, a Stripe customer id, a phone typed three ways. `cdp.profile_identities` gives
every normalized identifier of the profile; `cdp_staging.identifiers` gives every raw
variant ever seen (" Ann@Example.org ", "(650) 555-0100") and the raw rows that carried
them. Without a built graph the request still covers the identifiers it named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers

from headwater.suppression import email_hash, identifier_hash
from pipelines.privacy.store import Session


@dataclass
class Person:
    """Everything that identifies one person in the warehouse."""

    asked: list[str]
    profile_ids: set[str] = field(default_factory=set)
    identifiers: set[tuple[str, str]] = field(default_factory=set)     # (id_type, normalized value)
    raw_values: set[str] = field(default_factory=set)                  # every variant, raw and normalized
    row_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (source, table) -> row ids

    @property
    def emails(self) -> set[str]:
        return {value.strip().lower() for value in self.raw_values if "@" in value}

    def values_of(self, id_type: str) -> list[str]:
        return sorted(value for kind, value in self.identifiers if kind == id_type)

    def hashes(self) -> set[str]:
        """Every hash the collect endpoint or the loader could compute from this person's messages."""
        hashes: set[str] = set()
        for value in self.raw_values:
            hashes.add(identifier_hash(value))
            hashes.add(identifier_hash(value.strip()))
            if "@" in value:
                hashes.add(email_hash(value))
        return hashes


def candidates(value: str, default_country: str) -> set[str]:
    """The normalized forms an asked-for value may take in the graph."""
    forms = {value, value.strip(), value.strip().lower()}
    try:
        number = phonenumbers.parse(value.strip(), default_country)
        if phonenumbers.is_valid_number(number):
            forms.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    return {form for form in forms if form}


def _in(values: set[str] | list[str]) -> tuple[str, list[str]]:
    values = sorted(values)
    return ", ".join(["%s"] * len(values)), values


def resolve(session: Session, asked: list[str], default_country: str = "US") -> Person:
    person = Person(list(asked))
    wanted: set[str] = set()
    for value in asked:
        wanted |= candidates(value, default_country)
    person.raw_values |= wanted
    if session.exists("cdp", "profile_identities"):
        marks, params = _in(wanted)
        person.profile_ids = {row["profile_id"] for row in session.run(
            f"SELECT DISTINCT CAST(profile_id AS VARCHAR) AS profile_id FROM cdp.profile_identities "
            f"WHERE id_value IN ({marks})", params)}
        if person.profile_ids:
            marks, params = _in(person.profile_ids)
            person.identifiers = {(row["id_type"], row["id_value"]) for row in session.run(
                f"SELECT DISTINCT id_type, id_value FROM cdp.profile_identities "
                f"WHERE CAST(profile_id AS VARCHAR) IN ({marks})", params)}
    normalized = {value for _, value in person.identifiers} | wanted
    person.raw_values |= normalized
    if session.exists("cdp_staging", "identifiers"):
        marks, params = _in(normalized)
        for row in session.run(
                f"SELECT DISTINCT id_type, raw_value, id_value, source, source_table, row_id "
                f"FROM cdp_staging.identifiers WHERE id_value IN ({marks}) OR raw_value IN ({marks})",
                params + params):
            if person.identifiers and (row["id_type"], row["id_value"]) not in person.identifiers \
                    and row["raw_value"] not in wanted:
                continue
            person.raw_values.add(row["raw_value"])
            if row["row_id"] is not None:
                person.row_ids.setdefault((row["source"], row["source_table"]), set()).add(str(row["row_id"]))
    person.raw_values = {value for value in person.raw_values if value and value.strip()}
    return person
