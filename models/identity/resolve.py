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
- identity_resolved_edges: the usable edges the last build resolved. Edges that appear or
  vanish since (new rows, a vendor row that changed its email, a later --as-of) mark the raw
  components of their ends as changed; so do identifiers that stopped being usable.
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
EDGE_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "seen_at": "TIMESTAMPTZ",
                "anchor_type": "VARCHAR", "anchor_value": "VARCHAR", "id_type": "VARCHAR", "id_value": "VARCHAR",
                "priority": "BIGINT", "anchor_priority": "BIGINT"}
SETTINGS = '"cdp_staging"."identity_resolution_settings"'
log = logging.getLogger(__name__)
SCRATCH = ("_hw_usable_nodes", "_hw_usable_edges", "_hw_changed_edges", "_hw_changed_components", "_hw_nodes",
           "_hw_edges", "_hw_labels", "_hw_conflicted", "_hw_relabel")


def settings_fingerprint(context: BuildContext) -> str:
    """What the guards' decisions depend on besides the edges themselves (priorities ride on the edges)."""
    identity = context.config.identity
    settings = {"limits": {name: rule.limit for name, rule in sorted(identity.id_types.items())},
                "max_component_size": identity.max_component_size,
                "isolate_shared_identifiers": identity.isolate_shared_identifiers}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _state_is_usable(engine: Engine, fingerprint: str) -> bool:
    tables = engine.columns("cdp_staging")
    if (tables.get("identity_nodes") != list(NODE_COLUMNS) or tables.get("identity_resolved_edges") != list(EDGE_COLUMNS)
            or tables.get("identity_resolution_settings") != ["fingerprint"]):
        return False
    return engine.scalar(f"SELECT MIN(fingerprint) AS fingerprint FROM {SETTINGS}") == fingerprint


def _start_over(engine: Engine, fingerprint: str) -> None:
    engine.create_table(NODES, NODE_COLUMNS)
    engine.create_table(RESOLVED_EDGES, EDGE_COLUMNS)
    engine.create_table(GUARD_REJECTIONS, REJECTION_COLUMNS)
    engine.create_table(SETTINGS, {"fingerprint": "VARCHAR"})
    engine.run(f"INSERT INTO {SETTINGS} (fingerprint) VALUES ({literal(fingerprint)})")


def write_identity_components(model: Model, context: BuildContext, engine: Engine) -> None:
    fingerprint = settings_fingerprint(context)
    if context.full_refresh or not _state_is_usable(engine, fingerprint):
        _start_over(engine, fingerprint)
    edge_names = ", ".join(EDGE_COLUMNS)
    engine.replace_table("_hw_usable_nodes", """
        SELECT DISTINCT id_type, id_value FROM cdp_staging.identifiers WHERE rejected_reason IS NULL""",
                         temporary=True)
    engine.replace_table("_hw_usable_edges", f"""
        SELECT DISTINCT {edge_names} FROM cdp_staging.identity_edges WHERE rejected_reason IS NULL""", temporary=True)
    _number_new_nodes(engine)
    engine.replace_table("_hw_changed_edges", f"""
        (SELECT {edge_names} FROM _hw_usable_edges EXCEPT SELECT {edge_names} FROM {RESOLVED_EDGES})
        UNION ALL
        (SELECT {edge_names} FROM {RESOLVED_EDGES} EXCEPT SELECT {edge_names} FROM _hw_usable_edges)""",
                         temporary=True)
    _mark_changed_components(engine)
    engine.replace_table("_hw_nodes", """
        SELECT nodes.node, nodes.id_type, nodes.id_value FROM cdp_staging.identity_nodes AS nodes
        JOIN _hw_usable_nodes AS usable ON usable.id_type = nodes.id_type AND usable.id_value = nodes.id_value
        WHERE nodes.raw_component IS NULL
           OR nodes.raw_component IN (SELECT raw_component FROM _hw_changed_components)""", temporary=True)
    engine.replace_table("_hw_edges", """
        SELECT edges.*, anchor.node AS a, other.node AS b
        FROM _hw_usable_edges AS edges
        JOIN _hw_nodes AS anchor ON anchor.id_type = edges.anchor_type AND anchor.id_value = edges.anchor_value
        JOIN _hw_nodes AS other ON other.id_type = edges.id_type AND other.id_value = edges.id_value""",
                         temporary=True)
    recomputed, usable = engine.row_count("_hw_nodes"), engine.row_count("_hw_usable_nodes")
    log.info("identity: %d of %d identifiers in changed components recomputed (%d changed edges)",
             recomputed, usable, engine.row_count("_hw_changed_edges"))
    label_components(engine, "SELECT a, b FROM _hw_edges", "SELECT node FROM _hw_nodes")
    resolve_guards(engine, context.config.identity)
    _save_state(engine)
    engine.replace_table(model.target, f"SELECT id_type, id_value, component FROM {NODES}")
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


def _mark_changed_components(engine: Engine) -> None:
    """Raw components holding an end of a changed edge, or an identifier that is no longer usable."""
    engine.replace_table("_hw_changed_components", """
        SELECT DISTINCT nodes.raw_component
        FROM cdp_staging.identity_nodes AS nodes
        JOIN (SELECT anchor_type AS id_type, anchor_value AS id_value FROM _hw_changed_edges
              UNION SELECT id_type, id_value FROM _hw_changed_edges) AS ends
            ON ends.id_type = nodes.id_type AND ends.id_value = nodes.id_value
        WHERE nodes.raw_component IS NOT NULL
        UNION
        SELECT DISTINCT nodes.raw_component
        FROM cdp_staging.identity_nodes AS nodes
        WHERE nodes.raw_component IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM _hw_usable_nodes AS usable
                          WHERE usable.id_type = nodes.id_type AND usable.id_value = nodes.id_value)""",
                         temporary=True)


def _save_state(engine: Engine) -> None:
    """Recomputed nodes take their new components; vanished identifiers go; the edges become the baseline."""
    # a guard rejection lies inside one raw component: those of recomputed components are redone
    engine.run(f"""
        DELETE FROM {GUARD_REJECTIONS} WHERE EXISTS (
            SELECT 1 FROM cdp_staging.identity_nodes AS nodes
            WHERE nodes.id_type = {GUARD_REJECTIONS}.id_type AND nodes.id_value = {GUARD_REJECTIONS}.id_value
              AND nodes.raw_component IN (SELECT raw_component FROM _hw_changed_components))""")
    engine.run(f"INSERT INTO {GUARD_REJECTIONS} SELECT * FROM _hw_guard_rejections")
    engine.drop_table("_hw_guard_rejections")
    engine.replace_table(NODES, f"""
        SELECT nodes.node, nodes.id_type, nodes.id_value,
               COALESCE(labels.component, nodes.raw_component) AS raw_component,
               COALESCE(relabel.component, labels.component, nodes.component) AS component
        FROM {NODES} AS nodes
        JOIN _hw_usable_nodes AS usable ON usable.id_type = nodes.id_type AND usable.id_value = nodes.id_value
        LEFT JOIN _hw_labels AS labels ON labels.node = nodes.node
        LEFT JOIN _hw_relabel AS relabel ON relabel.node = nodes.node""")
    engine.replace_table(RESOLVED_EDGES, f"SELECT {', '.join(EDGE_COLUMNS)} FROM _hw_usable_edges")
