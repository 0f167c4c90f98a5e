"""Judge an identity resolution against the ground truth.

Pairwise scores over identifiers: two identifiers form a true pair when one person owns
both, a predicted pair when one profile holds both. Pairs are counted from the
person x profile contingency table (sum of n choose 2), never enumerated, and the join
runs in DuckDB so a million people's identifiers score in seconds. Ambiguous identifiers
(shared devices, household emails, placeholders) have no single owner and are left out;
a true identifier the resolution does not contain counts as a profile of its own, so
dropping identifiers costs recall.

Linkable recall counts only the true pairs some chain of records ties together (the truth's
`link_group`, which only the generator knows): a device that only ever browsed cannot be
joined to its person by any resolver, so recall over every pair mixes the resolver's misses
with what the data cannot tell; linkable recall is the resolver's part alone. The recall
ceiling (linkable pairs / true pairs) is what plain recall would be for a resolver that joins
every chain of records and guesses nothing: how far plain recall can go on this world.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sources.synthetic.files import existing
from sources.synthetic.normalize import normalize_phone

RESOLVED_COLUMNS = ("profile_id", "id_type", "id_value")
TRUTH_COLUMNS = ("{id_type: 'VARCHAR', id_value: 'VARCHAR', person_id: 'VARCHAR', ambiguous: 'BOOLEAN', "
                 "link_group: 'INTEGER'}")


class ScoringError(ValueError):
    """Input that cannot be scored, phrased for the person running the scorer."""


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    identifiers_scored: int
    identifiers_missing: int
    people: int
    profiles: int
    over_merged_people: int
    split_people: int
    worst_over_merged: list[dict[str, Any]] = field(default_factory=list)
    worst_split: list[dict[str, Any]] = field(default_factory=list)
    linkable_recall: float | None = None  # None when the truth predates link groups
    linkable_pairs: int = 0
    correct_linkable_pairs: int = 0
    # the recall a resolver reaches by joining every chain of records and nothing else
    recall_ceiling: float | None = None


def _frame(resolved_rows: Any) -> pl.DataFrame:
    if isinstance(resolved_rows, pl.DataFrame):
        frame = resolved_rows
    else:
        rows = list(resolved_rows) if isinstance(resolved_rows, Iterable) else None
        if rows is None:
            raise ScoringError("resolved rows must be a polars DataFrame or rows of (profile_id, id_type, id_value)")
        if rows and not isinstance(rows[0], dict):
            rows = [dict(zip(RESOLVED_COLUMNS, row)) for row in rows]
        frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in RESOLVED_COLUMNS}) if not rows else pl.DataFrame(rows)
    absent = [c for c in RESOLVED_COLUMNS if c not in frame.columns]
    if absent:
        raise ScoringError(f"resolved identities lack column {absent[0]!r}; need {', '.join(RESOLVED_COLUMNS)}")
    frame = frame.select([pl.col(c).cast(pl.Utf8) for c in RESOLVED_COLUMNS]).drop_nulls()
    value = pl.col("id_value").str.strip_chars()
    phones = frame.filter(pl.col("id_type") == "phone")["id_value"].unique().to_list()
    phone_map = {raw: normalize_phone(raw) or raw.strip() for raw in phones}
    return frame.with_columns(
        pl.when(pl.col("id_type") == "email").then(value.str.to_lowercase())
        .when(pl.col("id_type") == "phone").then(pl.col("id_value").replace(phone_map))
        .otherwise(value).alias("id_value"))


def score_identity(resolved_rows: Any, truth_dir: Path | str, worst: int = 10) -> Score:
    """Score rows of (profile_id, id_type, id_value) against `truth_dir`'s identifiers."""
    truth_path = existing(Path(truth_dir) / "truth" / "identifiers.jsonl") or existing(
        Path(truth_dir) / "identifiers.jsonl")
    if truth_path is None:
        raise ScoringError(f"{truth_dir} has no truth/identifiers.jsonl.gz; pass the folder of a generated world")
    resolved = _frame(resolved_rows)  # noqa: F841 - read by DuckDB below
    con = duckdb.connect()
    try:
        con.execute(f"""
            CREATE TEMP TABLE truth AS
            SELECT id_type, id_value, person_id, link_group FROM read_json('{truth_path.as_posix()}', format='newline_delimited',
                columns={TRUTH_COLUMNS})
            WHERE NOT ambiguous""")
        con.execute("""
            CREATE TEMP TABLE cells AS
            WITH chosen AS (SELECT id_type, id_value, min(profile_id) AS profile_id FROM resolved GROUP BY 1, 2)
            SELECT t.person_id, coalesce(c.profile_id, '~missing:' || t.id_type || ':' || t.id_value) AS profile_id,
                   t.link_group, count(*) AS n, bool_or(c.profile_id IS NULL) AS missing
            FROM truth t LEFT JOIN chosen c USING (id_type, id_value)
            GROUP BY 1, 2, 3""")
        (correct, scored, missing) = con.execute(
            "SELECT coalesce(sum(n * (n - 1) // 2), 0), coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE missing), 0) "
            "FROM (SELECT sum(n) AS n, bool_or(missing) AS missing FROM cells GROUP BY person_id, profile_id)"
        ).fetchone()
        (predicted, profiles) = con.execute(
            "SELECT coalesce(sum(a * (a - 1) // 2), 0), count(*) FROM (SELECT sum(n) AS a FROM cells GROUP BY profile_id)"
        ).fetchone()
        (actual, people) = con.execute(
            "SELECT coalesce(sum(b * (b - 1) // 2), 0), count(*) FROM (SELECT sum(n) AS b FROM cells GROUP BY person_id)"
        ).fetchone()
        (linkable, correct_linkable, grouped) = con.execute("""
            SELECT coalesce(sum(g * (g - 1) // 2), 0), coalesce(sum(c), 0), count(*) FROM (
                SELECT sum(n) AS g, sum(c) AS c FROM (
                    SELECT person_id, link_group, sum(n) * (sum(n) - 1) // 2 AS c, sum(n) AS n FROM cells
                    WHERE link_group IS NOT NULL GROUP BY person_id, link_group, profile_id)
                GROUP BY person_id, link_group)""").fetchone()
        over_merged = con.execute("""
            SELECT count(DISTINCT person_id) FROM cells WHERE profile_id IN
            (SELECT profile_id FROM cells GROUP BY 1 HAVING count(DISTINCT person_id) > 1)""").fetchone()[0]
        split = con.execute(
            "SELECT count(*) FROM (SELECT person_id FROM cells GROUP BY 1 HAVING count(DISTINCT profile_id) > 1)"
        ).fetchone()[0]
        worst_merged = con.execute(f"""
            SELECT profile_id, count(DISTINCT person_id) AS people, sum(n) AS identifiers FROM cells
            GROUP BY 1 HAVING count(DISTINCT person_id) > 1 ORDER BY people DESC, identifiers DESC, profile_id
            LIMIT {int(worst)}""").fetchall()
        worst_split = con.execute(f"""
            SELECT person_id, count(DISTINCT profile_id) AS profiles, sum(n) AS identifiers FROM cells
            GROUP BY 1 HAVING count(DISTINCT profile_id) > 1 ORDER BY profiles DESC, identifiers DESC, person_id
            LIMIT {int(worst)}""").fetchall()
    finally:
        con.close()
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision=precision, recall=recall, f1=f1, true_pairs=int(actual), predicted_pairs=int(predicted),
                 correct_pairs=int(correct), identifiers_scored=int(scored), identifiers_missing=int(missing),
                 people=int(people), profiles=int(profiles), over_merged_people=int(over_merged),
                 split_people=int(split),
                 worst_over_merged=[{"profile_id": p, "people": n, "identifiers": i} for p, n, i in worst_merged],
                 worst_split=[{"person_id": p, "profiles": n, "identifiers": i} for p, n, i in worst_split],
                 linkable_recall=(correct_linkable / linkable if linkable else 1.0) if grouped else None,
                 linkable_pairs=int(linkable), correct_linkable_pairs=int(correct_linkable),
                 recall_ceiling=(linkable / actual if actual else 1.0) if grouped else None)


def truth_resolution(world_dir: Path | str) -> pl.DataFrame:
    """A perfect resolution (one profile per person, ambiguous identifiers left out): a baseline."""
    path = existing(Path(world_dir) / "truth" / "identifiers.jsonl")
    if path is None:
        raise ScoringError(f"{world_dir} has no truth/identifiers.jsonl.gz; pass the folder of a generated world")
    with duckdb.connect() as con:
        return con.execute(f"""
            SELECT person_id AS profile_id, id_type, id_value FROM read_json('{path.as_posix()}',
                format='newline_delimited', columns={TRUTH_COLUMNS})
            WHERE NOT ambiguous ORDER BY person_id, id_type, id_value""").pl()
