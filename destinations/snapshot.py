"""Turn a sync's source into `headwater_sync.snapshot__S`: consented rows, mapped, fingerprinted.

Why SQL: consent filtering, mapping and the fingerprint (an md5 over the mapped values
and the sync's settings) all run in the warehouse, so an unchanged million-row audience
costs one scan and no Python. Every mapped column is checked against the source table
first, so a typo is a precise error naming the mapping field, not a SQL stack trace.
People a privacy request suppressed or deleted count as having withdrawn consent: any of their
identifiers (cdp.profile_identities) hashes to an active cdp.privacy_suppressions row. So the
next run removes them from the vendor even before the models are rebuilt.
Imports destinations.state and destinations.config.
"""

from __future__ import annotations

import hashlib
import json

from destinations.config import SyncConfig
from destinations.state import CONSENTED, SCHEMA, SqlSession, literal, quote, table

PROFILES = ("cdp", "profiles")
SUPPRESSIONS = ("cdp", "privacy_suppressions")
IDENTITIES = ("cdp", "profile_identities")
AUDIENCE_MEMBERS = ("cdp", "audience_members")
DEFAULT_KEYS = ("conversion_id", "profile_id", "id")


class SyncDefinitionError(Exception):
    """The sync's source, mapping or consent cannot be resolved; the message says how to fix it."""


def _split(name: str) -> tuple[str, str]:
    schema, _, table_name = name.rpartition(".")
    return (schema or "cdp"), table_name


