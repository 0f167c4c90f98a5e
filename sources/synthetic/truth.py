"""The ground truth: which person every record belongs to, and which person every
identifier points to, or that it is ambiguous because several people share it.

Why identifiers are collected per person as they are *observed* in the records (not from
the person model): scoring must only count identifiers that really occur in the data.
Shared identifiers are known by construction (Person.shared) and shared within a pair of
people, so identifiers are written a pair at a time (placeholders, shared world-wide, at the
end): memory stays bounded by two people and the adversarial rates.

Why linkability: a device that only ever browsed, or an address no record ties to anything
else, cannot be joined to its person by any resolver, so each identifier also carries the
group of its person's identifiers that records tie it to (`link_group`), and `linkable` says
whether that group holds another identifier. Only the generator knows this; scoring recall
over linkable pairs judges a resolver on what the data can tell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from sources.synthetic.files import JsonlWriter, existing, iter_jsonl
from sources.synthetic.normalize import normalize_identifier
from sources.synthetic.people import Person

ID_TYPES = ("user_id", "anonymous_id", "email", "phone", "shopify_customer_id", "stripe_customer_id",
            "mailchimp_member_id")
REASONS = ("shared_device", "household_email", "placeholder", "recycled_phone")


class ObservedIdentifiers:
    """The identifiers one person exposes, normalized like the models normalize them, and which
    of them some record ties together (directly, or through a key two records share, such as
    an order id or a Mailchimp email id)."""

    def __init__(self, person: Person):
        self.person = person
        self.values: dict[tuple[str, str], None] = {}
        self._normalized: dict[tuple[str, str], tuple[str, str] | None] = {}  # every message repeats its ids
        self._together: set[tuple[tuple[str, str], ...]] = set()

    def add(self, id_type: str, raw: str | None) -> tuple[str, str] | None:
        if raw is None or raw == "":
            return None
        raw_key = (id_type, raw)
        if raw_key not in self._normalized:
            value = normalize_identifier(id_type, raw, self.person.country)
            self._normalized[raw_key] = None if value is None else (id_type, value)
        key = self._normalized[raw_key]
        if key is not None:
            self.values[key] = None
        return key

    def record(self, identifiers: Iterable[tuple[str, str | None]], links: Iterable[str] = ()) -> None:
        """One record's identifiers, and the keys (`order:…`, `checkout:…`, `mc_eid:…`) joining it to others."""
        keys = {key for key in (self.add(t, raw) for t, raw in identifiers) if key is not None}
        keys.update((LINK, link) for link in links if link)
        if len(keys) > 1:
            self._together.add(tuple(sorted(keys)))

    def link_groups(self, unusable: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Each identifier's group: identifiers some chain of records ties together share one.

        `unusable` identifiers (ambiguous: shared by people) join nothing, as a resolver that puts
        precision first cannot use them; groups are numbered in order of first observation.
        """
        parent: dict[tuple[str, str], tuple[str, str]] = {}

        def find(key):
            parent.setdefault(key, key)
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        for keys in sorted(self._together):
            usable = [k for k in keys if k not in unusable]
            for other in usable[1:]:
                parent[find(other)] = find(usable[0])
        numbers: dict[tuple[str, str], int] = {}
        groups = {}
        for key in self.values:
            if key not in unusable:
                groups[key] = numbers.setdefault(find(key), len(numbers))
        return groups


LINK = "~link"  # the type of keys that join records without being identifiers


class TruthWriter:
    """Writes records as they come and identifiers per pair of people (2k, 2k+1).

    Why pairs: a shared device, household email or recycled phone is shared only within its
    pair, so once both partners are written it is known which of their identifiers are
    ambiguous, and so which records can tie a person's other identifiers together.
    Placeholders are shared world-wide and always ambiguous; they are written at the end.
    """

    def __init__(self, folder: Path):
        self.records = JsonlWriter(folder / "records.jsonl", compress=True)
        self.identifiers = JsonlWriter(folder / "identifiers.jsonl", compress=True)
        self._placeholders: dict[tuple[str, str], list[str]] = {}
        self._waiting: ObservedIdentifiers | None = None
        self.ambiguous = 0
        self.unlinkable = 0

    def record(self, kind: str, key: str, person_id: str, **flags) -> None:
        self.records.write({"kind": kind, "key": key, "person_id": person_id, **flags})

    def person_done(self, observed: ObservedIdentifiers) -> None:
        if observed.person.index % 2 == 0:
            self._flush()
            self._waiting = observed
            return
        pair = [self._waiting, observed] if self._waiting is not None else [observed]
        self._waiting = None
        self._write_pair(pair)

    def _flush(self) -> None:
        if self._waiting is not None:
            self._write_pair([self._waiting])
            self._waiting = None

    def _write_pair(self, pair: list[ObservedIdentifiers]) -> None:
        seen_by: dict[tuple[str, str], list[str]] = {}
        for observed in pair:
            for key in observed.values:
                if key in observed.person.shared:
                    seen_by.setdefault(key, []).append(observed.person.id)
        placeholders = {key for observed in pair for key, reason in observed.person.shared.items()
                        if reason == "placeholder"}
        ambiguous = {key for key, people in seen_by.items() if len(people) > 1} | placeholders
        for observed in pair:
            person = observed.person
            groups = observed.link_groups(ambiguous)
            sizes = Counter(groups.values())
            for key in observed.values:
                if key in placeholders:
                    self._placeholders.setdefault(key, []).append(person.id)
                    continue
                if key in ambiguous:
                    if person is pair[0].person:  # written once, by the first partner who has it
                        self.ambiguous += 1
                        self._write(key, None, person.shared[key], seen_by[key], None)
                    continue
                group = groups[key]
                self.unlinkable += sizes[group] == 1
                self._write(key, person.id, None, [person.id], group, linkable=sizes[group] > 1)

    def _write(self, key: tuple[str, str], person_id: str | None, reason: str | None, person_ids: list[str],
               group: int | None, linkable: bool = False) -> None:
        self.identifiers.write({"id_type": key[0], "id_value": key[1], "person_id": person_id,
                                "ambiguous": person_id is None, "reason": reason, "person_ids": person_ids,
                                "linkable": linkable, "link_group": group})

    def close(self) -> dict[str, int]:
        self._flush()
        for key, person_ids in sorted(self._placeholders.items()):
            self.ambiguous += 1
            self._write(key, None, "placeholder", person_ids, None)
        self.records.close()
        self.identifiers.close()
        return {"records": self.records.count, "identifiers": self.identifiers.count, "ambiguous": self.ambiguous,
                "unlinkable": self.unlinkable}


def iter_truth(world_dir: Path | str, name: str) -> Iterator[dict]:
    """Rows of `truth/records` or `truth/identifiers`."""
    path = existing(Path(world_dir) / "truth" / f"{name}.jsonl")
    if path is None:
        raise FileNotFoundError(f"{world_dir} has no truth/{name}.jsonl.gz; is it a generated world?")
    yield from iter_jsonl(path)
