/* ---
description: >
  Every identifier link that was not used to join people, with the reason: a blocked
  placeholder value (blocked_value, with the pattern), a value that cannot be normalized
  (invalid_phone), a guard (limit_exceeded, max_component_size) refusing a merge, or an identifier
  shared by people (shared_identifier: its link broke a limit, so it joins nobody).
depends_on: [cdp_staging.identity_components]
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table
  row_id: the raw row's id
  seen_at: when the row happened
  id_type: type of the identifier that was not linked
  id_value: its value (normalized when it could be)
  other_id_type: type of the identifier it would have been linked to (empty when the row had none)
  other_id_value: that identifier's value
  reason: blocked_value, invalid_phone, limit_exceeded, max_component_size or shared_identifier
  detail: the pattern that matched, or the limit that would have been broken
--- */
SELECT source, source_table, row_id, seen_at, id_type, id_value, anchor_type AS other_id_type,
       anchor_value AS other_id_value, rejected_reason AS reason, rejected_detail AS detail
FROM cdp_staging.identity_edges
WHERE rejected_reason IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, id_type, id_value, anchor_type AS other_id_type,
       anchor_value AS other_id_value, reason, detail
FROM cdp_staging.identity_guard_rejections