def build_snapshot(session: SqlSession, sync: SyncConfig, mapping: dict[str, str], consent: str,
                   settings_digest: str) -> None:
    """(Re)create snapshot__S for this run."""
    select = snapshot_select(session, sync, mapping, consent, settings_digest)
    session.run(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    session.replace_table_as(table("snapshot", sync.name), select)
    session.commit()


def snapshot_select(session: SqlSession, sync: SyncConfig, mapping: dict[str, str], consent: str,
                    settings_digest: str) -> str:
    if sync.source.audience is not None:
        return _audience_select(session, sync, mapping, consent, settings_digest)
    return _model_select(session, sync, mapping, consent, settings_digest)


def _require_table(session: SqlSession, schema: str, name: str, what: str) -> list[str]:
    columns = session.columns(schema, name)
    if not columns:
        raise SyncDefinitionError(f"{what}: table {schema}.{name} does not exist in the warehouse; build the models first")
    return columns


def _fingerprint(expressions: list[str], settings_digest: str) -> str:
    parts = [literal(settings_digest)] + [f"COALESCE(CAST({e} AS VARCHAR), '~')" for e in expressions]
    return f"md5(concat_ws('|', {', '.join(parts)}))"


def _mapped(mapping: dict[str, str], resolve, explicit: dict[str, str]) -> list[tuple[str, str]]:
    """Resolve each field's column; a *default* mapping whose column this warehouse lacks (no
    `city` trait collected, say) sends the field empty, while a column the user named must exist."""
    fields = []
    for field, column in mapping.items():
        try:
            fields.append((field, resolve(field, column)))
        except SyncDefinitionError:
            if field in explicit:
                raise
            fields.append((field, "CAST(NULL AS VARCHAR)"))
    return fields


def _audience_select(session, sync, mapping, consent, digest) -> str:
    profile_columns = _require_table(session, *PROFILES, f"sync {sync.name}")
    member_columns = _require_table(session, *AUDIENCE_MEMBERS, f"sync {sync.name}")

    def resolve(field: str, column: str) -> str:
        if column in profile_columns:
            return f"p.{quote(column)}"
        if column in member_columns:
            return f"m.{quote(column)}"
        raise SyncDefinitionError(
            f"sync {sync.name}: mapping.{field}: column {column!r} is in neither cdp.profiles nor "
            f"cdp.audience_members; use one of: {', '.join(profile_columns)}")

    fields = _mapped(mapping, resolve, sync.mapping)
    consented = "TRUE"
    if consent != "none":
        consented = _consent_condition(profile_columns, "p", consent, sync.name, "cdp.profiles")
    consented += _not_suppressed(session, "p.profile_id")
    select_list = ", ".join(_leading_columns("p.profile_id", consented, fields, digest)
                            + [f"{expr} AS {quote(field)}" for field, expr in fields])
    return (f"SELECT {select_list} FROM cdp.audience_members m JOIN cdp.profiles p "
            f"ON p.profile_id = m.profile_id WHERE m.audience = {literal(sync.source.audience)}")


def _model_select(session, sync, mapping, consent, digest) -> str:
    schema, name = _split(sync.source.model)
    columns = _require_table(session, schema, name, f"sync {sync.name}: source.model")
    key = sync.key or next((k for k in DEFAULT_KEYS if k in columns), None)
    if key is None or key not in columns:
        raise SyncDefinitionError(
            f"sync {sync.name}: key: {sync.source.model} has no column {key or 'conversion_id/profile_id/id'}; "
            f"set key to the column that identifies a row")

    def resolve(field: str, column: str) -> str:
        if column not in columns:
            raise SyncDefinitionError(
                f"sync {sync.name}: mapping.{field}: column {column!r} is not in {schema}.{name}; "
                f"use one of: {', '.join(columns)}")
        return f"t.{quote(column)}"

    fields = _mapped(mapping, resolve, sync.mapping)
    join, consented = "", "TRUE"
    if consent != "none":
        if f"consent_{consent}" in columns:
            consented = _consent_condition(columns, "t", consent, sync.name, f"{schema}.{name}")
        elif "profile_id" in columns:
            profile_columns = _require_table(session, *PROFILES, f"sync {sync.name}: consent")
            join = " LEFT JOIN cdp.profiles p ON p.profile_id = t.profile_id"
            consented = _consent_condition(profile_columns, "p", consent, sync.name, "cdp.profiles")
        else:
            raise SyncDefinitionError(
                f"sync {sync.name}: consent: {schema}.{name} has neither consent_{consent} nor profile_id to "
                f"check consent by; add profile_id to the model, or set consent: none if it holds no personal data")
    if "profile_id" in columns:
        consented += _not_suppressed(session, "t.profile_id")
    select_list = ", ".join(_leading_columns(f"t.{quote(key)}", consented, fields, digest)
                            + [f"{expr} AS {quote(field)}" for field, expr in fields])
    return f"SELECT {select_list} FROM {quote(schema)}.{quote(name)} t{join}"


def _leading_columns(key: str, consented: str, fields: list[tuple[str, str]], digest: str) -> list[str]:
    """row_key, fingerprint and hw_consented: rows without consent stay in the snapshot (so the
    plan can remove them from the vendor) but are never sent."""
    return [f"CAST({key} AS VARCHAR) AS row_key", f"{_fingerprint([e for _, e in fields], digest)} AS fingerprint",
            f"({consented}) AS {CONSENTED}"]


def _sha256_hex(session: SqlSession, expression: str) -> str:
    if session.dialect == "duckdb":
        return f"sha256({expression})"
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


def _not_suppressed(session: SqlSession, profile_id: str) -> str:
    """` AND NOT EXISTS (...)` when some person is suppressed; nothing (no cost) otherwise."""
    if not session.columns(*SUPPRESSIONS) or not session.columns(*IDENTITIES) or not session.scalar(
            "SELECT COUNT(*) AS n FROM cdp.privacy_suppressions WHERE active"):
        return ""
    return (f" AND NOT EXISTS (SELECT 1 FROM cdp.profile_identities si WHERE CAST(si.profile_id AS VARCHAR) = "
            f"CAST({profile_id} AS VARCHAR) AND {_sha256_hex(session, 'si.id_value')} IN "
            f"(SELECT identifier_hash FROM cdp.privacy_suppressions WHERE active))")


def _consent_condition(columns: list[str], alias: str, consent: str, sync_name: str, where: str) -> str:
    column = f"consent_{consent}"
    if column not in columns:
        raise SyncDefinitionError(f"sync {sync_name}: consent: {where} has no column {column}")
    return f"{alias}.{quote(column)} IS TRUE"


def settings_digest(destination_type: str, mapping: dict[str, str], settings: dict) -> str:
    """Changing what is sent (mapping, settings) must resend every row: it is in the fingerprint."""
    text = json.dumps([destination_type, mapping, settings], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
