"""Connected components of a large graph, computed inside the warehouse in O(log n) rounds.

Why not a recursive CTE: a recursive walk does one step of a path per iteration and keeps
every partial path, so a 5,000-link chain takes 5,000 iterations and blows up on cycles.
Here each round contracts the graph (Boruvka-style min-neighbour hooking):

1. every node points at its smallest neighbour; the only cycles this makes are pairs
   (a <-> b), broken by making the smaller of the two a root;
2. pointer jumping (parent := parent's parent) takes every node to its root; a node whose
   parent is a root is settled, so each pass only revisits the nodes that just moved;
3. each edge is replaced by the edge between its endpoints' roots; self-loops vanish.

Every tree of step 1 has at least two nodes, so the number of live nodes at least halves
each round: at most log2(n) rounds, each a few set-based joins the engine parallelizes.
The node -> root maps of all rounds are composed once at the end, so the full node list
is touched twice, not once per round. All SQL is DuckDB dialect run through
models.adapter.Engine, so it runs on PostgreSQL too.
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
    rounds = 0
    while engine.scalar("SELECT COUNT(*) AS n FROM (SELECT 1 FROM _hw_cc_edges LIMIT 1) AS any_edge"):
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise ComponentsDidNotConverge(f"connected components did not converge in {MAX_ROUNDS} rounds")
        roots = f"_hw_cc_roots_{rounds}"
        _hook(engine, roots)
        _jump_to_roots(engine, roots)
        engine.replace_table("_hw_cc_edges", f"""
            SELECT DISTINCT LEAST(left_root.parent, right_root.parent) AS a,
                            GREATEST(left_root.parent, right_root.parent) AS b
            FROM _hw_cc_edges AS edges
            JOIN {roots} AS left_root ON left_root.node = edges.a
            JOIN {roots} AS right_root ON right_root.node = edges.b
            WHERE left_root.parent <> right_root.parent""", temporary=True)
    # compose the rounds' maps, last round first: a root of round k may have moved in round k+1
    for level in range(rounds - 1, 0, -1):
        later = f"_hw_cc_roots_{level + 1}"
        engine.replace_table(f"_hw_cc_roots_{level}", f"""
            SELECT roots.node, COALESCE(later.parent, roots.parent) AS parent
            FROM _hw_cc_roots_{level} AS roots LEFT JOIN {later} AS later ON later.node = roots.parent""",
                             temporary=True)
        engine.drop_table(later)
    if rounds:
        engine.replace_table(labels, f"""
            SELECT input_nodes.node, COALESCE(roots.parent, input_nodes.node) AS component
            FROM ({nodes_sql}) AS input_nodes LEFT JOIN _hw_cc_roots_1 AS roots ON roots.node = input_nodes.node""",
                             temporary=True)
    else:
        engine.replace_table(labels, f"SELECT node, node AS component FROM ({nodes_sql}) AS input_nodes",
                             temporary=True)
    for scratch in ("_hw_cc_edges", "_hw_cc_next", "_hw_cc_moving", "_hw_cc_roots_1"):
        engine.drop_table(scratch)
    return rounds


def _hook(engine: Engine, roots: str) -> None:
    """Every live node points at its smallest neighbour; mutual pairs keep the smaller as root."""
    engine.replace_table("_hw_cc_next", """
        SELECT node, MIN(neighbour) AS parent
        FROM (SELECT a AS node, b AS neighbour FROM _hw_cc_edges
              UNION ALL SELECT b AS node, a AS neighbour FROM _hw_cc_edges) AS adjacency
        GROUP BY node""", temporary=True)
    engine.replace_table(roots, """
        SELECT hooks.node,
               CASE WHEN parents.parent = hooks.node AND hooks.node < hooks.parent THEN hooks.node
                    ELSE hooks.parent END AS parent
        FROM _hw_cc_next AS hooks JOIN _hw_cc_next AS parents ON parents.node = hooks.parent""", temporary=True)


def _jump_to_roots(engine: Engine, roots: str) -> None:
    """parent := parent's parent until every node points at a root: O(log depth) passes.

    A node that did not move in a pass points at a root and never moves again, so after the
    first pass only the nodes that moved are revisited.
    """
    engine.replace_table("_hw_cc_moving", f"""
        SELECT hooks.node, parents.parent
        FROM {roots} AS hooks JOIN {roots} AS parents ON parents.node = hooks.parent
        WHERE parents.parent <> hooks.parent""", temporary=True)
    total = engine.row_count(roots)
    while moved := engine.row_count("_hw_cc_moving"):
        if moved * 4 > total:  # most rows change: rewriting the table beats updating in place
            engine.replace_table(roots, f"""
                SELECT hooks.node, COALESCE(moving.parent, hooks.parent) AS parent
                FROM {roots} AS hooks LEFT JOIN _hw_cc_moving AS moving ON moving.node = hooks.node""",
                                 temporary=True)
        else:
            engine.run(f"UPDATE {roots} SET parent = moving.parent FROM _hw_cc_moving AS moving "
                       f"WHERE {roots}.node = moving.node")
        engine.replace_table("_hw_cc_moving", f"""
            SELECT moving.node, parents.parent
            FROM _hw_cc_moving AS moving JOIN {roots} AS parents ON parents.node = moving.parent
            WHERE parents.parent <> moving.parent""", temporary=True)
