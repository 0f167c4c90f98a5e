"""`headwater explain`: the chain of edges from an identifier to the rest of its profile, with source rows."""

from __future__ import annotations

from models.explain import explain, render
from tests.identity_world import build, config, load_raw, row


def test_explain_walks_from_the_identifier_and_shows_each_source_row(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1"),
                                              row(2, user_id="u-1", email="Ann@Example.org")])
    load_raw(warehouse, "web", "tracks", [row(3, anonymous_id="dev-2", context_traits_email="ann@example.org"),
                                          row(4, anonymous_id="dev-1", context_traits_email="null")])
    build(warehouse)
    explanations, rejections = explain(warehouse, config(), "dev-2")
    (item,) = explanations
    walk = [(link.from_id, link.to_id) for link in item.links]
    assert walk == [(("anonymous_id", "dev-2"), ("email", "ann@example.org")),
                    (("email", "ann@example.org"), ("user_id", "u-1")),
                    (("user_id", "u-1"), ("anonymous_id", "dev-1"))]
    assert item.links[1].source_row["email"] == "Ann@Example.org"  # the raw row, as sent
    lines = render(explanations, rejections, "dev-2")
    assert lines[0].startswith("anonymous_id dev-2 -> profile p_") and "(4 identifiers)" in lines[0]
    assert any("seen together in web.tracks id=" in line for line in lines)


def test_explain_finds_an_email_typed_differently_and_lists_refused_links(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", email="ann@example.org"),
                                              row(2, user_id="u-2", email="ann@example.org")])
    build(warehouse)
    explanations, rejections = explain(warehouse, config(), "  ANN@example.org ")
    assert [e.id_value for e in explanations] == ["ann@example.org"]
    assert [(r["other_id_value"], r["reason"]) for r in rejections] == [("u-1", "shared_identifier"),
                                                                        ("u-2", "shared_identifier")]
    assert any("not linked: email ann@example.org -- user_id u-2: shared_identifier (email ann@example.org is "
               "shared: would give one profile 2 user_id values (limit 1))" in line
               for line in render(explanations, rejections, "ANN@example.org"))
