"""The identity graph, resolved incrementally: only the components that changed are recomputed.

Why: almost every build adds a day's events to a graph of months, and most of them touch a
few thousand people; recomputing every component (and re-resolving every conflicted one)
each build costs as much as the whole history. Components are independent of each other,
and the guards (models.identity.guards) judge each component on its own edges only, so
recomputing just the components that new or vanished edges touch gives exactly what a
full recompute gives.

State kept between builds, in cdp_staging:
- identity_nodes: every usable identifier with a node number that never changes (new
  identifiers get numbers above the last), its *raw* component (connectivity over every
  usable edge, before the guards) and its resolved component (after the guards). The raw
  component is what bounds a recompute: a guard decision can reach anywhere in it.
- identity_resolved_edges: the usable edges the last build resolved, as a 63-bit hash of the
  whole edge row (the guards order edges by every column of it) and the node numbers of its
  ends. Edge rows that appear or vanish since (new rows, a vendor row that changed its email, a
  later --as-of) mark the raw components of their ends as changed; so do identifiers that
  stopped being usable. Comparing hashes, not rows, keeps the comparison of a million edges to
  a join of integers.
- identity_resolution_settings: the guard settings the state was built with; other
  settings (a new limit) start over, as does --full-refresh or a missing table.

Starting over is the same code path with empty state: every node is new, every edge has
appeared, so every component is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging

from models.adapter import Engine, literal
from models.build import BuildContext
from models.catalog import Model
from models.identity.components import label_components
from models.identity.guards import GUARD_REJECTIONS, REJECTION_COLUMNS, resolve_guards

NODES = '"cdp_staging"."identity_nodes"'
NODE_COLUMNS = {"node": "BIGINT", "id_type": "VARCHAR", "id_value": "VARCHAR", "raw_component": "BIGINT",
                "component": "BIGINT"}
RESOLVED_EDGES = '"cdp_staging"."identity_resolved_edges"'
RESOLVED_EDGE_COLUMNS = {"row_hash": "BIGINT", "a": "BIGINT", "b": "BIGINT"}
EDGE_COLUMNS = ("source", "source_table", "row_id", "seen_at", "anchor_type", "anchor_value", "id_type", "id_value",
                "priority", "anchor_priority")
SETTINGS = '"cdp_staging"."identity_resolution_settings"'
# rewriting a state table beats updating it in place once this share of its rows changes
REWRITE_SHARE = 0.25
SCRATCH = ("_hw_usable_nodes", "_hw_usable_edges", "_hw_appeared", "_hw_vanished", "_hw_changed_components",
           "_hw_removed", "_hw_nodes", "_hw_edges", "_hw_labels", "_hw_conflicted", "_hw_relabel",
           "_hw_guard_rejections", "_hw_node_updates")
log = logging.getLogger(__name__)


def settings_fingerprint(context: BuildContext) -> str:
    """What the guards' decisions depend on besides the edges themselves (priorities ride on the edges)."""
    identity = context.config.identity
    settings = {"limits": {name: rule.limit for name, rule in sorted(identity.id_types.items())},
                "max_component_size": identity.max_component_size,
                "isolate_shared_identifiers": identity.isolate_shared_identifiers}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def row_hash(engine: Engine, alias: str) -> str:
    """SQL for a 63-bit hash of an edge row (every column the guards read), in the engine's own hash."""
    columns = [f"{alias}.{name}" for name in EDGE_COLUMNS]
    if engine.dialect == "duckdb":
        return f"CAST(HASH({', '.join(columns)}) >> 1 AS BIGINT)"
    text = ", ".join(f"COALESCE(CAST({column} AS VARCHAR), CHR(1))" for column in columns)
    return f"HASHTEXTEXTENDED(CONCAT_WS(CHR(31), {text}), 0)"


def _state_is_usable(engine: Engine, fingerprint: str) -> bool:
    tables = engine.columns("cdp_staging")
    if (tables.get("identity_nodes") != list(NODE_COLUMNS)
            or tables.get("identity_resolved_edges") != list(RESOLVED_EDGE_COLUMNS)
            or tables.get("identity_resolution_settings") != ["fingerprint"]
            or "identity_components" not in tables):
        return False
    return engine.scalar(f"SELECT MIN(fingerprint) AS fingerprint FROM {SETTINGS}") == fingerprint


