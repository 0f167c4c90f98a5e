"""The identity graph with its guards: components of the usable edges, minus over-merges.

Why two passes: almost every component of a real identity graph is harmless (one person,
a few devices), so components are first computed over the usable edges in the warehouse
(models.identity.components; in an incremental build only over the components an edge row
appeared in or vanished from, models.identity.resolve). Only components that break a guard (more values of a type
than its limit allows, or more identifiers than max_component_size) are resolved again,
edge by edge, strongest first (an edge is as strong as its weaker identifier; between equals,
the one with the stronger other end), then earliest first, like the sequential
union-find that Segment Unify and Hightouch describe: an edge that would make a profile
break a guard is dropped and recorded. That second pass reads only the conflicted
components' edges, a small share of the graph, into Python. An identifier whose link broke a
limit is shared by people (identity.isolate_shared_identifiers): the conflicted component is
then joined again without it, so nobody's records are joined through a household email.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.adapter import Engine

GUARD_REJECTIONS = '"cdp_staging"."identity_guard_rejections"'
REJECTION_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "seen_at": "TIMESTAMPTZ",
                     "anchor_type": "VARCHAR", "anchor_value": "VARCHAR", "id_type": "VARCHAR",
                     "id_value": "VARCHAR", "reason": "VARCHAR", "detail": "VARCHAR"}


@dataclass
class _Profile:
    """A union-find root with what the guards need to know about its set."""

    size: int
    per_type: dict[str, int] = field(default_factory=dict)


class GuardedUnion:
    """Union-find that refuses a union which would break a per-type limit or the size cap."""

    def __init__(self, limits: dict[str, int | None], max_size: int):
        self.limits, self.max_size = limits, max_size
        self.parent: dict[int, int] = {}
        self.profiles: dict[int, _Profile] = {}

    def add(self, node: int, id_type: str) -> None:
        self.parent[node] = node
        self.profiles[node] = _Profile(1, {id_type: 1})

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: int, b: int) -> tuple[str, str, str | None] | None:
        """Join the sets of a and b; returns (reason, detail, limited id type) when a guard forbids it."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return None
        left, right = self.profiles[root_a], self.profiles[root_b]
        for id_type in sorted(set(left.per_type) | set(right.per_type)):
            limit = self.limits.get(id_type)
            joined = left.per_type.get(id_type, 0) + right.per_type.get(id_type, 0)
            if limit is not None and joined > limit:
                return "limit_exceeded", f"would give one profile {joined} {id_type} values (limit {limit})", id_type
        if left.size + right.size > self.max_size:
            return ("max_component_size",
                    f"would give one profile {left.size + right.size} identifiers (limit {self.max_size})", None)
        keep, gone = (root_a, root_b) if root_a < root_b else (root_b, root_a)
        self.parent[gone] = keep
        merged = self.profiles.pop(gone)
        kept = self.profiles[keep]
        kept.size += merged.size
        for id_type, count in merged.per_type.items():
            kept.per_type[id_type] = kept.per_type.get(id_type, 0) + count
        return None


def resolve_guards(engine: Engine, identity) -> None:
    """Apply the guards to the components in `_hw_labels` (over `_hw_nodes`, `_hw_edges`).

    Leaves `_hw_relabel(node, component)` for the nodes of conflicted components and
    `_hw_guard_rejections` with the edges the guards refused; models.identity.resolve saves both.
    """
    engine.replace_table("_hw_conflicted", f"""
        SELECT component FROM _hw_labels AS labels
        JOIN _hw_nodes AS nodes ON nodes.node = labels.node
        JOIN cdp_staging.identity_id_types AS id_types ON id_types.id_type = nodes.id_type
        WHERE id_types.max_per_profile IS NOT NULL
        GROUP BY labels.component, nodes.id_type, id_types.max_per_profile
        HAVING COUNT(*) > id_types.max_per_profile
        UNION
        SELECT component FROM _hw_labels GROUP BY component HAVING COUNT(*) > {int(identity.max_component_size)}
    """, temporary=True)
    engine.create_table("_hw_relabel", {"node": "BIGINT", "component": "BIGINT"}, temporary=True)
    engine.create_table("_hw_guard_rejections", REJECTION_COLUMNS, temporary=True)
    if engine.scalar("SELECT COUNT(*) AS n FROM _hw_conflicted"):
        _resolve_conflicts(engine, {name: rule.limit for name, rule in identity.id_types.items()},
                           identity.max_component_size, identity.isolate_shared_identifiers)


