"""The ground truth: which person every record belongs to, and which person every
identifier points to, or that it is ambiguous because several people share it.

Why identifiers are collected per person as they are *observed* in the records (not from
the person model): scoring must only count identifiers that really occur in the data.
Shared identifiers are known by construction (Person.shared); they are gathered in a
small registry and written at the end, so memory stays bounded by the adversarial rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sources.synthetic.files import JsonlWriter, existing, iter_jsonl
from sources.synthetic.normalize import normalize_identifier
from sources.synthetic.people import Person

ID_TYPES = ("user_id", "anonymous_id", "email", "phone", "shopify_customer_id", "stripe_customer_id",
            "mailchimp_member_id")
REASONS = ("shared_device", "household_email", "placeholder", "recycled_phone")


class ObservedIdentifiers:
    """The identifiers one person exposes, normalized like the models normalize them."""

    def __init__(self, person: Person):
        self.person = person
        self.values: dict[tuple[str, str], None] = {}
        self._seen_raw: set[tuple[str, str]] = set()  # every message repeats its ids: normalize once

    def add(self, id_type: str, raw: str | None) -> None:
        if raw is None or raw == "":
            return
        if (id_type, raw) in self._seen_raw:
            return
        self._seen_raw.add((id_type, raw))
        value = normalize_identifier(id_type, raw, self.person.country)
        if value is not None:
            self.values[(id_type, value)] = None


class TruthWriter:
    def __init__(self, folder: Path):
        self.records = JsonlWriter(folder / "records.jsonl", compress=True)
        self.identifiers = JsonlWriter(folder / "identifiers.jsonl", compress=True)
        self._shared: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.ambiguous = 0

    def record(self, kind: str, key: str, person_id: str, **flags) -> None:
        self.records.write({"kind": kind, "key": key, "person_id": person_id, **flags})

    def person_done(self, observed: ObservedIdentifiers) -> None:
        person = observed.person
        for key in observed.values:
            reason = person.shared.get(key)
            if reason is not None:
                entry = self._shared.setdefault(key, (reason, []))
                entry[1].append(person.id)
                continue
            self.identifiers.write({"id_type": key[0], "id_value": key[1], "person_id": person.id,
                                    "ambiguous": False, "reason": None, "person_ids": [person.id]})

    def close(self) -> dict[str, int]:
        for (id_type, value), (reason, person_ids) in sorted(self._shared.items()):
            ambiguous = len(person_ids) > 1 or reason == "placeholder"
            self.ambiguous += ambiguous
            self.identifiers.write({"id_type": id_type, "id_value": value,
                                    "person_id": None if ambiguous else person_ids[0], "ambiguous": ambiguous,
                                    "reason": reason if ambiguous else None, "person_ids": person_ids})
        self.records.close()
        self.identifiers.close()
        return {"records": self.records.count, "identifiers": self.identifiers.count, "ambiguous": self.ambiguous}


def iter_truth(world_dir: Path | str, name: str) -> Iterator[dict]:
    """Rows of `truth/records` or `truth/identifiers`."""
    path = existing(Path(world_dir) / "truth" / f"{name}.jsonl")
    if path is None:
        raise FileNotFoundError(f"{world_dir} has no truth/{name}.jsonl.gz; is it a generated world?")
    yield from iter_jsonl(path)