def _start_over(engine: Engine, model: Model, fingerprint: str) -> None:
    engine.create_table(NODES, NODE_COLUMNS)
    engine.create_table(RESOLVED_EDGES, RESOLVED_EDGE_COLUMNS)
    engine.create_table(GUARD_REJECTIONS, REJECTION_COLUMNS)
    engine.create_table(model.target, {"id_type": "VARCHAR", "id_value": "VARCHAR", "component": "BIGINT"})
    engine.create_table(SETTINGS, {"fingerprint": "VARCHAR"})
    engine.run(f"INSERT INTO {SETTINGS} (fingerprint) VALUES ({literal(fingerprint)})")


def write_identity_components(model: Model, context: BuildContext, engine: Engine) -> None:
    fingerprint = settings_fingerprint(context)
    if context.full_refresh or not _state_is_usable(engine, fingerprint):
        _start_over(engine, model, fingerprint)
    engine.replace_table("_hw_usable_nodes", """
        SELECT DISTINCT id_type, id_value FROM cdp_staging.identifiers WHERE rejected_reason IS NULL""",
                         temporary=True)
    engine.replace_table("_hw_usable_edges", f"""
        SELECT edges.*, {row_hash(engine, "edges")} AS row_hash
        FROM (SELECT {", ".join(EDGE_COLUMNS)} FROM cdp_staging.identity_edges WHERE rejected_reason IS NULL) AS edges""",
                         temporary=True)
    _number_new_nodes(engine)
    _find_changes(engine)
    engine.replace_table("_hw_nodes", f"""
        SELECT nodes.node, nodes.id_type, nodes.id_value FROM {NODES} AS nodes
        WHERE nodes.raw_component IS NULL
           OR nodes.raw_component IN (SELECT raw_component FROM _hw_changed_components)
        EXCEPT SELECT node, id_type, id_value FROM _hw_removed""", temporary=True)
    engine.replace_table("_hw_edges", """
        SELECT edges.*, anchor.node AS a, other.node AS b
        FROM _hw_usable_edges AS edges
        JOIN _hw_nodes AS anchor ON anchor.id_type = edges.anchor_type AND anchor.id_value = edges.anchor_value
        JOIN _hw_nodes AS other ON other.id_type = edges.id_type AND other.id_value = edges.id_value""",
                         temporary=True)
    recomputed, usable = engine.row_count("_hw_nodes"), engine.row_count("_hw_usable_nodes")
    log.info("identity: %d of %d identifiers in changed components recomputed (%d edge rows appeared, %d vanished)",
             recomputed, usable, engine.row_count("_hw_appeared"), engine.row_count("_hw_vanished"))
    label_components(engine, "SELECT a, b FROM _hw_edges", "SELECT node FROM _hw_nodes")
    resolve_guards(engine, context.config.identity)
    _save_state(engine, model, usable)
    for scratch in SCRATCH:
        engine.drop_table(scratch)


def _number_new_nodes(engine: Engine) -> None:
    """Identifiers seen for the first time get the next node numbers; existing ones keep theirs.

    Numbers are never reused: a component is labelled by one of its nodes, and that node may
    since have been erased (a deletion request), so new numbers start above every label too.
    """
    engine.run(f"""
        INSERT INTO {NODES} (node, id_type, id_value, raw_component, component)
        SELECT (SELECT GREATEST(COALESCE(MAX(node), 0), COALESCE(MAX(raw_component), 0), COALESCE(MAX(component), 0))
                FROM {NODES}) + ROW_NUMBER() OVER (ORDER BY fresh.id_type, fresh.id_value),
               fresh.id_type, fresh.id_value, NULL, NULL
        FROM _hw_usable_nodes AS fresh
        WHERE NOT EXISTS (SELECT 1 FROM {NODES} AS known
                          WHERE known.id_type = fresh.id_type AND known.id_value = fresh.id_value)""")


