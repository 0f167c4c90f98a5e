/* ---
description: >
  Identifier pairs seen together on one raw row: each identifier of the row is linked to
  the row's strongest usable identifier (its anchor), and each weaker one also to the row's
  second strongest, so that a row whose anchor joins nobody (a household email isolated as
  shared) still ties its other identifiers together (a Mailchimp member's id, email id and
  phone). Edges to a rejected identifier are kept with the reason, so identity_rejections can
  show them; the graph uses only the others.
materialized: runner
runner: models.staging.row_batches:write_row_batch
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table
  row_id: the raw row's id
  seen_at: when the row happened
  anchor_type: type of the row's strongest (or second strongest) usable identifier (empty when the row has none)
  anchor_value: its normalized value
  id_type: type of the other identifier
  id_value: its normalized value (raw value when it was rejected)
  priority: the edge's rank, that of its weaker identifier; weaker edges are dropped first on a limit
  anchor_priority: the rank of its stronger identifier; between edges of equal priority, the one with the stronger anchor is kept
  rejected_reason: empty when usable; why the identifier cannot match otherwise
  rejected_detail: the blocklist pattern that matched, for blocked_value
  refreshed_at: when a build last wrote this row (rows written since a model last ran are the ones it redoes)
--- */
WITH ranked AS (
    SELECT source, source_table, row_id, seen_at, id_type, id_value, priority,
           ROW_NUMBER() OVER (PARTITION BY source, source_table, row_id ORDER BY priority, id_value) AS strength
    FROM (SELECT DISTINCT source, source_table, row_id, seen_at, id_type, id_value, priority
          FROM cdp_staging.identifiers AS row_batch WHERE rejected_reason IS NULL) AS usable
),
anchors AS (
    SELECT source, source_table, row_id, id_type, id_value, priority FROM ranked WHERE strength = 1
)
SELECT row_batch.source, row_batch.source_table, row_batch.row_id, row_batch.seen_at,
       anchors.id_type AS anchor_type, anchors.id_value AS anchor_value,
       row_batch.id_type, COALESCE(row_batch.id_value, row_batch.raw_value) AS id_value,
       row_batch.priority, anchors.priority AS anchor_priority, row_batch.rejected_reason,
       row_batch.rejected_detail
FROM cdp_staging.identifiers AS row_batch
LEFT JOIN anchors
    ON anchors.source = row_batch.source AND anchors.source_table = row_batch.source_table
   AND anchors.row_id = row_batch.row_id
WHERE row_batch.rejected_reason IS NOT NULL
   OR (anchors.id_type IS NOT NULL
       AND NOT (anchors.id_type = row_batch.id_type AND anchors.id_value = row_batch.id_value))
UNION ALL
SELECT weaker.source, weaker.source_table, weaker.row_id, weaker.seen_at,
       second.id_type AS anchor_type, second.id_value AS anchor_value, weaker.id_type, weaker.id_value,
       weaker.priority, second.priority AS anchor_priority, CAST(NULL AS VARCHAR) AS rejected_reason,
       CAST(NULL AS VARCHAR) AS rejected_detail
FROM ranked AS weaker
JOIN ranked AS second
    ON second.source = weaker.source AND second.source_table = weaker.source_table AND second.row_id = weaker.row_id
   AND second.strength = 2
WHERE weaker.strength > 2
