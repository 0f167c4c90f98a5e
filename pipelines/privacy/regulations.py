"""Run a privacy request end to end: suppress, unsuppress, or delete (suppress_with_delete).

Why this order for a deletion: first the suppression file and the spool's tombstones (so
nothing new about the person gets in while we work), then what the destinations need is
captured and sealed (the warehouse is about to forget it), then the warehouse rows, the
archived spool files and the compaction, then the destinations. Every step leaves a row in
`cdp.privacy_request_steps`; the request's status is `succeeded` only when all did, and
failed destination steps are retried by `headwater privacy retry` with the sealed identifiers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from headwater.config import ConfigError, HeadwaterConfig
from headwater.suppression import write_suppression_file
from headwater.warehouse import Warehouse
from pipelines.load_packages import remove_loaded_packages
from pipelines.privacy import vault
from pipelines.privacy.compaction import CompactionError
from pipelines.privacy.erase import ErasureReport, compact_after, erase_person
from pipelines.privacy.person import Person, resolve
from pipelines.privacy.spool_erase import add_tombstones, rewrite_archive, tombstones
from pipelines.privacy.store import INBOX, REQUESTS, STEPS, SUPPRESSIONS, Session, now, privacy_session

REGULATIONS = ("suppress", "unsuppress", "suppress_with_delete")


class PrivacyError(Exception):
    """A request that cannot run as asked; the message says why and what to do."""


@dataclass
class RequestReport:
    request_id: str
    regulation: str
    status: str = "succeeded"
    profile_ids: list[str] = field(default_factory=list)
    rows_deleted: int = 0
    steps: list[tuple[str, str, str, str]] = field(default_factory=list)   # step, target, status, detail

    def line(self) -> str:
        failed = [s for s in self.steps if s[2] == "failed"]
        return (f"{self.regulation} {self.request_id}: {self.status}; profiles {len(self.profile_ids)}, "
                f"rows deleted {self.rows_deleted}, steps {len(self.steps)}"
                + (f", {len(failed)} failed ({', '.join(s[1] for s in failed)})" if failed else ""))


def _step(session: Session, report: RequestReport, step: str, target: str, status: str, rows: int = 0,
          attempts: int = 1, detail: str = "") -> None:
    session.record_step(report.request_id, step, target, status, rows, attempts, detail)
    report.steps.append((step, target, status, detail))


def write_suppressions(session: Session, config: HeadwaterConfig) -> int:
    """The suppression file is every active suppression, rewritten whole (atomically)."""
    hashes = {row["identifier_hash"] for row in session.run(
        f"SELECT DISTINCT identifier_hash FROM {SUPPRESSIONS} WHERE active")}
    write_suppression_file(Path(config.privacy.suppression_file), hashes)
    return len(hashes)


def _record_request(session: Session, report: RequestReport, requested_by: str, person: Person,
                    sealed: str | None) -> None:
    session.run(f"DELETE FROM {REQUESTS} WHERE request_id = %s", [report.request_id])
    session.run(f"INSERT INTO {REQUESTS} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [report.request_id, report.regulation, requested_by, now(), "running",
                 ",".join(sorted(person.profile_ids)), orjson.dumps(sorted(person.hashes())).decode(), sealed,
                 0, 0, None, ""])
    session.commit()


def _finish(session: Session, report: RequestReport, rows_found: int) -> None:
    failed = [s for s in report.steps if s[2] == "failed"]
    report.status = "pending" if failed else "succeeded"
    clear = "" if failed else ", identifiers_encrypted = NULL"
    session.run(f"UPDATE {REQUESTS} SET status = %s, rows_found = %s, rows_deleted = %s, finished_at = %s, "
                f"message = %s{clear} WHERE request_id = %s",
                [report.status, rows_found, report.rows_deleted, now(),
                 f"{len(failed)} step(s) failed; run `headwater privacy retry {report.request_id}`" if failed else "",
                 report.request_id])
    session.commit()


def submit(config: HeadwaterConfig, regulation: str, identifiers: list[str], *, requested_by: str = "cli",
           request_id: str | None = None, timing=None) -> RequestReport:
    if regulation not in REGULATIONS:
        raise PrivacyError(f"regulation {regulation!r} is not one of {', '.join(REGULATIONS)}")
    identifiers = [value for value in identifiers if value and value.strip()]
    if not identifiers:
        raise PrivacyError("give at least one identifier (a userId, anonymousId, email or phone)")
    report = RequestReport(request_id or uuid.uuid4().hex, regulation)
    warehouse = Warehouse(config.warehouse)
    with privacy_session(warehouse) as session:
        person = resolve(session, identifiers, config.identity.default_country)
        report.profile_ids = sorted(person.profile_ids)
        if regulation == "unsuppress":
            return _unsuppress(session, config, report, person, requested_by)
        targets = _capture(session, config, person) if regulation == "suppress_with_delete" else []
        sealed = vault.seal(config, {"targets": targets}) if targets else None
        _record_request(session, report, requested_by, person, sealed)
        hashes = person.hashes()
        session.insert_many(f"INSERT INTO {SUPPRESSIONS} VALUES (%s, %s, %s, %s, %s)",
                            [(report.request_id, h, regulation, True, now()) for h in sorted(hashes)])
        session.commit()
        listed = write_suppressions(session, config)
        _step(session, report, "suppress", "collect suppression file", "succeeded", len(hashes),
              detail=f"{listed} hashes listed")
        if regulation == "suppress":
            _finish(session, report, 0)
            return report
        spool_dir = Path(config.collect.spool_dir)
        added = add_tombstones(spool_dir, hashes)
        _step(session, report, "tombstone", "spool (unloaded files)", "succeeded", added)
        matches, erased = erase_person(session, person)
        for (schema, table), rows in sorted(erased.deleted.items()):
            _step(session, report, "delete", f"{schema}.{table}", "succeeded", rows)
        report.rows_deleted = erased.rows
        files, messages = rewrite_archive(spool_dir, tombstones(spool_dir))
        _step(session, report, "delete", "spool archive", "succeeded", messages, detail=f"{files} file(s) rewritten")
        packages = remove_loaded_packages(warehouse.dlt_working_dir())
        _step(session, report, "delete", "dlt working folder", "succeeded", packages,
              detail=f"{packages} loaded package(s) removed")
        rows_found = sum(matches.counts.values())
    _compact(config, warehouse, report, erased)
    _propagate(config, warehouse, report, targets, timing)
    with privacy_session(warehouse) as session:
        _finish(session, report, rows_found)
    return report


def _compact(config: HeadwaterConfig, warehouse: Warehouse, report: RequestReport, erased: ErasureReport) -> None:
    status = "succeeded"
    try:
        compact_after(warehouse, erased)
    except CompactionError as error:
        status, erased.compaction = "failed", str(error)
    with privacy_session(warehouse) as session:
        _step(session, report, "compact", warehouse.dialect, status, len(erased.deleted), detail=erased.compaction)


def _capture(session: Session, config: HeadwaterConfig, person: Person) -> list[dict[str, Any]]:
    if not config.destinations:
        return []
    from destinations.deletion import capture_targets, delivered_tables

    people = {"user_ids": person.values_of("user_id"), "anonymous_ids": person.values_of("anonymous_id"),
              "emails": person.values_of("email"), "phones": person.values_of("phone"),
              "profile_ids": sorted(person.profile_ids)}   # what syncs sent as distinct_id / user_id
    targets = capture_targets(config.destinations, config.syncs, person.profile_ids, people, session.run,
                              delivered_tables(session.run))
    if targets and config.privacy.encryption_key is None:
        raise ConfigError(vault.KEY_HINT)
    return targets


def _propagate(config: HeadwaterConfig, warehouse: Warehouse, report: RequestReport,
               targets: list[dict[str, Any]], timing=None) -> None:
    if not targets:
        return
    from destinations.deletion import send_deletion, target_name

    entries = {entry.name: entry for entry in config.destinations}
    for target in targets:
        entry = entries.get(target["destination"])
        if entry is None:
            outcome_status, attempts, detail = "failed", 0, "destination no longer configured"
        else:
            outcome = send_deletion(entry, config.syncs, target, timing=timing)
            outcome_status, attempts, detail = outcome.status, outcome.attempts, outcome.detail
        with privacy_session(warehouse) as session:
            _step(session, report, "destination", target_name(target), outcome_status,
                  len(target.get("rows") or [1]), attempts, detail)


def retry(config: HeadwaterConfig, request_id: str, timing=None) -> RequestReport:
    """Re-send the failed destination steps of a pending deletion, with its sealed identifiers."""
    warehouse = Warehouse(config.warehouse)
    with privacy_session(warehouse) as session:
        rows = session.run(f"SELECT * FROM {REQUESTS} WHERE request_id = %s", [request_id])
        if not rows:
            raise PrivacyError(f"no privacy request {request_id!r}; list them with `headwater privacy list`")
        request = rows[0]
        report = RequestReport(request_id, request["regulation"], profile_ids=(request["profile_ids"] or "").split(","))
        report.rows_deleted = int(request["rows_deleted"] or 0)
        steps = session.run(f"SELECT step, target, status, detail FROM {STEPS} WHERE request_id = %s", [request_id])
        report.steps = [(s["step"], s["target"], s["status"], s["detail"]) for s in steps]
        rows_found = int(request["rows_found"] or 0)
        if request["status"] == "succeeded" or not request["identifiers_encrypted"]:
            return report
        targets = vault.unseal(config, request["identifiers_encrypted"])["targets"]
    from destinations.deletion import target_name

    failed = {s[1] for s in report.steps if s[0] == "destination" and s[2] == "failed"}
    report.steps = [s for s in report.steps if not (s[0] == "destination" and s[1] in failed)]
    _propagate(config, warehouse, report, [t for t in targets if target_name(t) in failed], timing)
    with privacy_session(warehouse) as session:
        _finish(session, report, rows_found)
    return report


def _unsuppress(session: Session, config: HeadwaterConfig, report: RequestReport, person: Person,
                requested_by: str) -> RequestReport:
    hashes = sorted(person.hashes())
    marks = ", ".join(["%s"] * len(hashes))
    deleted = session.run(f"SELECT DISTINCT request_id FROM {SUPPRESSIONS} WHERE active AND regulation = "
                          f"'suppress_with_delete' AND identifier_hash IN ({marks})", hashes)
    if deleted:
        raise PrivacyError(f"this person was deleted (request {deleted[0]['request_id']}); a deletion keeps them "
                           f"suppressed for good, only suppress-only requests can be undone")
    _record_request(session, report, requested_by, person, None)
    found = session.run(f"SELECT COUNT(*) AS n FROM {SUPPRESSIONS} WHERE active AND identifier_hash IN ({marks})",
                        hashes)[0]["n"]
    session.run(f"UPDATE {SUPPRESSIONS} SET active = FALSE WHERE active AND regulation = 'suppress' "
                f"AND identifier_hash IN ({marks})", hashes)
    session.commit()
    listed = write_suppressions(session, config)
    _step(session, report, "unsuppress", "collect suppression file", "succeeded", int(found),
          detail=f"{listed} hashes listed")
    _finish(session, report, 0)
    return report


def process_inbox(config: HeadwaterConfig, timing=None) -> list[RequestReport]:
    """Run the regulations received over HTTP (spooled, then loaded into headwater.privacy_inbox)."""
    warehouse = Warehouse(config.warehouse)
    with privacy_session(warehouse) as session:
        pending = session.run(f"SELECT * FROM {INBOX} ORDER BY received_at, request_id")
    reports = []
    for row in pending:
        users = orjson.loads(row["users"])
        for index, user in enumerate(users):
            request_id = row["request_id"] if len(users) == 1 else f"{row['request_id']}-{index + 1}"
            values = [v for k, v in user.items() if k in ("userId", "anonymousId", "email", "phone") and v]
            reports.append(submit(config, row["regulation"], values, requested_by=row["requested_by"] or "http",
                                  request_id=request_id, timing=timing))
        with privacy_session(warehouse) as session:
            session.run(f"DELETE FROM {INBOX} WHERE request_id = %s", [row["request_id"]])
            session.commit()
    return reports