def _find_changes(engine: Engine) -> None:
    """Edge rows that appeared or vanished, identifiers no longer usable, and the raw components they touch."""
    engine.replace_table("_hw_appeared", f"""
        SELECT edges.row_hash, anchor.node AS a, other.node AS b
        FROM _hw_usable_edges AS edges
        JOIN {NODES} AS anchor ON anchor.id_type = edges.anchor_type AND anchor.id_value = edges.anchor_value
        JOIN {NODES} AS other ON other.id_type = edges.id_type AND other.id_value = edges.id_value
        WHERE NOT EXISTS (SELECT 1 FROM {RESOLVED_EDGES} AS known WHERE known.row_hash = edges.row_hash)""",
                         temporary=True)
    engine.replace_table("_hw_vanished", f"""
        SELECT known.row_hash, known.a, known.b FROM {RESOLVED_EDGES} AS known
        WHERE NOT EXISTS (SELECT 1 FROM _hw_usable_edges AS edges WHERE edges.row_hash = known.row_hash)""",
                         temporary=True)
    engine.replace_table("_hw_removed", f"""
        SELECT nodes.node, nodes.id_type, nodes.id_value, nodes.raw_component FROM {NODES} AS nodes
        WHERE NOT EXISTS (SELECT 1 FROM _hw_usable_nodes AS usable
                          WHERE usable.id_type = nodes.id_type AND usable.id_value = nodes.id_value)""",
                         temporary=True)
    engine.replace_table("_hw_changed_components", f"""
        SELECT DISTINCT nodes.raw_component
        FROM (SELECT a AS node FROM _hw_appeared UNION SELECT b FROM _hw_appeared
              UNION SELECT a FROM _hw_vanished UNION SELECT b FROM _hw_vanished) AS ends
        JOIN {NODES} AS nodes ON nodes.node = ends.node
        WHERE nodes.raw_component IS NOT NULL
        UNION
        SELECT raw_component FROM _hw_removed WHERE raw_component IS NOT NULL""", temporary=True)


def _save_state(engine: Engine, model: Model, usable: int) -> None:
    """Recomputed nodes take their new components; vanished identifiers and edges go; appeared edges join."""
    # a guard rejection lies inside one raw component: those of recomputed components are redone
    engine.run(f"""
        DELETE FROM {GUARD_REJECTIONS} WHERE EXISTS (
            SELECT 1 FROM {NODES} AS nodes
            WHERE nodes.id_type = {GUARD_REJECTIONS}.id_type AND nodes.id_value = {GUARD_REJECTIONS}.id_value
              AND nodes.raw_component IN (SELECT raw_component FROM _hw_changed_components))""")
    engine.run(f"INSERT INTO {GUARD_REJECTIONS} SELECT * FROM _hw_guard_rejections")
    engine.replace_table("_hw_node_updates", """
        SELECT nodes.node, nodes.id_type, nodes.id_value, labels.component AS raw_component,
               COALESCE(relabel.component, labels.component) AS component
        FROM _hw_nodes AS nodes
        JOIN _hw_labels AS labels ON labels.node = nodes.node
        LEFT JOIN _hw_relabel AS relabel ON relabel.node = nodes.node""", temporary=True)
    changed = engine.row_count("_hw_node_updates") + engine.row_count("_hw_removed")
    if changed > REWRITE_SHARE * max(usable, 1):
        engine.replace_table(NODES, f"""
            SELECT nodes.node, nodes.id_type, nodes.id_value, nodes.raw_component, nodes.component FROM {NODES} AS nodes
            WHERE NOT EXISTS (SELECT 1 FROM _hw_node_updates AS updates WHERE updates.node = nodes.node)
              AND NOT EXISTS (SELECT 1 FROM _hw_removed AS removed WHERE removed.node = nodes.node)
            UNION ALL SELECT node, id_type, id_value, raw_component, component FROM _hw_node_updates""")
        engine.replace_table(model.target, f"SELECT id_type, id_value, component FROM {NODES}")
    else:
        for table, key in ((NODES, "node"), (model.target, "id_type, id_value")):
            engine.run(f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM _hw_node_updates "
                       f"UNION ALL SELECT {key} FROM _hw_removed)")
        engine.run(f"INSERT INTO {NODES} SELECT node, id_type, id_value, raw_component, component FROM _hw_node_updates")
        engine.run(f"INSERT INTO {model.target} SELECT id_type, id_value, component FROM _hw_node_updates")
    engine.run(f"DELETE FROM {RESOLVED_EDGES} WHERE row_hash IN (SELECT row_hash FROM _hw_vanished)")
    engine.run(f"INSERT INTO {RESOLVED_EDGES} SELECT DISTINCT row_hash, a, b FROM _hw_appeared")
