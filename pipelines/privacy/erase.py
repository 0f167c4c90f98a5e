"""Delete every row about a person from the warehouse, then compact so the rows leave the disk.

Why one pass over `find_person_rows`: the same rules decide what an access export shows
and what a deletion removes, so "what we told them we hold" and "what we deleted" cannot
drift apart. Raw source schemas, dlt's staging copies, `cdp.*`, `cdp_staging.*`,
quarantine tables and sync state (`headwater_sync.*`, `cdp.sync_errors`) are all tables,
so all are covered. The counts per table become the request's audit steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.warehouse import Warehouse
from pipelines.privacy.matching import Matches, find_person_rows
from pipelines.privacy.person import Person
from pipelines.privacy.compaction import compact
from pipelines.privacy.store import Session, quote


@dataclass
class ErasureReport:
    deleted: dict[tuple[str, str], int] = field(default_factory=dict)
    compaction: str = ""

    @property
    def rows(self) -> int:
        return sum(self.deleted.values())


def erase_person(session: Session, person: Person) -> tuple[Matches, ErasureReport]:
    matches = find_person_rows(session, person)
    report = ErasureReport()
    for table, (sql, params) in matches.found():
        session.run(f"DELETE FROM {quote(table[0])}.{quote(table[1])} WHERE {sql}", params)
        report.deleted[table] = matches.counts[table]
    session.commit()
    return matches, report


def compact_after(warehouse: Warehouse, report: ErasureReport) -> None:
    report.compaction = compact(warehouse, sorted(report.deleted))
