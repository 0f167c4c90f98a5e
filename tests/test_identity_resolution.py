"""Identity resolution on both engines, from hand-made raw Segment tables."""

from __future__ import annotations

from tests.identity_world import at, build, config, load_raw, profile_of, profiles, rejections, row


def test_anonymous_user_and_email_links_merge_transitively(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, anonymous_id="dev-1", user_id="u-1"),
        row(2, anonymous_id="dev-2", user_id="u-1", email=" Ann@Example.ORG "),
    ])
    load_raw(warehouse, "web", "tracks", [
        row(3, anonymous_id="dev-3", context_traits_email="ann@example.org"),
        row(4, anonymous_id="dev-9"),
    ])
    build(warehouse)
    ann = profile_of(warehouse, "user_id", "u-1")
    assert profiles(warehouse)[ann] == {("user_id", "u-1"), ("anonymous_id", "dev-1"), ("anonymous_id", "dev-2"),
                                        ("anonymous_id", "dev-3"), ("email", "ann@example.org")}
    assert profile_of(warehouse, "anonymous_id", "dev-9") not in (None, ann)


def test_alias_previous_id_joins_the_user(warehouse):
    load_raw(warehouse, "web", "tracks", [row(1, anonymous_id="dev-1")])
    load_raw(warehouse, "web", "aliases", [row(2, previous_id="dev-1", user_id="u-7")])
    build(warehouse)
    assert profile_of(warehouse, "anonymous_id", "dev-1") == profile_of(warehouse, "user_id", "u-7")


def test_chain_of_5000_links_resolves_to_one_profile(warehouse):
    links = 5000
    rows = []
    for i in range(links // 2):  # dev-i -- email-i -- dev-(i+1): two links per step
        rows.append(row(i, anonymous_id=f"dev-{i:05d}", email=f"p{i:05d}@chain.test.io"))
        rows.append(row(i, anonymous_id=f"dev-{i + 1:05d}", email=f"p{i:05d}@chain.test.io"))
    load_raw(warehouse, "web", "identifies", rows)
    build(warehouse, config(identity={"id_types": {"email": {"limit": None}}, "max_component_size": 100_000}))
    found = profiles(warehouse)
    assert len(found) == 1
    assert len(next(iter(found.values()))) == links + 1


def test_blocked_placeholder_values_do_not_merge_people(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, user_id="u-1", email="test@test.com", phone="000-000-0000"),
        row(2, user_id="u-2", email="TEST@test.com ", phone="0000000000"),
        row(3, user_id="u-3", email="null"),
        row(4, user_id="u-4", email="undefined"),
    ])
    build(warehouse)
    owners = {profile_of(warehouse, "user_id", f"u-{i}") for i in range(1, 5)}
    assert len(owners) == 4
    blocked = [r for r in rejections(warehouse) if r["reason"] == "blocked_value"]
    assert {(r["other_id_value"], r["id_type"]) for r in blocked} == {
        ("u-1", "email"), ("u-1", "phone"), ("u-2", "email"), ("u-2", "phone"), ("u-3", "email"), ("u-4", "email")}
    assert all(r["detail"] for r in blocked)


def test_configured_blocked_value_for_one_type_only(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, user_id="u-1", anonymous_id="kiosk"), row(2, user_id="u-2", anonymous_id="kiosk")])
    build(warehouse, config(identity={"id_types": {"anonymous_id": {"blocked_values": ["^kiosk$"]}}}))
    assert profile_of(warehouse, "anonymous_id", "kiosk") is None
    assert [r["reason"] for r in rejections(warehouse)] == ["blocked_value", "blocked_value"]


NO_ISOLATION = {"isolate_shared_identifiers": False}


def test_shared_device_keeps_the_first_user_and_drops_the_second_link(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, anonymous_id="family-ipad", user_id="u-mum", email="mum@home.io"),
        row(2, anonymous_id="family-ipad", user_id="u-son", email="son@home.io"),
    ])
    build(warehouse, config(identity=NO_ISOLATION))
    mum, son = profile_of(warehouse, "user_id", "u-mum"), profile_of(warehouse, "user_id", "u-son")
    assert mum != son
    assert profile_of(warehouse, "anonymous_id", "family-ipad") == mum
    assert profile_of(warehouse, "email", "son@home.io") == son
    refused = [r for r in rejections(warehouse) if r["reason"] == "limit_exceeded"]
    # the tablet's links on the son's row: to his user id (the anchor) and to his email (the second anchor)
    assert {(r["other_id_type"], r["other_id_value"]) for r in refused} == {("user_id", "u-son"), ("email", "son@home.io")}
    assert all((r["id_type"], r["id_value"]) == ("anonymous_id", "family-ipad") for r in refused)
    assert all("user_id" in r["detail"] for r in refused)


