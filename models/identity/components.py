"""Connected components of a large graph, computed inside the warehouse in O(log n) rounds.

Why not a recursive CTE: a recursive walk does one step of a path per iteration and keeps
every partial path, so a 5,000-link chain takes 5,000 iterations and blows up on cycles.
Here each round contracts the graph (Boruvka-style min-neighbour hooking):

1. every node points at its smallest neighbour; the only cycles this makes are pairs
   (a <-> b), broken by making the smaller of the two a root;
2. pointer jumping (parent := parent's parent, repeated) takes every node to its root;
3. each edge is replaced by the edge between its endpoints' roots; self-loops vanish.

Every tree of step 1 has at least two nodes, so the number of live nodes at least halves
each round: at most log2(n) rounds, each a few set-based joins the engine parallelizes.
All SQL is DuckDB dialect, run through models.adapter.Engine, so it runs on PostgreSQL too.
"""

from __future__ import annotations

from models.adapter import Engine

MAX_ROUNDS = 64  # 2**64 nodes: the halving bound makes this unreachable for a correct graph


class ComponentsDidNotConverge(RuntimeError):
    pass


def label_components(engine: Engine, edges_sql: str, nodes_sql: str, labels: str = "_hw_labels") -> int:
    """Create temp table `labels(node, component)`: component = smallest node id of its component.

    `edges_sql` selects (a BIGINT, b BIGINT); `nodes_sql` selects (node BIGINT), every node once,
    including nodes without edges. Returns the number of contraction rounds.
    """
    engine.replace_table("_hw_cc_edges", f"SELECT DISTINCT LEAST(a, b) AS a, GREATEST(a, b) AS b "
                                         f"FROM ({edges_sql}) AS input_edges WHERE a <> b", temporary=True)
    engine.replace_table(labels, f"SELECT node, node AS component FROM ({nodes_sql}) AS input_nodes",
                         temporary=True)
    rounds = 0
    while engine.scalar("SELECT COUNT(*) AS n FROM (SELECT 1 FROM _hw_cc_edges LIMIT 1) AS any_edge"):
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise ComponentsDidNotConverge(f"connected components did not converge in {MAX_ROUNDS} rounds")
        _hook(engine)
        _jump_to_roots(engine)
        engine.replace_table(labels, f"SELECT labels.node, COALESCE(roots.parent, labels.component) AS component "
                                     f"FROM {labels} AS labels LEFT JOIN _hw_cc_parent AS roots "
                                     f"ON roots.node = labels.component", temporary=True)
        engine.replace_table("_hw_cc_edges", """
            SELECT DISTINCT LEAST(left_root.parent, right_root.parent) AS a,
                            GREATEST(left_root.parent, right_root.parent) AS b
            FROM _hw_cc_edges AS edges
            JOIN _hw_cc_parent AS left_root ON left_root.node = edges.a
            JOIN _hw_cc_parent AS right_root ON right_root.node = edges.b
            WHERE left_root.parent <> right_root.parent""", temporary=True)
    for scratch in ("_hw_cc_edges", "_hw_cc_parent", "_hw_cc_next"):
        engine.drop_table(scratch)
    return rounds


def _hook(engine: Engine) -> None:
    """Every live node points at its smallest neighbour; mutual pairs keep the smaller as root."""
    engine.replace_table("_hw_cc_next", """
        SELECT node, MIN(neighbour) AS parent
        FROM (SELECT a AS node, b AS neighbour FROM _hw_cc_edges
              UNION ALL SELECT b AS node, a AS neighbour FROM _hw_cc_edges) AS adjacency
        GROUP BY node""", temporary=True)
    engine.replace_table("_hw_cc_parent", """
        SELECT hooks.node,
               CASE WHEN parents.parent = hooks.node AND hooks.node < hooks.parent THEN hooks.node
                    ELSE hooks.parent END AS parent
        FROM _hw_cc_next AS hooks JOIN _hw_cc_next AS parents ON parents.node = hooks.parent""", temporary=True)


def _jump_to_roots(engine: Engine) -> None:
    """parent := parent's parent until nothing changes: O(log depth) passes."""
    while True:
        engine.replace_table("_hw_cc_next", """
            SELECT hooks.node, parents.parent, parents.parent <> hooks.parent AS moved
            FROM _hw_cc_parent AS hooks JOIN _hw_cc_parent AS parents ON parents.node = hooks.parent""",
                             temporary=True)
        moved = engine.scalar("SELECT COUNT(*) AS n FROM _hw_cc_next WHERE moved")
        engine.replace_table("_hw_cc_parent", "SELECT node, parent FROM _hw_cc_next", temporary=True)
        if not moved:
            return
