"""A suppressed person is in no profile, no audience and no sync; unsuppressing brings them back."""

from __future__ import annotations

from destinations.normalize import hashed
from headwater.config import parse_config
from models.build import BuildContext, build_models
from pipelines.privacy.regulations import submit
from pipelines.spool_loader import load_spool
from tests.privacy_world import ANN, BOB, events_for, make_world

ANN_EMAIL = "ann.lee@example.org"


def build_all(world) -> None:
    build_models(BuildContext(world.warehouse, world.config))


def emails_in(warehouse, table: str) -> set[str]:
    return {r["id_value"] for r in warehouse.query(
        f"SELECT i.id_value FROM {table} t JOIN cdp.profile_identities i "
        f"ON i.profile_id = t.profile_id AND i.id_type = 'email'")}


def test_suppressed_person_leaves_profiles_audiences_and_mirror_syncs_until_unsuppressed(warehouse, tmp_path):
    world = make_world(warehouse, tmp_path)
    world.raw["audiences"] = [{"name": "vip", "where": {"trait": "email", "op": "is_set"}}]
    world.raw["traits"] = {"consent_default": {"advertising": True}}
    world.config = parse_config(world.raw)
    meta_ann, meta_bob = hashed("meta", "email", ANN_EMAIL), hashed("meta", "email", BOB["email"])
    tiktok_ann = hashed("tiktok", "email", ANN_EMAIL)
    with world.servers:
        assert world.post(events_for(ANN, "a") + events_for(BOB, "b")).status_code == 200
        load_spool(world.config)
        build_all(world)
        assert emails_in(warehouse, "cdp.profiles") == {ANN_EMAIL, BOB["email"]}
        for name in ("vip_meta", "vip_tiktok"):
            assert world.sync(name).status == "succeeded"
        assert world.meta.members["6001"] == {meta_ann, meta_bob}

        submit(world.config, "suppress", [ANN["user_id"]])
        # before any rebuild: the sync's snapshot already leaves her out, so mirror removes her
        early = world.sync("vip_tiktok")
        assert early.removes == 1 and tiktok_ann not in world.tiktok.members["8001"]

        build_all(world)
        assert emails_in(warehouse, "cdp.profiles") == {BOB["email"]}
        assert emails_in(warehouse, "cdp.audience_members") == {BOB["email"]}
        assert emails_in(warehouse, "cdp.events") == {BOB["email"]}, "her events leave cdp.events too"
        assert warehouse.query("SELECT COUNT(*) AS n FROM cdp.profile_identities WHERE id_value = %s",
                               [ANN["user_id"]])[0]["n"] == 1, "the graph keeps her, so a later delete finds her"
        assert world.sync("vip_meta").removes == 1
        assert world.meta.members["6001"] == {meta_bob}

        submit(world.config, "unsuppress", [ANN_EMAIL])
        build_all(world)
        assert emails_in(warehouse, "cdp.profiles") == {ANN_EMAIL, BOB["email"]}
        assert emails_in(warehouse, "cdp.audience_members") == {ANN_EMAIL, BOB["email"]}
        assert emails_in(warehouse, "cdp.events") == {ANN_EMAIL, BOB["email"]}
        assert world.sync("vip_meta").upserts == 1 and world.sync("vip_tiktok").upserts == 1
    assert world.meta.members["6001"] == {meta_ann, meta_bob}
    assert tiktok_ann in world.tiktok.members["8001"]


def test_the_suppression_file_replacement_flushes_its_folder(tmp_path, monkeypatch):
    """A rename is durable only once the folder is fsync'd: the write must flush it after the replace."""
    import headwater.suppression as suppression

    target = tmp_path / "privacy" / "suppressed.txt"
    flushed = []
    monkeypatch.setattr(suppression, "fsync_path",
                        lambda path: flushed.append((path, suppression.read_suppression_file(target))))
    suppression.write_suppression_file(target, {"a" * 64})
    assert flushed == [(target.parent, frozenset({"a" * 64}))]