def _resolve_conflicts(engine: Engine, limits: dict[str, int | None], max_size: int,
                       isolate_shared: bool = True) -> None:
    """Re-join each conflicted component edge by edge, strongest then earliest, skipping what breaks a guard.

    With `isolate_shared`, an identifier seen directly with a second value of a limited type (a
    household email typed by two user ids, a tablet both use) is shared by people; a
    second pass then joins nobody through it, so records reachable only through it stay apart
    instead of landing on whoever used it first.
    """
    nodes = engine.run("""
            SELECT nodes.node, nodes.id_type FROM _hw_nodes AS nodes
            JOIN _hw_labels AS labels ON labels.node = nodes.node
            JOIN _hw_conflicted AS conflicted ON conflicted.component = labels.component""")
    edges = engine.run("""
        SELECT edges.* FROM _hw_edges AS edges
        JOIN _hw_labels AS labels ON labels.node = edges.a
        JOIN _hw_conflicted AS conflicted ON conflicted.component = labels.component
        ORDER BY edges.priority, edges.anchor_priority, edges.seen_at, edges.source, edges.source_table, edges.row_id,
                 edges.id_type, edges.id_value""")
    union, rejected = _join(nodes, edges, limits, max_size, shared={})
    if isolate_shared:
        shared = _shared_identifiers(rejected)
        if shared:
            union, rejected = _join(nodes, edges, limits, max_size, shared)
    engine.insert_rows("_hw_guard_rejections", list(REJECTION_COLUMNS), [
        [edge[c] for c in REJECTION_COLUMNS if c not in ("reason", "detail")] + list(refusal[:2])
        for edge, refusal in rejected])
    engine.insert_rows("_hw_relabel", ["node", "component"], [(node, union.find(node)) for node in union.parent])


def _shared_identifiers(rejected: list[tuple[dict, tuple[str, str, str | None]]]) -> dict[int, str]:
    """Node -> why it is shared: the end of a refused edge whose other end is a second value of a limited type."""
    shared: dict[int, str] = {}
    for edge, (reason, detail, limited_type) in rejected:
        if reason != "limit_exceeded":
            continue
        if edge["anchor_type"] == limited_type:      # e.g. a second user id typed this email
            node, id_type, value = edge["b"], edge["id_type"], edge["id_value"]
        elif edge["id_type"] == limited_type:
            node, id_type, value = edge["a"], edge["anchor_type"], edge["anchor_value"]
        else:                                        # joined two limited values only indirectly
            continue
        shared.setdefault(node, f"{id_type} {value} is shared: {detail}")
    return shared


def _join(nodes: list[dict], edges: list[dict], limits: dict[str, int | None], max_size: int,
          shared: dict[int, str]) -> tuple[GuardedUnion, list[tuple[dict, tuple[str, str, str | None]]]]:
    union = GuardedUnion(limits, max_size)
    for row in nodes:
        union.add(row["node"], row["id_type"])
    rejected = []
    for edge in edges:
        if edge["a"] in shared or edge["b"] in shared:
            why = shared.get(edge["b"]) or shared[edge["a"]]
            rejected.append((edge, ("shared_identifier", why, None)))
            continue
        refusal = union.union(edge["a"], edge["b"])
        if refusal:
            rejected.append((edge, refusal))
    return union, rejected
