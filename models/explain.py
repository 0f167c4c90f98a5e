"""Why an identifier belongs to its profile: the chain of edges, each with its source row.

Why a breadth-first walk over the profile's accepted edges: it prints the shortest chain
from the identifier to every other identifier of the profile, which is the question a
support person asks ("why is this anonymous id on Ann's profile?"). A profile is capped
at identity.max_component_size identifiers, so the walk is small.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse
from models.adapter import Engine, quote
from models.staging.phones import to_e164


@dataclass
class Link:
    """One accepted edge, in the order the walk reached it."""

    from_id: tuple[str, str]
    to_id: tuple[str, str]
    edge: dict[str, Any]
    source_row: dict[str, Any] | None


@dataclass
class Explanation:
    id_type: str
    id_value: str
    profile_id: str
    identities: list[tuple[str, str]]
    links: list[Link] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)


def candidate_values(identifier: str, default_country: str) -> list[str]:
    """The forms the identifier may have been normalized to."""
    values = [identifier, identifier.strip(), identifier.strip().lower()]
    phone = to_e164(identifier, default_country)
    if phone:
        values.append(phone)
    return list(dict.fromkeys(values))


def explain(warehouse: Warehouse, config: HeadwaterConfig, identifier: str) -> tuple[list[Explanation], list[dict]]:
    """Explanations for every (type, value) the identifier matches, and its rejections."""
    values = candidate_values(identifier, config.identity.default_country)
    marks = ", ".join(["%s"] * len(values))
    with warehouse.connect() as connection:
        engine = Engine(connection, warehouse.dialect)
        if not engine.table_exists("cdp", "profile_identities"):
            raise LookupError("no identity graph yet; run `headwater build` first")
        matches = engine.run(f"SELECT profile_id, id_type, id_value FROM cdp.profile_identities "
                             f"WHERE id_value IN ({marks}) ORDER BY id_type", values)
        rejections = engine.run(f"SELECT * FROM cdp.identity_rejections WHERE id_value IN ({marks}) "
                                f"OR other_id_value IN ({marks}) ORDER BY seen_at", values + values)
        return [_explain_one(engine, match) for match in matches], rejections


def _explain_one(engine: Engine, match: dict[str, Any]) -> Explanation:
    profile_id = match["profile_id"]
    identities = [(r["id_type"], r["id_value"]) for r in engine.run(
        "SELECT id_type, id_value FROM cdp.profile_identities WHERE profile_id = %s ORDER BY id_type, id_value",
        [profile_id])]
    edges = engine.run("""
        SELECT edges.* FROM cdp_staging.identity_edges AS edges
        JOIN cdp.profile_identities AS anchor
            ON anchor.id_type = edges.anchor_type AND anchor.id_value = edges.anchor_value
        WHERE anchor.profile_id = %s AND edges.rejected_reason IS NULL
          AND NOT EXISTS (SELECT 1 FROM cdp_staging.identity_guard_rejections AS refused
                          WHERE refused.source = edges.source AND refused.source_table = edges.source_table
                            AND refused.row_id = edges.row_id AND refused.id_type = edges.id_type
                            AND refused.id_value = edges.id_value)
        ORDER BY edges.seen_at, edges.source, edges.source_table, edges.row_id""", [profile_id])
    adjacency: dict[tuple[str, str], list[tuple[tuple[str, str], dict]]] = {}
    for edge in edges:
        a, b = (edge["anchor_type"], edge["anchor_value"]), (edge["id_type"], edge["id_value"])
        adjacency.setdefault(a, []).append((b, edge))
        adjacency.setdefault(b, []).append((a, edge))
    start = (match["id_type"], match["id_value"])
    explanation = Explanation(match["id_type"], match["id_value"], profile_id, identities)
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        for other, edge in adjacency.get(node, []):
            if other in seen:
                continue
            seen.add(other)
            queue.append(other)
            explanation.links.append(Link(node, other, edge, _source_row(engine, edge)))
    return explanation


def _source_row(engine: Engine, edge: dict[str, Any]) -> dict[str, Any] | None:
    """The raw row the edge came from, without its empty columns."""
    source, table = edge["source"], edge["source_table"]
    if not engine.table_exists(source, table):
        return None
    rows = engine.run(f"SELECT * FROM {quote(source)}.{quote(table)} WHERE CAST(id AS VARCHAR) = %s LIMIT 1",
                      [edge["row_id"]])
    return {k: v for k, v in rows[0].items() if v is not None and not k.startswith("_dlt")} if rows else None


def render(explanations: list[Explanation], rejections: list[dict], identifier: str) -> list[str]:
    lines: list[str] = []
    if not explanations:
        lines.append(f"{identifier!r} is on no profile.")
    for item in explanations:
        lines.append(f"{item.id_type} {item.id_value} -> profile {item.profile_id} "
                     f"({len(item.identities)} identifiers)")
        if not item.links:
            lines.append("  no edges: it is the profile's only identifier")
        for link in item.links:
            edge = link.edge
            lines.append(f"  {link.from_id[0]} {link.from_id[1]} -- {link.to_id[0]} {link.to_id[1]}"
                         f"   seen together in {edge['source']}.{edge['source_table']} id={edge['row_id']}"
                         f" at {edge['seen_at']}")
            if link.source_row:
                shown = ", ".join(f"{k}={v}" for k, v in list(link.source_row.items())[:12])
                lines.append(f"      row: {shown}")
    for refused in rejections:
        lines.append(f"  not linked: {refused['id_type']} {refused['id_value']} -- {refused['other_id_type']} "
                     f"{refused['other_id_value']}: {refused['reason']} ({refused['detail']}) "
                     f"in {refused['source']}.{refused['source_table']} id={refused['row_id']}")
    return lines