def test_limit_breach_drops_the_weaker_edge_even_when_it_came_first(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(3, anonymous_id="dev-1", email="kim@home.io"),   # weak (anonymous) edge, anchored on an email, first
        row(4, anonymous_id="dev-1", user_id="u-lee"),       # weak edge anchored on a user id
        row(5, user_id="u-kim", email="kim@home.io"),        # strong (email) edge, latest
    ])
    build(warehouse, config(identity=NO_ISOLATION))
    kim, lee = profile_of(warehouse, "user_id", "u-kim"), profile_of(warehouse, "user_id", "u-lee")
    assert kim != lee
    assert profile_of(warehouse, "email", "kim@home.io") == kim     # the strong edge won though it came last
    assert profile_of(warehouse, "anonymous_id", "dev-1") == lee    # a user-anchored link outranks an email-anchored one
    (refused,) = [r for r in rejections(warehouse) if r["reason"] == "limit_exceeded"]
    assert (refused["seen_at"], refused["other_id_value"]) == (at(3), "kim@home.io")


def test_shared_identifier_joins_nobody_by_default(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, anonymous_id="family-ipad", user_id="u-mum", email="family@home.io"),
        row(2, anonymous_id="dev-son", user_id="u-son", email="family@home.io"),
        row(3, anonymous_id="family-ipad", email="grandma@home.io"),   # reachable only through the shared tablet
    ])
    build(warehouse)
    mum, son = profile_of(warehouse, "user_id", "u-mum"), profile_of(warehouse, "user_id", "u-son")
    shared_email = profile_of(warehouse, "email", "family@home.io")
    assert len({mum, son, shared_email}) == 3
    assert profiles(warehouse)[shared_email] == {("email", "family@home.io")}
    assert profile_of(warehouse, "anonymous_id", "family-ipad") == mum    # the tablet itself was not contested
    assert profile_of(warehouse, "email", "grandma@home.io") == mum
    shared = [r for r in rejections(warehouse) if r["reason"] == "shared_identifier"]
    assert {(r["other_id_value"], r["id_value"]) for r in shared} == {
        ("u-mum", "family@home.io"), ("u-son", "family@home.io"),
        ("family@home.io", "family-ipad"), ("family@home.io", "dev-son")}  # the email as each row's second anchor
    assert all("family@home.io is shared: would give one profile 2 user_id values" in r["detail"] for r in shared)


def test_max_component_size_stops_a_hub_from_swallowing_everyone(warehouse):
    load_raw(warehouse, "web", "tracks", [row(i, anonymous_id=f"dev-{i}", context_traits_email="shared@hub.io")
                                          for i in range(10)])
    build(warehouse, config(identity={"max_component_size": 4}))
    hub = profile_of(warehouse, "email", "shared@hub.io")
    assert len(profiles(warehouse)[hub]) == 4
    assert sum(r["reason"] == "max_component_size" for r in rejections(warehouse)) == 7


def test_phones_match_in_e164_with_the_default_country(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, user_id="u-1", phone="(415) 555-0132"), row(2, anonymous_id="dev-2", phone="+1 415.555.0132"),
        row(3, user_id="u-3", phone="020 7946 0018"), row(4, user_id="u-4", phone="12")])
    build(warehouse)
    assert profile_of(warehouse, "phone", "+14155550132") == profile_of(warehouse, "anonymous_id", "dev-2") \
        == profile_of(warehouse, "user_id", "u-1")
    invalid = {(r["id_value"], r["reason"]) for r in rejections(warehouse)}
    assert invalid == {("020 7946 0018", "invalid_phone"), ("12", "invalid_phone")}  # a UK number is not a US one
    build(warehouse, config(identity={"default_country": "GB"}))
    assert profile_of(warehouse, "phone", "+442079460018") == profile_of(warehouse, "user_id", "u-3")


def test_rows_after_as_of_are_ignored(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1"),
                                              row(60, anonymous_id="dev-2", user_id="u-1")])
    build(warehouse, as_of=at(30))
    assert profile_of(warehouse, "anonymous_id", "dev-2") is None
    build(warehouse, as_of=at(90))
    assert profile_of(warehouse, "anonymous_id", "dev-2") == profile_of(warehouse, "user_id", "u-1")
