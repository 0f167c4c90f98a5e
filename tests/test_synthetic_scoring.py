"""score_identity: pairwise precision/recall/F1 from contingency counts, checked against
brute-force pair enumeration, and the score-identity command over files and warehouses."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from headwater.cli import cli
from sources.synthetic import generate_world
from sources.synthetic.scoring import score_identity, truth_resolution
from sources.synthetic.truth import iter_truth

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scoring-world")
    generate_world(out, 80, seed=13, end=END, rates={"shared_device": 0.1, "household_email": 0.1})
    return out


def _brute_force(resolved: pl.DataFrame, world: Path) -> tuple[float, float]:
    """Enumerate every pair of scored identifiers: the slow, obvious definition."""
    owner = {(r["id_type"], r["id_value"]): r["person_id"] for r in iter_truth(world, "identifiers") if not r["ambiguous"]}
    profile = {}
    for row in resolved.iter_rows(named=True):
        profile.setdefault((row["id_type"], row["id_value"]), row["profile_id"])
    keys = sorted(owner)
    assigned = {k: profile.get(k, ("missing", k)) for k in keys}
    true_pairs = predicted = correct = 0
    for a, b in itertools.combinations(keys, 2):
        same_person, same_profile = owner[a] == owner[b], assigned[a] == assigned[b]
        true_pairs += same_person
        predicted += same_profile
        correct += same_person and same_profile
    return correct / predicted, correct / true_pairs


def test_perfect_resolution_scores_one(world):
    score = score_identity(truth_resolution(world), world)
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)
    assert score.over_merged_people == 0 and score.split_people == 0 and score.identifiers_missing == 0


def test_merging_through_a_shared_device_lowers_precision(world):
    """A naive resolver that also links people through ambiguous identifiers over-merges them."""
    truth = list(iter_truth(world, "identifiers"))
    merged_pairs = [row["person_ids"] for row in truth if row["reason"] in ("shared_device", "household_email")]
    assert merged_pairs
    rename = {pair[1]: pair[0] for pair in merged_pairs}
    resolved = truth_resolution(world).with_columns(pl.col("profile_id").replace(rename))
    score = score_identity(resolved, world)
    assert score.precision < 1.0 and score.recall == 1.0
    assert score.over_merged_people == 2 * len(rename)
    assert score.worst_over_merged and score.worst_over_merged[0]["people"] == 2
    assert (score.precision, score.recall) == pytest.approx(_brute_force(resolved, world))


def test_splitting_people_by_device_lowers_recall(world):
    resolved = truth_resolution(world).with_columns(
        pl.when(pl.col("id_type") == "anonymous_id").then(pl.col("id_value")).otherwise(pl.col("profile_id"))
        .alias("profile_id"))
    score = score_identity(resolved, world)
    assert score.precision == 1.0 and score.recall < 1.0 and score.split_people > 0
    assert (score.precision, score.recall) == pytest.approx(_brute_force(resolved, world))


def test_identifiers_missing_from_the_resolution_cost_recall(world):
    resolved = truth_resolution(world).filter(pl.col("id_type") != "email")
    score = score_identity(resolved, world)
    assert score.identifiers_missing > 0 and score.recall < 1.0
    assert (score.precision, score.recall) == pytest.approx(_brute_force(resolved, world))


def test_resolved_values_are_normalized_before_matching(world):
    perfect = truth_resolution(world)
    messy = perfect.with_columns(
        pl.when(pl.col("id_type") == "email").then(pl.lit("  ") + pl.col("id_value").str.to_uppercase())
        .otherwise(pl.col("id_value")).alias("id_value"))
    assert score_identity(messy, world).f1 == 1.0


def test_score_identity_command_reads_a_csv_file(world, tmp_path):
    path = tmp_path / "resolved.csv"
    truth_resolution(world).write_csv(path)
    result = CliRunner().invoke(cli, ["score-identity", "--truth", str(world), "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "precision 1.0000  recall 1.0000  F1 1.0000" in result.output


def test_score_identity_command_reads_the_warehouse_table(world, warehouse):
    rows = truth_resolution(world).rows()
    with warehouse.connect() as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE SCHEMA cdp")
        cursor.execute("CREATE TABLE cdp.profile_identities (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR)")
        cursor.executemany("INSERT INTO cdp.profile_identities VALUES (%s, %s, %s)".replace(
            "%s", "?" if warehouse.is_duckdb else "%s"), [(f"x{p[1:]}", t, v) for p, t, v in rows])
        if warehouse.is_duckdb:
            connection.commit()
    result = CliRunner().invoke(cli, ["score-identity", "--truth", str(world), "--warehouse", warehouse.url,
                                      "--worst", "3"])
    assert result.exit_code == 0, result.output
    assert "F1 1.0000" in result.output and "over-merged people 0" in result.output


def test_score_identity_command_names_a_missing_table(world, duckdb_warehouse):
    result = CliRunner().invoke(cli, ["score-identity", "--truth", str(world), "--warehouse", duckdb_warehouse.url])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: --table cdp.profile_identities: no such table")
    assert "Traceback" not in result.output


def _truth_file(folder: Path, rows: list[tuple]) -> Path:
    import orjson

    (folder / "truth").mkdir(parents=True)
    lines = [{"id_type": t, "id_value": v, "person_id": p, "ambiguous": p is None, "reason": None,
              "person_ids": [p] if p else ["A", "B"], "linkable": linkable, "link_group": group}
             for t, v, p, linkable, group in rows]
    (folder / "truth" / "identifiers.jsonl").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return folder


def test_linkable_recall_counts_only_pairs_records_tie_together(tmp_path):
    # A: {user, email, phone} tied by records; a browse-only device alone; a second email
    # and its member id tied only to each other. B: a user and a device. Plus a shared email.
    world = _truth_file(tmp_path, [
        ("user_id", "1", "A", True, 0), ("email", "a@x.io", "A", True, 0), ("phone", "+14155550100", "A", True, 0),
        ("anonymous_id", "dev-a", "A", False, 1),
        ("email", "a@work.io", "A", True, 2), ("mailchimp_member_id", "m1", "A", True, 2),
        ("user_id", "2", "B", True, 0), ("anonymous_id", "dev-b", "B", True, 0),
        ("email", "home@x.io", None, False, None)])
    resolved = [("p1", "user_id", "1"), ("p1", "email", "a@x.io"), ("p2", "phone", "+14155550100"),
                ("p3", "anonymous_id", "dev-a"), ("p4", "email", "a@work.io"), ("p4", "mailchimp_member_id", "m1"),
                ("p5", "user_id", "2"), ("p5", "anonymous_id", "dev-b"), ("p1", "email", "home@x.io")]
    score = score_identity(resolved, world)
    # A: 6 identifiers, 15 true pairs; B: 1. Correct: (user, email), (work email, member), B's pair.
    assert (score.true_pairs, score.correct_pairs) == (16, 3)
    # linkable: group 0 of A has 3 pairs, group 2 one, B's group one; the lone device none
    assert (score.linkable_pairs, score.correct_linkable_pairs) == (5, 3)
    assert score.linkable_recall == pytest.approx(3 / 5)
    assert score.recall == pytest.approx(3 / 16)
    assert score.recall_ceiling == pytest.approx(5 / 16)  # every chain joined: A's groups and B's pair


def test_truth_without_link_groups_reports_no_linkable_recall(tmp_path):
    world = _truth_file(tmp_path, [("user_id", "1", "A", True, None), ("email", "a@x.io", "A", True, None)])
    score = score_identity([("p", "user_id", "1"), ("p", "email", "a@x.io")], world)
    assert score.recall == 1.0 and score.linkable_recall is None and score.recall_ceiling is None


def test_generated_truth_links_what_records_tie_and_leaves_browse_only_devices_alone(world):
    rows = [r for r in iter_truth(world, "identifiers") if not r["ambiguous"]]
    assert all(r["link_group"] is None for r in iter_truth(world, "identifiers") if r["ambiguous"])
    alone = {r["id_value"] for r in rows if r["id_type"] == "anonymous_id" and not r["linkable"]}
    assert alone  # devices that only browsed
    from sources.synthetic import iter_events
    for source in ("website", "app"):
        for message in iter_events(world, source):
            if message["anonymousId"] in alone:
                assert "userId" not in message and message["type"] != "identify"
                assert "mc_eid" not in (message["context"].get("page") or {}).get("search", "")
    # a user id and every device it was sent from share one link group
    group = {(r["id_type"], r["id_value"]): (r["person_id"], r["link_group"]) for r in rows}
    for source in ("website", "app"):
        for message in iter_events(world, source):
            user, device = ("user_id", message.get("userId")), ("anonymous_id", message["anonymousId"])
            if user in group and device in group:
                assert group[user] == group[device]
    # the truth's own resolution scores one either way
    score = score_identity(truth_resolution(world), world)
    assert score.linkable_recall == 1.0 and score.recall == 1.0
    # a resolver joining every chain of records and nothing else reaches the ceiling, below 1 here
    by_chain = [(f"{r['person_id']}/{r['link_group']}", r["id_type"], r["id_value"]) for r in rows]
    chained = score_identity(by_chain, world)
    assert chained.precision == 1.0 and chained.linkable_recall == 1.0
    assert chained.recall == pytest.approx(chained.recall_ceiling) and chained.recall_ceiling < 1.0
