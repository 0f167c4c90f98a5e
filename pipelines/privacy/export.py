"""`headwater privacy export IDENTIFIER`: everything held about a person, as one JSON document.

Why built from the same matches as deletion: an access request must show exactly what a
deletion would remove. The well-known tables get their own keys (profile, identities,
audience memberships, consent history, what each sync sent); every other matched table
appears under `tables` as `schema.table`, so nothing held is left out of the answer.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse
from pipelines.privacy.matching import find_person_rows
from pipelines.privacy.person import resolve
from pipelines.privacy.store import REQUESTS, Session, now, privacy_session, quote

NAMED_TABLES = {("cdp", "profiles"): "profile", ("cdp", "profile_identities"): "identities",
                ("cdp", "audience_members"): "audience_memberships", ("cdp", "consent_history"): "consent_history"}


def _json_safe(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _rows(session: Session, table: tuple[str, str], where: tuple[str, list]) -> list[dict[str, Any]]:
    sql, params = where
    rows = session.run(f"SELECT * FROM {quote(table[0])}.{quote(table[1])} WHERE {sql}", params)
    return [{k: _json_safe(v) for k, v in row.items()} for row in rows]


def export_person(config: HeadwaterConfig, identifiers: list[str], requested_by: str = "cli") -> dict[str, Any]:
    warehouse = Warehouse(config.warehouse)
    with privacy_session(warehouse) as session:
        person = resolve(session, identifiers, config.identity.default_country)
        matches = find_person_rows(session, person)
        document: dict[str, Any] = {
            "exported_at": now().isoformat() + "Z", "asked_for": identifiers,
            "profile_ids": sorted(person.profile_ids), "profile": [], "identities": [],
            "audience_memberships": [], "consent_history": [], "sent_to_destinations": {}, "tables": {}}
        for table, where in matches.found():
            rows = _rows(session, table, where)
            if table in NAMED_TABLES:
                document[NAMED_TABLES[table]] = rows
            elif table[0] == "headwater_sync" and table[1].startswith("delivered__"):
                document["sent_to_destinations"][table[1][len("delivered__"):]] = rows
            elif table[0] == "headwater_sync" or table[1].startswith("_dlt"):
                continue  # the sync engine's working copies repeat delivered__ rows
            else:
                document["tables"][f"{table[0]}.{table[1]}"] = rows
        request_id = uuid.uuid4().hex
        session.run(f"INSERT INTO {REQUESTS} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [request_id, "export", requested_by, now(), "succeeded", ",".join(sorted(person.profile_ids)),
                     orjson.dumps(sorted(person.hashes())).decode(), None, sum(matches.counts.values()), 0,
                     now(), ""])
        session.commit()
        document["request_id"] = request_id
    return document


def write_export(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
